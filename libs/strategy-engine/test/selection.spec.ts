import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  computeFactor,
  selectPicks,
  type ConditionNode,
  type FactorId,
  type MarketData,
  type StrategyDefinition,
} from '../src/index.js';
import { CompiledStrategy } from '../src/engine/selection.js';
import { newDefinition } from './fixtures.js';
import { prng, syntheticMarket } from './synthetic.js';

/**
 * The selection rules written the plain way: filter every stock, sort by (value desc or asc,
 * stock index asc), take maxPositions. CompiledStrategy.select ranks first and filters few
 * stocks; it must return exactly this.
 */
const factorCache = new WeakMap<MarketData, Map<FactorId, Float64Array>>();

function referenceSelect(def: StrategyDefinition, data: MarketData, d: number): { idx: number[]; score: number[] } {
  const S = data.codes.length;
  let cache = factorCache.get(data);
  if (!cache) {
    cache = new Map();
    factorCache.set(data, cache);
  }
  const value = (id: FactorId, s: number): number => {
    let v = cache?.get(id);
    if (!v) {
      v = computeFactor(data, id).values;
      cache?.set(id, v);
    }
    return v[d * S + s];
  };
  const holds = (node: ConditionNode, s: number): boolean => {
    if ('and' in node) {
      return node.and.every((c) => holds(c, s));
    }
    if ('or' in node) {
      return node.or.some((c) => holds(c, s));
    }
    const x = value(node.factor, s);
    if (node.op === 'between') {
      return x >= node.min && x <= node.max;
    }
    const y = 'otherFactor' in node ? value(node.otherFactor, s) : node.value;
    switch (node.op) {
      case '<':
        return x < y;
      case '<=':
        return x <= y;
      case '>':
        return x > y;
      case '>=':
        return x >= y;
      case '==':
        return x === y;
      case '!=':
        return !Number.isNaN(x) && !Number.isNaN(y) && x !== y;
    }
  };
  const u = def.universe;
  const candidates: { s: number; v: number }[] = [];
  for (let s = 0; s < S; s++) {
    const i = d * S + s;
    const inUniverse =
      u.scope === 'all' ||
      (u.scope === 'markets' && (u.markets ?? []).includes(data.stocks[s].market)) ||
      (u.scope === 'codes' && (u.codes ?? []).includes(data.codes[s]));
    const ok =
      inUniverse &&
      data.close[i] > 0 &&
      (!(u.minMarketCap !== undefined && u.minMarketCap > 0) || data.marketCap[i] >= u.minMarketCap) &&
      (u.minAvgTradingValue === undefined || value('avg_trading_value_20d', s) >= u.minAvgTradingValue) &&
      (!def.buyConditions || holds(def.buyConditions, s));
    const v = value(def.ranking.factor, s);
    if (ok && !Number.isNaN(v)) {
      candidates.push({ s, v });
    }
  }
  const sign = def.ranking.order === 'desc' ? 1 : -1;
  candidates.sort((a, b) => b.v * sign - a.v * sign || a.s - b.s);
  const top = candidates.slice(0, def.maxPositions);
  return { idx: top.map((c) => c.s), score: top.map((c) => c.v) };
}

/** A market whose closes are rounded to 500s: many ties in close, market cap and momentum. */
function tiedMarket(): MarketData {
  const data = syntheticMarket({ days: 160, stocks: 70, seed: 11, gaps: true });
  const close = data.close.map((c) => Math.max(500, Math.round(c / 500) * 500));
  return { ...data, close, marketCap: close.map((c) => c * 1e5) };
}

const FACTORS = ['mom_1m', 'mom_3m', 'close', 'market_cap', 'rsi_14', 'per', 'sma_ratio_20', 'volatility_20d'] as const;

function randomDefinition(seed: number, data: MarketData): StrategyDefinition {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const leaf = (): ConditionNode => {
    const x = r();
    if (x < 0.15) {
      return { factor: pick(FACTORS), op: pick(['<', '>', '>='] as const), otherFactor: pick(FACTORS) };
    }
    if (x < 0.3) {
      return { factor: pick(FACTORS), op: 'between', min: -10 + r() * 20, max: 10 + r() * 100 };
    }
    return {
      factor: pick(FACTORS),
      op: pick(['<', '<=', '>', '>=', '!=', '=='] as const),
      value: pick([0, 1, 30, 50, 1000, 5000, -5]),
    };
  };
  const conditions: (ConditionNode | undefined)[] = [
    undefined,
    leaf(),
    { and: [leaf(), leaf()] },
    { and: [leaf(), { or: [leaf(), { and: [leaf(), leaf()] }] }] },
    { or: [leaf(), leaf()] },
  ];
  const scope = r();
  return newDefinition({
    universe:
      scope < 0.4
        ? { scope: 'all', ...(r() < 0.5 ? { minMarketCap: 1e8 + r() * 1e9 } : {}) }
        : scope < 0.7
          ? { scope: 'markets', markets: ['KOSPI'], minAvgTradingValue: r() * 1e9 }
          : { scope: 'codes', codes: data.codes.filter(() => r() < 0.6) },
    buyConditions: pick(conditions),
    ranking: { factor: pick(FACTORS), order: pick(['asc', 'desc'] as const) },
    maxPositions: 1 + Math.floor(r() * 25),
  });
}

function assertSame(def: StrategyDefinition, data: MarketData, d: number, n: number, cs: CompiledStrategy): void {
  const ref = referenceSelect(def, data, d);
  const label = `${JSON.stringify(def.ranking)} K=${def.maxPositions} day ${d}`;
  assert.deepEqual(Array.from(cs.pickIdx.subarray(0, n)), ref.idx, label);
  // -0 and +0 are the same score; strict deepEqual would tell them apart.
  assert.ok(
    ref.score.every((v, j) => v === cs.pickScore[j]),
    label,
  );
}

describe('selection', () => {
  for (const [name, data] of [
    ['random walk with gaps', syntheticMarket({ days: 160, stocks: 90, seed: 5, gaps: true })],
    ['rounded prices (ties)', tiedMarket()],
  ] as const) {
    it(`equals filtering every stock and then ranking, over consecutive calls (${name})`, () => {
      const D = data.dates.length;
      const days = Int32Array.from({ length: D }, (_, i) => i);
      let picks = 0;
      for (let seed = 1; seed <= 40; seed++) {
        const def = randomDefinition(seed, data);
        // One object over many days, as in a backtest: each call starts from the last picks.
        const cs = new CompiledStrategy(def, data, days, new Int32Array(0));
        for (let d = 0; d < D; d += 1 + (seed % 3)) {
          const n = cs.select(d);
          picks += n;
          assertSame(def, data, d, n, cs);
        }
        const sel = selectPicks(def, data, D - 1);
        assert.deepEqual(
          sel.picks.map((p) => p.stockIndex),
          referenceSelect(def, data, D - 1).idx,
        );
      }
      assert.ok(picks > 1000, `the definitions pick stocks (${picks})`);
    });
  }

  it('is exact when the buy conditions reject the top of the ranking', () => {
    // Ranked by 3-month momentum, best first, but only stocks whose momentum is negative:
    // every stock that beats the threshold fails the filter until the ranking's lower half.
    const data = syntheticMarket({ days: 200, stocks: 150, seed: 9, gaps: true });
    const def = newDefinition({
      buyConditions: {
        and: [
          { factor: 'mom_3m', op: '<', value: 0 },
          { factor: 'mom_1m', op: '>', value: -5 },
        ],
      },
      ranking: { factor: 'mom_3m', order: 'desc' },
      maxPositions: 7,
    });
    const days = Int32Array.from({ length: 200 }, (_, i) => i);
    const cs = new CompiledStrategy(def, data, days, new Int32Array(0));
    let picks = 0;
    for (let d = 0; d < 200; d++) {
      const n = cs.select(d);
      picks += n;
      assertSame(def, data, d, n, cs);
    }
    assert.ok(picks > 500);
  });

  it('picks nothing before the ranking factor has history', () => {
    const data = syntheticMarket({ days: 80, stocks: 10, seed: 3 });
    const def = newDefinition({ ranking: { factor: 'mom_3m', order: 'desc' }, maxPositions: 3 });
    assert.equal(selectPicks(def, data, 62).picks.length, 0);
    assert.equal(selectPicks(def, data, 63).picks.length, 3);
  });
});
