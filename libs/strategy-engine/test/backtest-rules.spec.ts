import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { runBacktest, type Trade } from '../src/index.js';
import { flat, newDefinition, newMarket, type Bar } from './fixtures.js';

const ALL = { from: 20240101, to: 20241231 };
const approx = (actual: number, expected: number, eps = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= eps * Math.max(1, Math.abs(expected)), `${actual} != ${expected}`);
const sells = (trades: Trade[]): Trade[] => trades.filter((t) => t.side === 'sell');
/** KOSPI in 2024 (the fixtures' market and year): 0.03 % transaction tax + 0.15 % rural tax, each truncated. */
const kospiTax2024 = (amount: number): number => Math.floor((amount * 3) / 10_000) + Math.floor((amount * 15) / 10_000);

describe('runBacktest rules', () => {
  it('buys at day t+1 open plus slippage with a limit at t close + 5 %, sized on the worst fill, in whole won', () => {
    // Signal at the close of 01-02 (1000): a limit buy at 1050. The fill is 01-03's open 1020, never
    // 01-02's close; slippage 50 bps -> 1025.1, rounded up to the tick grid (1 won below 2,000):
    // 1026; commission 10 bps, truncated to the won.
    const data = newMarket({ A: [flat(1000), [1020, 1030, 1010, 1020], flat(1000)] });
    const def = newDefinition({ costs: { commissionBps: 10, slippageBps: 50 } });
    const r = runBacktest(def, data, ALL);
    const buy = r.trades[0];
    assert.equal(buy.date, 20240103);
    assert.equal(buy.price, 1026);
    // sized so that a fill at the limit fits: 1050 x 1.005 = 1055.25 -> 1056 on the grid;
    // floor(1,000,000 / (1056 x 1.001)) = 946, whose worst cost 998,976 + 998 fits
    assert.equal(buy.quantity, 946);
    assert.equal(buy.amount, 970_596); // 946 x 1026
    assert.equal(buy.commission, 970);
    assert.equal(r.equityCurve.cash[1], 1_000_000 - 970_596 - 970);
    assert.equal(r.equityCurve.value[0], 1_000_000, 'nothing trades on the signal day');
    approx(r.equityCurve.invested[1], 946 * 1020);
  });

  it('fills a buy that gaps above its limit at the limit if the day comes down to it, else tries again the next day', () => {
    const touched = runBacktest(
      newDefinition(),
      newMarket({ A: [flat(1000), [1100, 1120, 1040, 1100], flat(1100)] }),
      ALL,
    );
    assert.deepEqual(
      touched.trades.map((t) => [t.date, t.price, t.quantity]),
      [[20240103, 1050, 952]],
      'the resting limit fills at 1050, no slippage',
    );
    const gapped = runBacktest(
      newDefinition(),
      newMarket({ A: [flat(1000), [1100, 1120, 1080, 1100], flat(1100), flat(1100)] }),
      ALL,
    );
    // 01-03 never trades at 1050: the pick stays wanted and 01-03's close (1100) sets a new limit
    assert.deepEqual(
      gapped.trades.map((t) => [t.date, t.price, t.quantity]),
      [[20240104, 1100, Math.floor(1_000_000 / 1155)]],
    );
  });

  it('sells at the open minus slippage and charges commission and sell tax', () => {
    // A leads on day 0 (close 200 > 100), B leads from day 1; weekly rebalance -> next
    // rebalance is Monday 01-08 (index 4): sell A at 01-09's open.
    const data = newMarket({
      A: [flat(200), flat(100), flat(100), flat(100), flat(100), [120, 120, 120, 120], flat(120)],
      B: [flat(100), flat(150), flat(150), flat(150), flat(150), flat(150), flat(150)],
    });
    const def = newDefinition({ rebalance: 'weekly', costs: { commissionBps: 10, slippageBps: 100 } });
    const r = runBacktest(def, data, ALL);
    const buyA = r.trades[0];
    assert.equal(buyA.code, 'A');
    assert.equal(buyA.price, 101); // open 100 x 1.01 (the limit is 200 x 1.05)
    // worst fill 210 x 1.01 = 212.1 -> 213: floor(1,000,000 / (213 x 1.001)) = 4690
    const q = 4690;
    assert.equal(buyA.quantity, q);
    const sellA = r.trades.find((t) => t.side === 'sell') as Trade;
    assert.equal(sellA.date, 20240109);
    assert.equal(sellA.reason, 'rebalance');
    assert.equal(sellA.price, 118); // 120 x 0.99 = 118.8, rounded down to the tick grid
    const amount = 553_420; // 4690 x 118
    assert.equal(sellA.amount, amount);
    assert.equal(sellA.commission, 553);
    assert.equal(sellA.tax, 166 + 830); // KOSPI 2024: floor(553,420 x 0.0003) + floor(553,420 x 0.0015)
    const cost = buyA.amount + buyA.commission;
    assert.equal(sellA.pnl, amount - sellA.commission - sellA.tax - cost);
    assert.equal(sellA.holdingDays, 4);
    // A's place and its proceeds are free once it is sold: B is bought the next day
    const buyB = r.trades.find((t) => t.side === 'buy' && t.code === 'B') as Trade;
    assert.equal(buyB.date, 20240110);
  });

  it('never lets cash go negative: all buys together are sized on the cash held at the signal', () => {
    // Two places at 50 % of 1,000,000. A (close 300, limit 315) takes floor(500,000 / 315) = 1587
    // shares, whose worst cost 499,905 leaves 500,095; B (limit 210) takes 2380. A opens at its
    // limit, the worst case; the cash still covers both.
    const data = newMarket({
      A: [flat(300), [315, 315, 315, 315], flat(315)],
      B: [flat(200), flat(200), flat(200)],
    });
    const def = newDefinition({ maxPositions: 2 });
    const r = runBacktest(def, data, ALL);
    const [a, b] = r.trades as [Trade, Trade];
    assert.equal(a.code, 'A');
    assert.equal(a.quantity, 1587);
    assert.equal(b.code, 'B');
    assert.equal(b.quantity, 2380);
    assert.equal(r.equityCurve.cash[1], 1_000_000 - 1587 * 315 - 2380 * 200);
    const tiny = runBacktest(
      newDefinition({ initialCapital: 250 }),
      newMarket({ A: [flat(300), flat(300), flat(300)] }),
      ALL,
    );
    assert.equal(tiny.trades.length, 0, 'not even one share fits: no buy');
    assert.ok(tiny.equityCurve.cash.every((c) => c === 250));
  });

  it('places the stop or the target, whichever is nearer the close, and fills it at its level', () => {
    // Entry 1000; stop 10 % -> 900, target 10 % -> 1100; day 2 range 850..1150 crosses both. A
    // broker holds one sell order per share: after a close of 1000 (a tie) the stop rests.
    const def = newDefinition({
      sell: { stopLossPct: 10, takeProfitPct: 10 },
      costs: { commissionBps: 0, slippageBps: 0 },
    });
    const r = runBacktest(def, newMarket({ A: [flat(1000), flat(1000), [1000, 1150, 850, 1000], flat(1000)] }), ALL);
    const s = sells(r.trades);
    assert.equal(s.length, 1);
    assert.equal(s[0]?.reason, 'stop_loss');
    assert.equal(s[0]?.price, 900);
    assert.equal(s[0]?.date, 20240104);
    assert.equal(s[0]?.tax, 257 + 1285); // 952 x 900 = 856,800: floor(x 0.0003) + floor(x 0.0015)
    // after a close of 1080 the target is nearer: it is the order that rests, and fills
    const near = runBacktest(
      def,
      newMarket({ A: [flat(1000), [1000, 1080, 1000, 1080], [1000, 1150, 850, 1000], flat(1000)] }),
      ALL,
    );
    assert.deepEqual(
      sells(near.trades).map((t) => [t.date, t.reason, t.price]),
      [[20240104, 'take_profit', 1100]],
    );
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

  it('sells a delisted holding at its last close on its recorded delisting date', () => {
    const data = newMarket(
      {
        A: [flat(100), flat(100), flat(110), [112, 115, 108, 113], null, null],
        B: [flat(1), flat(1), flat(1), flat(1), flat(1), flat(1)],
      },
      undefined,
      { A: { market: 'KOSPI', sector: '', delistedOn: 20240108 } },
    );
    const def = newDefinition({ costs: { commissionBps: 10, slippageBps: 100 } });
    const r = runBacktest(def, data, ALL);
    const s = sells(r.trades)[0];
    assert.equal(s.reason, 'delisted');
    assert.equal(s.date, 20240108);
    assert.equal(s.price, 113, 'last close, no slippage');
    assert.equal(s.tax, kospiTax2024(s.amount));
    assert.equal(r.equityCurve.invested[4], 0);
    assert.equal(r.openPositions.length, 0);
  });

  it('on one day, fills the stops in buy order, then sells delisted holdings in reverse buy order', () => {
    // A and B (bought together on 01-03) hit their stops on 01-05, the date C and D are recorded
    // as delisted.
    const delisted = { market: 'KOSPI', sector: '', delistedOn: 20240105 } as const;
    const data = newMarket(
      {
        A: [flat(1000), flat(1000), flat(1000), [1000, 1000, 850, 900], flat(900)],
        B: [flat(900), flat(900), flat(900), [900, 900, 700, 800], flat(800)],
        C: [flat(800), flat(800), flat(800), null, null],
        D: [flat(700), flat(700), flat(700), null, null],
      },
      undefined,
      { C: delisted, D: delisted },
    );
    const def = newDefinition({ maxPositions: 4, sell: { stopLossPct: 10 } });
    const r = runBacktest(def, data, ALL);
    const s = sells(r.trades);
    assert.deepEqual(
      s.map((t) => [t.date, t.code, t.reason, t.price]),
      [
        [20240105, 'A', 'stop_loss', 900],
        [20240105, 'B', 'stop_loss', 810],
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
    const n = 12;
    const dates = [
      20240102, 20240103, 20240104, 20240105, 20240108, 20240109, 20240110, 20240111, 20240112, 20240115, 20240116,
      20240117,
    ];
    const a: Bar[] = Array.from({ length: n }, (_, i) => flat(i === n - 1 ? 100 : i % 2 === 0 ? 200 : 100));
    const b: Bar[] = Array.from({ length: n }, (_, i) => flat(i === n - 1 ? 100 : i % 2 === 0 ? 100 : 200));
    const r = runBacktest(newDefinition({ rebalance: 'weekly' }), newMarket({ A: a, B: b }, dates), ALL);
    // Signals: 01-02 (A leads), 01-08 (A leads, i=4 even), 01-15 (i=9 odd: B leads). B takes
    // A's place the day after A is sold (B opens at 100, within its limit of 105).
    assert.deepEqual(
      r.trades.map((t) => `${t.date} ${t.side} ${t.code}`),
      ['20240103 buy A', '20240116 sell A', '20240117 buy B'],
    );
  });

  it('caps the weight per stock and splits equally', () => {
    const data = newMarket({ A: [flat(100), flat(100), flat(100)], B: [flat(50), flat(50), flat(50)] });
    const r = runBacktest(
      newDefinition({ maxPositions: 4, weighting: { method: 'equal', maxWeightPerStock: 0.3 } }),
      data,
      ALL,
    );
    // 2 picks -> 1/2 each, capped to 30 % of 1,000,000 = 300,000, at limits 105 and 52.5 -> 52
    // (the tick grid, rounded down): floor(300,000 / 105) = 2857, floor(300,000 / 52) = 5769.
    assert.deepEqual(
      r.trades.map((t) => [t.code, t.quantity]),
      [
        ['A', 2857],
        ['B', 5769],
      ],
    );
  });

  it('uses a fundamental statement only from its report date (point in time)', () => {
    // Two stocks, ranking by ROE (highest first); B's great statement is reported on 01-05, so a
    // selection on 01-04 must not see it.
    const dates = [20240102, 20240103, 20240104, 20240105, 20240108, 20240109];
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
      ['20240103 buy A', '20240108 sell A', '20240109 buy B'],
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
