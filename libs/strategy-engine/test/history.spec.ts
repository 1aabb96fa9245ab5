import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  computeFactor,
  FACTOR_IDS,
  getFactorInfo,
  historyDaysOf,
  HISTORY_MARGIN_DAYS,
  selectPicks,
  StrategyDecider,
  type FactorId,
  type Holding,
  type MarketData,
  type StrategyDefinition,
  advanceRsi,
  newRsiState,
  type PriceColumn,
} from '../src/index.js';
import { newDefinition } from './fixtures.js';
import { syntheticMarket } from './synthetic.js';

/** The latest `days` days of a market, as a trading replica loads them (with seeds unless told not to). */
function latestDays(data: MarketData, days: number, seeded = true): MarketData {
  const D = data.dates.length;
  const S = data.codes.length;
  const first = Math.max(0, D - days);
  const cut = <T extends PriceColumn>(a: T): T => a.slice(first * S) as T;
  const rsi = newRsiState(S);
  advanceRsi(rsi, data.close.subarray(0, first * S), first);
  return {
    ...(seeded ? { seeds: { rsi_14: rsi } } : {}),
    ...data,
    dates: data.dates.slice(first),
    open: cut(data.open),
    high: cut(data.high),
    low: cut(data.low),
    close: cut(data.close),
    volume: cut(data.volume),
    tradingValue: cut(data.tradingValue),
    marketCap: cut(data.marketCap),
  };
}

const rankedBy = (factor: FactorId): StrategyDefinition =>
  newDefinition({ universe: { scope: 'all' }, ranking: { factor, order: 'desc' }, maxPositions: 5 });

/**
 * Live decisions on a window of the latest days (what a trading replica loads) are the decisions
 * on the whole history (what a backtest sees): every factor has on the last day exactly the value
 * the whole history gives it, to the bit; RSI's recursion continues from the window's seed.
 */
describe('history a strategy needs (historyDaysOf)', () => {
  const full = syntheticMarket({ days: 2000, stocks: 60, seed: 77, gaps: true });
  const D = full.dates.length;
  const S = full.codes.length;

  it('is the longest lookback of the factors used plus a margin', () => {
    assert.equal(historyDaysOf(rankedBy('mom_12m')), 252 + 1 + HISTORY_MARGIN_DAYS);
    assert.equal(historyDaysOf(rankedBy('per')), 1 + HISTORY_MARGIN_DAYS);
    const withRsiSell = newDefinition({
      ranking: { factor: 'mom_1m', order: 'desc' },
      sell: { conditions: { factor: 'rsi_14', op: '>', value: 70 } },
    });
    assert.equal(historyDaysOf(withRsiSell), 21 + 1 + HISTORY_MARGIN_DAYS);
    const atvFloor = newDefinition({
      universe: { scope: 'all', minAvgTradingValue: 1e8 },
      ranking: { factor: 'close', order: 'desc' },
    });
    assert.equal(
      historyDaysOf(atvFloor),
      getFactorInfo('avg_trading_value_20d').lookbackDays + 1 + HISTORY_MARGIN_DAYS,
    );
  });

  for (const id of FACTOR_IDS) {
    it(`${id}: the last day's value on the window is the whole history's, bit for bit`, () => {
      const window = latestDays(full, historyDaysOf(rankedBy(id)));
      const W = window.dates.length;
      const onFull = computeFactor(full, id, [D - 1]);
      const onWindow = computeFactor(window, id, [W - 1]);
      let present = 0;
      for (let s = 0; s < S; s++) {
        const a = onFull.values[onFull.rowOf[D - 1] * S + s];
        const b = onWindow.values[onWindow.rowOf[W - 1] * S + s];
        if (!Object.is(a, b)) {
          assert.fail(`${id} of stock ${s}: ${b} on the window, ${a} on the whole history`);
        }
        present += Number(!Number.isNaN(a));
      }
      assert.ok(present > S / 2, `${id}: only ${present} stocks with a value`);
    });
  }

  it('RSI on a window without its seed differs: the seed is needed', () => {
    const short = latestDays(full, historyDaysOf(rankedBy('rsi_14')), false);
    const W = short.dates.length;
    const onFull = computeFactor(full, 'rsi_14', [D - 1]);
    const onShort = computeFactor(short, 'rsi_14', [W - 1]);
    const differing = Array.from({ length: S }, (_, s) => s).filter(
      (s) => !Object.is(onFull.values[onFull.rowOf[D - 1] * S + s], onShort.values[onShort.rowOf[W - 1] * S + s]),
    );
    assert.ok(differing.length > S / 2, `only ${differing.length} differ`);
  });

  it('decides the same orders on the window, holdings bought before it included (negative entry days)', () => {
    const def = newDefinition({
      universe: { scope: 'all' },
      buyConditions: { factor: 'rsi_14', op: '<', value: 60 },
      ranking: { factor: 'volatility_60d', order: 'asc' },
      maxPositions: 6,
      rebalance: 'monthly',
      sell: { maxHoldingDays: 700, conditions: { factor: 'sma_ratio_20', op: '>', value: 1.05 }, stopLossPct: 12 },
    });
    const days = historyDaysOf(def);
    const window = latestDays(full, days);
    const offset = D - window.dates.length;
    const t = D - 1;
    // held since 800, 650 and 30 days ago: the first two before the window, one past its maximum age
    const holdings = (shift: number): Holding[] =>
      [800, 650, 30].map((age, k) => ({
        stock: k * 7,
        quantity: 100,
        entryDay: t - age - shift,
        entryPrice: 10_000,
        entryCost: 1_000_000,
        pendingSell: null,
      }));
    const decide = (data: MarketData, shift: number) =>
      new StrategyDecider(def, data, [t - shift], [t - shift]).decide(
        t - shift,
        { cash: 50_000_000, holdings: holdings(shift), wanted: [] },
        { rebalance: true },
      );
    const onFull = decide(full, 0);
    const onWindow = decide(window, offset);
    assert.ok(onFull.orders.length > 0);
    assert.deepEqual(onWindow.orders, onFull.orders);
    assert.deepEqual(onWindow.wanted, onFull.wanted);
    assert.ok(onFull.orders.some((o) => o.reason === 'max_holding'));
    assert.deepEqual(
      selectPicks(def, window, t - offset).picks.map((p) => [p.code, p.weight]),
      selectPicks(def, full, t).picks.map((p) => [p.code, p.weight]),
    );
  });
});
