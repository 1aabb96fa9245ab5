import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  computeFactor,
  FACTOR_IDS,
  runBacktest,
  selectPicks,
  type MarketData,
  type PriceColumn,
  type StrategyDefinition,
} from '../src/index.js';
import { newDefinition } from './fixtures.js';
import { prng, syntheticMarket } from './synthetic.js';

function randomDefinition(seed: number): StrategyDefinition {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  return newDefinition({
    universe: r() < 0.5 ? { scope: 'all', minAvgTradingValue: 1e6 } : { scope: 'markets', markets: ['KOSPI'] },
    buyConditions: {
      or: [
        { factor: 'rsi_14', op: '<', value: 30 + r() * 50 },
        {
          and: [
            { factor: 'mom_1m', op: '>', value: -5 },
            { factor: 'per', op: 'between', min: 0, max: 30 },
          ],
        },
      ],
    },
    ranking: {
      factor: pick(['mom_3m', 'volatility_20d', 'pbr', 'sma_ratio_20'] as const),
      order: pick(['asc', 'desc'] as const),
    },
    maxPositions: 1 + Math.floor(r() * 15),
    weighting: r() < 0.5 ? { method: 'equal' } : { method: 'equal', maxWeightPerStock: 0.05 + r() * 0.5 },
    rebalance: pick(['daily', 'weekly', 'monthly', 'quarterly'] as const),
    sell: {
      ...(r() < 0.7 ? { stopLossPct: 3 + r() * 10 } : {}),
      ...(r() < 0.7 ? { takeProfitPct: 3 + r() * 20 } : {}),
      ...(r() < 0.5 ? { minHoldingDays: Math.floor(r() * 5) } : {}),
      ...(r() < 0.5 ? { maxHoldingDays: 5 + Math.floor(r() * 40) } : {}),
      ...(r() < 0.5 ? { conditions: { factor: 'sma_ratio_5', op: '<', value: 0.97 } } : {}),
    },
    costs: { commissionBps: r() * 30, sellTaxBps: r() * 30, slippageBps: r() * 50 },
    initialCapital: 1e6 + Math.floor(r() * 1e8),
  });
}

describe('runBacktest properties', () => {
  const data = syntheticMarket({ days: 500, stocks: 60, seed: 7, gaps: true });
  const range = { from: data.dates[0], to: data.dates[499] };

  it('keeps cash >= 0 and cash + holdings (rebuilt from the trade list) == equity every day', () => {
    const S = data.codes.length;
    let totalTrades = 0;
    for (let seed = 1; seed <= 25; seed++) {
      const def = randomDefinition(seed);
      const r = runBacktest(def, data, range);
      const codeIndex = new Map(data.codes.map((c, i) => [c, i]));
      const qty = new Float64Array(S);
      const last = new Float64Array(S);
      let cash = def.initialCapital;
      let t = 0;
      totalTrades += r.trades.length;
      r.equityCurve.dates.forEach((date, k) => {
        const d = k; // range starts at day 0
        for (; t < r.trades.length && r.trades[t]?.date === date; t++) {
          const tr = r.trades[t];
          const s = codeIndex.get(tr.code) as number;
          if (tr.side === 'buy') {
            qty[s] = qty[s] + tr.quantity;
            cash -= tr.amount + tr.commission;
          } else {
            assert.equal(tr.quantity, qty[s], 'a sell closes the whole position');
            qty[s] = 0;
            cash += tr.amount - tr.commission - tr.tax;
          }
        }
        let holdings = 0;
        for (let s = 0; s < S; s++) {
          const c = data.close[d * S + s];
          if (c > 0) {
            last[s] = c;
          }
          holdings += qty[s] * last[s];
          assert.ok(Number.isInteger(qty[s]), 'whole shares');
        }
        const value = r.equityCurve.value[k];
        assert.ok(r.equityCurve.cash[k] >= 0, `seed ${seed} day ${k}: negative cash`);
        assert.ok(Math.abs(cash - r.equityCurve.cash[k]) <= 1e-6 * def.initialCapital, `seed ${seed} day ${k}: cash`);
        assert.ok(
          Math.abs(holdings - r.equityCurve.invested[k]) <= 1e-6 * def.initialCapital,
          `seed ${seed} day ${k}: holdings`,
        );
        assert.ok(Math.abs(cash + holdings - value) <= 1e-6 * def.initialCapital, `seed ${seed} day ${k}: equity`);
        const positions = qty.reduce((n, q) => n + (q > 0 ? 1 : 0), 0);
        assert.ok(positions <= def.maxPositions);
      });
      assert.equal(t, r.trades.length, 'every trade falls on a curve date');
    }
    assert.ok(totalTrades > 500, `the random strategies trade (${totalTrades})`);
  });

  it('is deterministic: two runs give byte-identical JSON', () => {
    for (let seed = 30; seed < 35; seed++) {
      const def = randomDefinition(seed);
      const a = JSON.stringify(runBacktest(def, data, range));
      const b = JSON.stringify(runBacktest(structuredClone(def), data, range));
      assert.equal(a, b);
      assert.ok(!a.includes('NaN'));
    }
  });

  it('decides the same on prices held as float32s (whole KRW, as a snapshot holds them): every factor, every backtest', () => {
    const whole = (column: PriceColumn): Float64Array => column.map((v) => Math.round(v)) as Float64Array;
    const wide: MarketData = {
      ...data,
      open: whole(data.open),
      high: whole(data.high),
      low: whole(data.low),
      close: whole(data.close),
    };
    const narrowed = (m: MarketData): MarketData => ({
      ...m,
      open: Float32Array.from(m.open),
      high: Float32Array.from(m.high),
      low: Float32Array.from(m.low),
      close: Float32Array.from(m.close),
    });
    // with an event, back-adjusted prices (a 1:3 split) are no longer whole: the engine must compute
    // them as float64s; without one, the factors read the float32 columns themselves
    const split: MarketData = {
      ...wide,
      corporateActions: [{ stock: 3, exDate: data.dates[200], kind: 'split', priceFactor: 3, shareRatio: 3 }],
    };
    for (const market of [wide, split]) {
      const narrow = narrowed(market);
      for (const id of FACTOR_IDS) {
        const a = computeFactor(market, id).values;
        const b = computeFactor(narrow, id).values;
        assert.equal(a.length, b.length);
        for (let i = 0; i < a.length; i++) {
          if (!Object.is(a[i], b[i])) {
            assert.fail(`${id}[${i}]: ${b[i]} on float32s, ${a[i]} on float64s`);
          }
        }
      }
      for (let seed = 40; seed < 46; seed++) {
        const def = randomDefinition(seed);
        assert.equal(JSON.stringify(runBacktest(def, narrow, range)), JSON.stringify(runBacktest(def, market, range)));
      }
    }
  });

  it('selectPicks returns what the backtest buys after a rebalance', () => {
    const def = newDefinition({
      ranking: { factor: 'mom_3m', order: 'desc' },
      maxPositions: 5,
      rebalance: 'monthly',
      initialCapital: 1e9,
    });
    const r = runBacktest(def, data, range);
    const firstDay = 0;
    const sel = selectPicks(def, data, firstDay + 100);
    assert.ok(sel.picks.length > 0);
    assert.ok(
      sel.picks.every((p, i) => i === 0 || sel.picks[i - 1]?.score >= p.score),
      'ranked best first',
    );
    assert.ok(sel.picks.every((p) => p.weight === 1 / sel.picks.length));
    const init = selectPicks(def, data, firstDay);
    // mom_3m needs 63 days of history: no picks on day 0, so the first buys follow a later rebalance.
    assert.equal(init.picks.length, 0);
    const firstBuyDate = r.trades[0]?.date;
    const buyDay = data.dates.indexOf(firstBuyDate);
    const expected = selectPicks(def, data, buyDay - 1).picks.map((p) => p.code);
    const bought = r.trades.filter((t) => t.date === firstBuyDate && t.side === 'buy').map((t) => t.code);
    assert.deepEqual(bought, expected);
  });
});
