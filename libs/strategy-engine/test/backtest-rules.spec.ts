import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { runBacktest, type Trade } from '../src/index.js';
import { flat, newDefinition, newMarket, type Bar } from './fixtures.js';

const ALL = { from: 20240101, to: 20241231 };
const approx = (actual: number, expected: number, eps = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= eps * Math.max(1, Math.abs(expected)), `${actual} != ${expected}`);
const sells = (trades: Trade[]): Trade[] => trades.filter((t) => t.side === 'sell');

describe('runBacktest rules', () => {
  it('fills a signal of day t at day t+1 open plus slippage, with commission, whole shares', () => {
    // Signal at the close of 01-02 (first day = rebalance day); the fill is 01-03's open 1000,
    // never 01-02's close 900. Slippage 50 bps -> 1005; commission 10 bps.
    const data = newMarket({ A: [[800, 950, 800, 900], [1000, 1000, 1000, 1000], flat(1000)] });
    const def = newDefinition({ costs: { commissionBps: 10, sellTaxBps: 0, slippageBps: 50 } });
    const r = runBacktest(def, data, ALL);
    const buy = r.trades[0];
    assert.equal(buy.date, 20240103);
    approx(buy.price, 1005);
    // qty = floor(1,000,000 / (1005 x 1.001)) = floor(994.0) = 994 (994 x 1005 x 1.001 = 999,999.97)
    assert.equal(buy.quantity, 994);
    approx(buy.amount, 994 * 1005);
    approx(buy.commission, 994 * 1005 * 0.001);
    approx(r.equityCurve.cash[1], 1_000_000 - 994 * 1005 * 1.001);
    assert.equal(r.equityCurve.value[0], 1_000_000, 'nothing trades on the signal day');
    approx(r.equityCurve.invested[1], 994 * 1000);
  });

  it('sells at the open minus slippage and charges commission and sell tax', () => {
    // A leads on day 0 (close 200 > 100), B leads from day 1; weekly rebalance -> next
    // rebalance is Monday 01-08 (index 4): sell A at 01-09's open.
    const data = newMarket({
      A: [flat(200), flat(100), flat(100), flat(100), flat(100), [120, 120, 120, 120], flat(120)],
      B: [flat(100), flat(150), flat(150), flat(150), flat(150), flat(150), flat(150)],
    });
    const def = newDefinition({ rebalance: 'weekly', costs: { commissionBps: 10, sellTaxBps: 20, slippageBps: 100 } });
    const r = runBacktest(def, data, ALL);
    const buyA = r.trades[0];
    assert.equal(buyA.code, 'A');
    assert.equal(buyA.price, 101); // open 100 x 1.01
    const q = Math.floor(1_000_000 / (101 * 1.001));
    assert.equal(buyA.quantity, q);
    const sellA = r.trades.find((t) => t.side === 'sell') as Trade;
    assert.equal(sellA.date, 20240109);
    assert.equal(sellA.reason, 'rebalance');
    approx(sellA.price, 118.8); // 120 x 0.99
    approx(sellA.commission, q * 118.8 * 0.001);
    approx(sellA.tax, q * 118.8 * 0.002);
    const cost = q * 101 * 1.001;
    approx(sellA.pnl as number, q * 118.8 * (1 - 0.003) - cost);
    assert.equal(sellA.holdingDays, 4);
    const buyB = r.trades.find((t) => t.side === 'buy' && t.code === 'B') as Trade;
    assert.equal(buyB.date, 20240109);
  });

  it('never lets cash go negative: a buy is scaled down to the cash there is', () => {
    // Two slots at 50 % of 1,000,000 = 500,000 each, but the price jumps 10x at the fill open:
    // the first buy (rank 1) takes what fits, the second is limited by the remaining cash.
    const data = newMarket({
      A: [flat(300), [3000, 3000, 3000, 3000], flat(3000)],
      B: [flat(200), flat(200), flat(200)],
    });
    const def = newDefinition({ maxPositions: 2 });
    const r = runBacktest(def, data, ALL);
    const [a, b] = r.trades as [Trade, Trade];
    assert.equal(a.code, 'A');
    assert.equal(a.quantity, 166); // floor(500,000 / 3000)
    assert.equal(b.code, 'B');
    assert.equal(b.quantity, 2500); // floor(min(500,000, 502,000) / 200)
    assert.equal(r.equityCurve.cash[1], 1_000_000 - 166 * 3000 - 2500 * 200);
    const tiny = runBacktest(
      newDefinition({ initialCapital: 250 }),
      newMarket({ A: [flat(300), flat(300), flat(300)] }),
      ALL,
    );
    assert.equal(tiny.trades.length, 0, 'not even one share fits: no buy');
    assert.ok(tiny.equityCurve.cash.every((c) => c === 250));
  });

  it('fills the stop loss before the take profit when one day crosses both', () => {
    // Entry 1000; stop 10 % -> 900, target 10 % -> 1100; day 2 range 850..1150 crosses both.
    const data = newMarket({ A: [flat(1000), flat(1000), [1000, 1150, 850, 1000], flat(1000)] });
    const def = newDefinition({
      sell: { stopLossPct: 10, takeProfitPct: 10 },
      costs: { commissionBps: 0, sellTaxBps: 30, slippageBps: 0 },
    });
    const r = runBacktest(def, data, ALL);
    const s = sells(r.trades);
    assert.equal(s.length, 1);
    assert.equal(s[0]?.reason, 'stop_loss');
    assert.equal(s[0]?.price, 900);
    assert.equal(s[0]?.date, 20240104);
    approx(s[0]?.tax, 1000 * 900 * 0.003);
  });

  it('fills the take profit at its level, and at the open when the day gaps above it', () => {
    const bars: Bar[] = [flat(1000), flat(1000), [1050, 1300, 1040, 1100], flat(1000)];
    const r = runBacktest(newDefinition({ sell: { takeProfitPct: 20 } }), newMarket({ A: bars }), ALL);
    assert.equal(sells(r.trades)[0]?.reason, 'take_profit');
    assert.equal(sells(r.trades)[0]?.price, 1200);
    const gap: Bar[] = [flat(1000), flat(1000), [1250, 1300, 1240, 1260], flat(1000)];
    const g = runBacktest(newDefinition({ sell: { takeProfitPct: 20 } }), newMarket({ A: gap }), ALL);
    assert.equal(sells(g.trades)[0]?.price, 1250);
    const gapDown: Bar[] = [flat(1000), flat(1000), [700, 750, 650, 700], flat(1000)];
    const sl = runBacktest(newDefinition({ sell: { stopLossPct: 10 } }), newMarket({ A: gapDown }), ALL);
    assert.equal(sells(sl.trades)[0]?.price, 700, 'a stop gapped through fills at the open');
  });

  it('sells at the open of the day a position reaches maxHoldingDays', () => {
    const data = newMarket({ A: Array.from({ length: 8 }, () => flat(100)) });
    const r = runBacktest(newDefinition({ sell: { maxHoldingDays: 3 } }), data, ALL);
    const s = sells(r.trades)[0];
    assert.equal(s.reason, 'max_holding');
    assert.equal(s.date, 20240108); // bought 01-03 (index 1), sold index 4
    assert.equal(s.holdingDays, 3);
  });

  it('blocks rebalance sells before minHoldingDays but not stops', () => {
    // A is picked on day 0, bought 01-03 and dropped at the 01-08 rebalance; its sell would fill
    // 01-09 at age 4 < 5, so it waits for the next rebalance (01-15, fill 01-16).
    const dates = [
      20240102, 20240103, 20240104, 20240105, 20240108, 20240109, 20240110, 20240111, 20240112, 20240115, 20240116,
    ];
    const a: Bar[] = [flat(200), ...Array.from({ length: 10 }, () => flat(100))];
    const b: Bar[] = Array.from({ length: 11 }, () => flat(150));
    const def = newDefinition({ rebalance: 'weekly', sell: { minHoldingDays: 5 } });
    const r = runBacktest(def, newMarket({ A: a, B: b }, dates), ALL);
    const s = sells(r.trades)[0];
    assert.equal(s.code, 'A');
    assert.equal(s.date, 20240116, 'the 01-08 rebalance sell was blocked (age 4 < 5)');
    assert.equal(s.reason, 'rebalance');
    const withoutMin = runBacktest(newDefinition({ rebalance: 'weekly' }), newMarket({ A: a, B: b }, dates), ALL);
    assert.equal(sells(withoutMin.trades)[0]?.date, 20240109);
    const stop = runBacktest(
      newDefinition({ sell: { minHoldingDays: 50, stopLossPct: 5 } }),
      newMarket({ A: [flat(100), flat(100), [100, 100, 90, 92], flat(92)] }),
      ALL,
    );
    assert.equal(sells(stop.trades)[0]?.reason, 'stop_loss');
    assert.equal(sells(stop.trades)[0]?.price, 95);
  });

  it('sells a delisted holding at its last close on the first day without a bar', () => {
    const data = newMarket({
      A: [flat(100), flat(100), flat(110), [112, 115, 108, 113], null, null],
      B: [flat(1), flat(1), flat(1), flat(1), flat(1), flat(1)],
    });
    const def = newDefinition({ costs: { commissionBps: 10, sellTaxBps: 20, slippageBps: 100 } });
    const r = runBacktest(def, data, ALL);
    const s = sells(r.trades)[0];
    assert.equal(s.reason, 'delisted');
    assert.equal(s.date, 20240108);
    assert.equal(s.price, 113, 'last close, no slippage');
    approx(s.tax, s.amount * 0.002);
    assert.equal(r.equityCurve.invested[4], 0);
    assert.equal(r.openPositions.length, 0);
  });

  it('on one day, sells stop losses first, then delisted holdings, each in reverse buy order', () => {
    // A and B (bought together on 01-03) hit their stops on 01-05, when C and D have no bar and
    // never trade again.
    const data = newMarket({
      A: [flat(1000), flat(1000), flat(1000), [1000, 1000, 850, 900], flat(900)],
      B: [flat(900), flat(900), flat(900), [900, 900, 700, 800], flat(800)],
      C: [flat(800), flat(800), flat(800), null, null],
      D: [flat(700), flat(700), flat(700), null, null],
    });
    const def = newDefinition({ maxPositions: 4, sell: { stopLossPct: 10 } });
    const r = runBacktest(def, data, ALL);
    const s = sells(r.trades);
    assert.deepEqual(
      s.map((t) => [t.date, t.code, t.reason, t.price]),
      [
        [20240105, 'B', 'stop_loss', 810],
        [20240105, 'A', 'stop_loss', 900],
        [20240105, 'D', 'delisted', 700],
        [20240105, 'C', 'delisted', 800],
      ],
    );
    assert.equal(r.equityCurve.invested[3], 0);
  });

  it('values a suspended holding at its last close and keeps it', () => {
    const data = newMarket({ A: [flat(100), flat(100), flat(110), null, flat(120)] });
    const r = runBacktest(newDefinition(), data, ALL);
    assert.equal(sells(r.trades).length, 0);
    const q = r.trades[0]?.quantity;
    assert.equal(r.equityCurve.invested[3], q * 110);
    assert.equal(r.equityCurve.invested[4], q * 120);
  });

  it('sells on a sell condition at the next open', () => {
    // close > 150 triggers on 01-04's close; fill at 01-05's open.
    const data = newMarket({ A: [flat(100), flat(100), flat(160), [170, 170, 170, 170], flat(170)] });
    const def = newDefinition({ sell: { conditions: { factor: 'close', op: '>', value: 150 } } });
    const s = sells(runBacktest(def, data, ALL).trades)[0];
    assert.equal(s.reason, 'sell_condition');
    assert.equal(s.date, 20240105);
    assert.equal(s.price, 170);
  });

  it('rebalances weekly on the first trading day of each week', () => {
    // Leader alternates daily; with weekly rebalance trades only follow Monday signals.
    const n = 11;
    const dates = [
      20240102, 20240103, 20240104, 20240105, 20240108, 20240109, 20240110, 20240111, 20240112, 20240115, 20240116,
    ];
    const a: Bar[] = Array.from({ length: n }, (_, i) => flat(i % 2 === 0 ? 200 : 100));
    const b: Bar[] = Array.from({ length: n }, (_, i) => flat(i % 2 === 0 ? 100 : 200));
    const r = runBacktest(newDefinition({ rebalance: 'weekly' }), newMarket({ A: a, B: b }, dates), ALL);
    // Signals: 01-02 (A leads), 01-08 (A leads, i=4 even), 01-15 (i=9 odd: B leads).
    assert.deepEqual(
      r.trades.map((t) => `${t.date} ${t.side} ${t.code}`),
      ['20240103 buy A', '20240116 sell A', '20240116 buy B'],
    );
  });

  it('caps the weight per stock and splits equally', () => {
    const data = newMarket({ A: [flat(100), flat(100), flat(100)], B: [flat(50), flat(50), flat(50)] });
    const r = runBacktest(
      newDefinition({ maxPositions: 4, weighting: { method: 'equal', maxWeightPerStock: 0.3 } }),
      data,
      ALL,
    );
    // 2 picks -> 1/2 each, capped to 30 % of 1,000,000 = 300,000.
    assert.deepEqual(
      r.trades.map((t) => [t.code, t.quantity]),
      [
        ['A', 3000],
        ['B', 6000],
      ],
    );
  });

  it('uses a fundamental statement only from its report date (point in time)', () => {
    // Two stocks, ranking by ROE (highest first); B's great statement is reported on 01-05, so a
    // selection on 01-04 must not see it.
    const dates = [20240102, 20240103, 20240104, 20240105, 20240108];
    const data = newMarket({ A: dates.map(() => flat(100)), B: dates.map(() => flat(100)) }, dates);
    const st = (reportDate: number, netIncome: number) => ({
      reportDate,
      netIncome,
      equity: 1000,
      revenue: 5000,
      operatingIncome: 100,
      liabilities: 500,
      revenuePrevYear: 4000,
    });
    data.fundamentals[0] = [st(20231115, 100)];
    data.fundamentals[1] = [st(20231115, 50), st(20240105, 300)];
    const def = newDefinition({ ranking: { factor: 'roe', order: 'desc' }, rebalance: 'daily' });
    const r = runBacktest(def, data, ALL);
    assert.deepEqual(
      r.trades.map((t) => `${t.date} ${t.side} ${t.code}`),
      ['20240103 buy A', '20240108 sell A', '20240108 buy B'],
    );
  });

  it('reports the benchmark scaled to the initial capital and the excess return', () => {
    const data = newMarket({ A: [flat(100), flat(100), flat(110)] });
    const bench = Float64Array.from([50, NaN, 55]);
    const r = runBacktest(newDefinition(), data, { ...ALL, benchmark: bench });
    assert.deepEqual(r.benchmark?.value, [1_000_000, 1_000_000, 1_100_000]);
    approx(r.benchmark?.totalReturn, 0.1);
    approx(r.benchmark?.excessReturn, r.metrics.totalReturn - 0.1);
  });

  it('calls the progress callback every N days and at the end', () => {
    const data = newMarket({ A: Array.from({ length: 7 }, () => flat(100)) });
    const seen: number[] = [];
    runBacktest(newDefinition(), data, { ...ALL, progressEvery: 3, onProgress: (p) => seen.push(p.done) });
    assert.deepEqual(seen, [3, 6, 7]);
  });
});
