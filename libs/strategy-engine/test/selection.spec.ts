import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  buildMarketData,
  computeFactor,
  selectPicks,
  universeCandidates,
  type ConditionNode,
  type FactorId,
  type Market,
  type MarketData,
  type RankingDefinition,
  type StockInfo,
  type StrategyDefinition,
  type PriceColumn,
} from '../src/index.js';
import { CompiledStrategy } from '../src/engine/selection.js';
import { newDefinition } from './fixtures.js';
import { prng, syntheticMarket } from './synthetic.js';

/**
 * The selection rules written the plain way: filter every stock, sort by (value desc or asc,
 * stock index asc), take maxPositions. CompiledStrategy.select ranks first and filters few
 * stocks; it must return exactly this.
 */
const factorCache = new WeakMap<MarketData, Map<FactorId, PriceColumn>>();

/**
 * The corporate-action rule for factors, written per bar (the engine applies it per event):
 * a bar dated before an event's ex-date has its open, high, low and close divided by the event's
 * priceFactor and its volume multiplied by it, for each such event of its stock from the latest
 * back; trading value and market cap as they are. The result has no events left to apply.
 */
function referenceAdjusted(data: MarketData): MarketData {
  const events = data.corporateActions ?? [];
  if (events.length === 0) {
    return data;
  }
  const S = data.codes.length;
  const out: MarketData = {
    ...data,
    open: data.open.slice(),
    high: data.high.slice(),
    low: data.low.slice(),
    close: data.close.slice(),
    volume: data.volume.slice(),
    corporateActions: undefined,
  };
  for (let d = 0; d < data.dates.length; d++) {
    for (let s = 0; s < S; s++) {
      const later = events.filter((e) => e.stock === s && e.exDate > data.dates[d]).reverse();
      const i = d * S + s;
      for (const e of later) {
        out.open[i] /= e.priceFactor;
        out.high[i] /= e.priceFactor;
        out.low[i] /= e.priceFactor;
        out.close[i] /= e.priceFactor;
        out.volume[i] *= e.priceFactor;
      }
    }
  }
  return out;
}

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
      v = computeFactor(referenceAdjusted(data), id).values;
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
  const date = data.dates[d];
  // point in time: the market and sector of the latest history entry dated on or before the day,
  // the first entry before any, the securities row without a history; out from the delisting date
  const classOf = (s: number): { market: string; sector: string } => {
    const history = data.stocks[s].history ?? [];
    const known = history.filter((h) => h.from <= date);
    return known.at(-1) ?? history[0] ?? data.stocks[s];
  };
  const inUniverseToday = (s: number): boolean => {
    const i = d * S + s;
    const delistedOn = data.stocks[s].delistedOn;
    const inScope =
      u.scope === 'all' ||
      (u.scope === 'markets' && (u.markets ?? []).includes(classOf(s).market as Market)) ||
      (u.scope === 'sectors' && (u.sectors ?? []).includes(classOf(s).sector)) ||
      (u.scope === 'codes' && (u.codes ?? []).includes(data.codes[s]));
    return (
      inScope &&
      (delistedOn === undefined || date < delistedOn) &&
      data.close[i] > 0 &&
      (!(u.minMarketCap !== undefined && u.minMarketCap > 0) || data.marketCap[i] >= u.minMarketCap) &&
      (u.minAvgTradingValue === undefined || value('avg_trading_value_20d', s) >= u.minAvgTradingValue)
    );
  };
  const ranking = def.ranking;
  // a composite score, the plain way: per term, count the universe's values below / not above
  const scores = new Float64Array(S).fill(NaN);
  if ('score' in ranking) {
    const members = Array.from({ length: S }, (_, s) => s).filter(inUniverseToday);
    const acc = new Map<number, number>();
    for (const term of ranking.score) {
      const sign = term.order === 'desc' ? 1 : -1;
      const keys = members.map((s) => value(term.factor, s) * sign + 0).filter((k) => !Number.isNaN(k));
      for (const s of members) {
        const key = value(term.factor, s) * sign + 0;
        if (!Number.isNaN(key)) {
          const below = keys.filter((k) => k < key).length;
          const atOrBelow = keys.filter((k) => k <= key).length;
          acc.set(s, (acc.get(s) ?? 0) + term.weight * ((below + 1 + atOrBelow) / 2 / keys.length));
        }
      }
    }
    let total = 0;
    for (const term of ranking.score) {
      total += term.weight;
    }
    for (const [s, a] of acc) {
      scores[s] = (a / total) * 100;
    }
  }
  const candidates: { s: number; v: number }[] = [];
  for (let s = 0; s < S; s++) {
    const ok = inUniverseToday(s) && (!def.buyConditions || holds(def.buyConditions, s));
    const v = 'score' in ranking ? scores[s] : value(ranking.factor, s);
    if (ok && !Number.isNaN(v)) {
      candidates.push({ s, v });
    }
  }
  const sign = 'score' in ranking || ranking.order === 'desc' ? 1 : -1;
  candidates.sort((a, b) => b.v * sign - a.v * sign || a.s - b.s);
  const top = candidates.slice(0, def.maxPositions);
  return { idx: top.map((c) => c.s), score: top.map((c) => c.v) };
}

/** A market whose closes are rounded to 500s: many ties in close, market cap and momentum. */
function tiedMarket(): MarketData {
  const data = syntheticMarket({ days: 160, stocks: 70, seed: 11, gaps: true });
  const close = data.close.map((c) => Math.max(500, Math.round(c / 500) * 500));
  return { ...data, close, marketCap: Float64Array.from(close, (c) => c * 1e5) };
}

/**
 * Every 4th stock moves between KOSDAQ and KOSPI (and to another sector) on a day of the data,
 * every 7th is recorded as delisted on a day while it still has bars (the universe drops it from
 * that date whatever its bars say), every 11th has a history that starts after the first day.
 */
function movingMarket(): MarketData {
  const data = syntheticMarket({ days: 160, stocks: 90, seed: 13, gaps: true });
  const day = (k: number): number => data.dates[k % data.dates.length];
  const stocks = data.stocks.map((info, s): StockInfo => {
    const moved: StockInfo = { ...info };
    if (s % 4 === 0) {
      moved.history = [
        { from: day(0), market: 'KOSDAQ', sector: `S${s % 5}` },
        { from: day(20 + s), market: 'KOSPI', sector: `S${(s + 1) % 5}` },
      ];
    } else if (s % 11 === 0) {
      moved.history = [{ from: day(40 + s), market: info.market === 'KOSPI' ? 'KOSDAQ' : 'KOSPI', sector: 'S1' }];
    }
    if (s % 7 === 0) {
      moved.delistedOn = day(30 + 3 * s);
    }
    return moved;
  });
  return { ...data, stocks };
}

const FACTORS = [
  'mom_1m',
  'mom_3m',
  'close',
  'market_cap',
  'rsi_14',
  'per',
  'sma_ratio_20',
  'volatility_20d',
  'mom_1w',
  'trading_value',
  'earnings_yield',
  'stoch_k_14',
  'avg_trading_value_20d',
  'ev_ebitda',
  'dividend_yield',
  'net_income_growth_yoy',
  'eps_growth_qoq',
] as const;

/** A composite score of 1..4 distinct factors; integer weights half the time (ties in the score). */
function randomScore(r: () => number): RankingDefinition {
  const n = 1 + Math.floor(r() * 4);
  const factors = [...FACTORS].sort(() => r() - 0.5).slice(0, n);
  const integer = r() < 0.5;
  return {
    score: factors.map((factor) => ({
      factor,
      order: r() < 0.5 ? 'asc' : 'desc',
      weight: integer ? 1 + Math.floor(r() * 3) : 0.1 + r() * 5,
    })),
  };
}

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
          : scope < 0.8
            ? { scope: 'sectors', sectors: ['S1', 'S2', 'S3', 'S4'] }
            : { scope: 'codes', codes: data.codes.filter(() => r() < 0.6) },
    buyConditions: pick(conditions),
    ranking: r() < 0.4 ? randomScore(r) : { factor: pick(FACTORS), order: pick(['asc', 'desc'] as const) },
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
    ['market transfers, sector changes and delistings', movingMarket()],
  ] as const) {
    it(`equals filtering every stock and then ranking, over consecutive calls (${name})`, () => {
      const D = data.dates.length;
      const days = Int32Array.from({ length: D }, (_, i) => i);
      let picks = 0;
      let scored = 0;
      for (let seed = 1; seed <= 60; seed++) {
        const def = randomDefinition(seed, data);
        // One object over many days, as in a backtest: each call starts from the last picks.
        const cs = new CompiledStrategy(def, data, days, new Int32Array(0));
        for (let d = 0; d < D; d += 1 + (seed % 3)) {
          const n = cs.select(d);
          picks += n;
          scored += 'score' in def.ranking ? n : 0;
          assertSame(def, data, d, n, cs);
        }
        const sel = selectPicks(def, data, D - 1);
        assert.deepEqual(
          sel.picks.map((p) => p.stockIndex),
          referenceSelect(def, data, D - 1).idx,
        );
      }
      assert.ok(picks > 1000, `the definitions pick stocks (${picks})`);
      assert.ok(scored > 300, `the composite scores pick stocks (${scored})`);
    });
  }

  it('equals the reference on back-adjusted series when the data has corporate actions', () => {
    // splits, reverse splits, bonus and rights issues on random stocks and days; the raw prices
    // from each ex-date on are on the new basis, as KRX publishes them
    const base = syntheticMarket({ days: 160, stocks: 60, seed: 11, gaps: true });
    const r = prng(17);
    const S = base.codes.length;
    const data: MarketData = {
      ...base,
      open: base.open.slice(),
      high: base.high.slice(),
      low: base.low.slice(),
      close: base.close.slice(),
      volume: base.volume.slice(),
      corporateActions: [],
    };
    const factors = [50, 0.1, 1.5, 1.2, 2, 5];
    const events: NonNullable<MarketData['corporateActions']> = [];
    for (let s = 0; s < S; s += 2) {
      for (const day of [20 + Math.floor(r() * 60), 90 + Math.floor(r() * 60)]) {
        const f = factors[Math.floor(r() * factors.length)];
        events.push({ stock: s, exDate: base.dates[day], kind: 'split', priceFactor: f, shareRatio: f });
        for (let d = day; d < base.dates.length; d++) {
          const i = d * S + s;
          data.open[i] /= f;
          data.high[i] /= f;
          data.low[i] /= f;
          data.close[i] /= f;
          data.volume[i] *= f;
        }
      }
    }
    data.corporateActions = events.sort((a, b) => a.exDate - b.exDate || a.stock - b.stock);
    const D = data.dates.length;
    const days = Int32Array.from({ length: D }, (_, i) => i);
    let picks = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const def = randomDefinition(seed, data);
      const cs = new CompiledStrategy(def, data, days, new Int32Array(0));
      for (let d = 0; d < D; d += 1 + (seed % 3)) {
        const n = cs.select(d);
        picks += n;
        assertSame(def, data, d, n, cs);
      }
    }
    assert.ok(picks > 500, `the definitions pick stocks (${picks})`);
  });

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

  describe('composite score (ranking.score)', () => {
    // One day, five stocks; the universe is A..D (E, outside it, must not move the percentiles).
    //            close  trading value
    //   A         100        500
    //   B         200        300
    //   C         200        (none)
    //   D          50        900
    //   E         300        100     (not in the universe)
    // close, desc, weight 1: sorted 50 100 200 200 (4 values); percentile = (below + 1 + atOrBelow) / 2 / 4
    //   A (1 + 1 + 2) / 2 / 4 = 0.5   B = C (2 + 1 + 4) / 2 / 4 = 0.875   D (0 + 1 + 1) / 2 / 4 = 0.25
    // trading value, asc, weight 3: keys -tv sorted -900 -500 -300 (3 values, C has none: 0)
    //   A (1 + 1 + 2) / 2 / 3 = 2/3   B (2 + 1 + 3) / 2 / 3 = 1   C 0   D (0 + 1 + 1) / 2 / 3 = 1/3
    // score = (1 x close pct + 3 x tv pct) / 4 x 100:
    //   A (0.5 + 2) / 4 = 62.5   B (0.875 + 3) / 4 = 96.875   C 0.875 / 4 = 21.875   D (0.25 + 1) / 4 = 31.25
    const data = buildMarketData({
      rows: [
        ['A', 100, 500],
        ['B', 200, 300],
        ['C', 200, NaN],
        ['D', 50, 900],
        ['E', 300, 100],
      ].map(([code, close, tv]) => ({
        date: 20240102,
        code: code as string,
        open: close as number,
        high: close as number,
        low: close as number,
        close: close as number,
        volume: 10,
        tradingValue: tv as number,
        marketCap: (close as number) * 1e6,
      })),
    });
    const universe = { scope: 'codes' as const, codes: ['A', 'B', 'C', 'D'] };
    const ranking: RankingDefinition = {
      score: [
        { factor: 'close', order: 'desc', weight: 1 },
        { factor: 'trading_value', order: 'asc', weight: 3 },
      ],
    };
    const picked = (def: StrategyDefinition): [string, number][] =>
      selectPicks(def, data, 0).picks.map((p) => [p.code, p.score]);
    const near = (got: [string, number][], want: [string, number][]): void => {
      assert.deepEqual(
        got.map(([c]) => c),
        want.map(([c]) => c),
      );
      got.forEach(([, v], i) => assert.ok(Math.abs(v - want[i][1]) < 1e-12, `${got[i][0]}: ${v} vs ${want[i][1]}`));
    };

    it('ranks by the weighted mean of percentile ranks within the universe (hand-computed)', () => {
      near(picked(newDefinition({ universe, ranking, maxPositions: 5 })), [
        ['B', 96.875],
        ['A', 62.5],
        ['D', 31.25],
        ['C', 21.875],
      ]);
    });

    it('buy conditions only remove stocks: the scores stay those of the universe', () => {
      const def = newDefinition({
        universe,
        ranking,
        maxPositions: 5,
        buyConditions: { factor: 'close', op: '>', value: 60 },
      });
      near(picked(def), [
        ['B', 96.875],
        ['A', 62.5],
        ['C', 21.875],
      ]);
    });

    it('never picks a stock without a value for any factor of the score', () => {
      const def = newDefinition({
        universe,
        ranking: { score: [{ factor: 'trading_value', order: 'asc', weight: 1 }] },
        maxPositions: 5,
      });
      // -tv: -900 -500 -300 -> A 2/3, B 1, D 1/3 (x 100); C has none
      near(picked(def), [
        ['B', 100],
        ['A', 200 / 3],
        ['D', 100 / 3],
      ]);
    });

    it('the universe minimums bound the ranked population', () => {
      // market cap >= 1e8 leaves A, B, C (D's is 5e7): close 100 200 200 -> A 1/3, B = C 5/6
      const def = newDefinition({
        universe: { ...universe, minMarketCap: 1e8 },
        ranking: { score: [{ factor: 'close', order: 'desc', weight: 2 }] },
        maxPositions: 5,
      });
      near(picked(def), [
        ['B', 250 / 3],
        ['C', 250 / 3],
        ['A', 100 / 3],
      ]);
    });
  });

  it('picks nothing before the ranking factor has history', () => {
    const data = syntheticMarket({ days: 80, stocks: 10, seed: 3 });
    const def = newDefinition({ ranking: { factor: 'mom_3m', order: 'desc' }, maxPositions: 3 });
    assert.equal(selectPicks(def, data, 62).picks.length, 0);
    assert.equal(selectPicks(def, data, 63).picks.length, 3);
  });
});

describe('universe candidates (the preview of a universe and its buy conditions)', () => {
  it('are every stock the plain filter passes, whatever the ranking would cut', () => {
    const data = syntheticMarket({ days: 120, stocks: 600, seed: 23, gaps: true });
    const S = data.codes.length;
    let passed = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const def = randomDefinition(seed, data);
      const d = 20 + ((seed * 7) % 100);
      // the reference's filter with a ranking that every stock with a bar has, and no cut
      const plain = referenceSelect(
        { ...def, ranking: { factor: 'close', order: 'desc' }, maxPositions: S },
        data,
        d,
      ).idx.sort((a, b) => a - b);
      const got = Array.from(universeCandidates(def.universe, def.buyConditions, data, d));
      assert.deepEqual(got, plain, `seed ${seed} day ${d}`);
      passed += got.length;
    }
    assert.ok(passed > 1000, `the definitions pass stocks (${passed})`);
    assert.throws(() => universeCandidates({ scope: 'all' }, undefined, data, data.dates.length), RangeError);
  });
});
