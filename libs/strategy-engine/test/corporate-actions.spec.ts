import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  adjustedForFactors,
  advanceRsi,
  newRsiState,
  applyCorporateAction,
  buildMarketData,
  computeFactor,
  runBacktest,
  type CorporateAction,
  type MarketData,
} from '../src/index.js';
import { flat, newDefinition, newMarket, type Bar } from './fixtures.js';
import { syntheticMarket } from './synthetic.js';

const ALL = { from: 20240101, to: 20241231 };
const withActions = (data: MarketData, actions: CorporateAction[]): MarketData => ({
  ...data,
  corporateActions: actions,
});
const times = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);

describe('corporate actions: back-adjusted factor series', () => {
  it('divides earlier prices and multiplies earlier volumes by the later events, in turn, amounts untouched', () => {
    const data = buildMarketData({
      rows: [
        { date: 20240102, code: 'A', open: 6000, high: 6600, low: 5400, close: 6000, volume: 10, marketCap: 6e9 },
        { date: 20240103, code: 'A', open: 3000, high: 3000, low: 3000, close: 3000, volume: 20, marketCap: 6e9 },
        { date: 20240104, code: 'A', open: 1000, high: 1000, low: 1000, close: 1000, volume: 60, marketCap: 6e9 },
      ],
      corporateActions: [
        // a 2:1 split on 01-03 and a 1 + 2 bonus issue on 01-04
        { code: 'A', exDate: 20240104, kind: 'bonus_issue', priceFactor: 3, shareRatio: 3 },
        { code: 'A', exDate: 20240103, kind: 'split', priceFactor: 2, shareRatio: 2 },
      ],
    });
    assert.deepEqual(
      data.corporateActions?.map((a) => a.exDate),
      [20240103, 20240104],
      'sorted by ex-date',
    );
    const adj = adjustedForFactors(data);
    assert.deepEqual(Array.from(adj.close), [6000 / 3 / 2, 3000 / 3, 1000]);
    assert.deepEqual(Array.from(adj.high), [6600 / 3 / 2, 3000 / 3, 1000]);
    assert.deepEqual(Array.from(adj.volume), [10 * 3 * 2, 20 * 3, 60]);
    assert.deepEqual(Array.from(adj.tradingValue), Array.from(data.tradingValue), 'amounts are not adjusted');
    assert.deepEqual(Array.from(adj.marketCap), Array.from(data.marketCap));
    assert.deepEqual(Array.from(data.close), [6000, 3000, 1000], 'the real series stays real');
    assert.equal(adjustedForFactors(data), adj, 'made once per data');
  });

  it("gives a window (a trading replica's latest days) the whole history's RSI across an event inside it", () => {
    // raw prices from each ex-date on are on the new basis; the window's seeds come from the raw
    // closes before it, as the loader computes them
    const base = syntheticMarket({ days: 120, stocks: 6, seed: 3 });
    const S = base.codes.length;
    const close = base.close.slice();
    const events: CorporateAction[] = [];
    for (const [stock, day, f] of [
      [0, 100, 50],
      [2, 90, 0.2],
      [2, 110, 1.5],
    ] as const) {
      events.push({ stock, exDate: base.dates[day] ?? 0, kind: 'split', priceFactor: f, shareRatio: f });
      for (let d = day; d < 120; d++) {
        close[d * S + stock] /= f;
      }
    }
    events.sort((a, b) => a.exDate - b.exDate || a.stock - b.stock);
    const whole: MarketData = { ...base, close, corporateActions: events };
    const first = 80;
    const seed = newRsiState(S);
    advanceRsi(seed, close.subarray(0, first * S), first);
    const window: MarketData = {
      ...whole,
      dates: base.dates.slice(first),
      open: base.open.slice(first * S),
      high: base.high.slice(first * S),
      low: base.low.slice(first * S),
      close: close.slice(first * S),
      volume: base.volume.slice(first * S),
      tradingValue: base.tradingValue.slice(first * S),
      marketCap: base.marketCap.slice(first * S),
      seeds: { rsi_14: seed },
    };
    const a = computeFactor(whole, 'rsi_14').values;
    const b = computeFactor(window, 'rsi_14').values;
    for (let d = first; d < 120; d++) {
      for (let s = 0; s < S; s++) {
        const x = a[d * S + s];
        const y = b[(d - first) * S + s];
        assert.ok(Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x)), `day ${d} stock ${s}: ${x} vs ${y}`);
      }
    }
  });

  it('rejects malformed events', () => {
    const data = newMarket({ A: [flat(1000)] });
    const bad = (a: Partial<CorporateAction>): MarketData =>
      withActions(data, [{ stock: 0, exDate: 20240102, kind: 'split', priceFactor: 2, shareRatio: 2, ...a }]);
    assert.throws(() => runBacktest(newDefinition(), bad({ stock: 3 }), ALL), /stock index/);
    assert.throws(() => runBacktest(newDefinition(), bad({ priceFactor: 0 }), ALL), /> 0/);
    assert.throws(() => runBacktest(newDefinition(), bad({ shareRatio: Number.NaN }), ALL), /> 0/);
  });
});

describe('corporate actions in a backtest', () => {
  // Samsung Electronics' 50:1 split: 2,650,000 before, 53,000 from the ex-date (day 8, 01-12).
  const bars: Bar[] = [
    ...times(8, flat(2_650_000)),
    ...times(5, flat(53_000)),
    [53_000, 53_000, 47_000, 47_500], // day 13 (01-19): reaches the stop on the new basis
    flat(47_500),
  ];
  const split: CorporateAction = { stock: 0, exDate: 20240112, kind: 'split', priceFactor: 50, shareRatio: 50 };
  const def = newDefinition({
    universe: { scope: 'all' },
    buyConditions: { factor: 'mom_1w', op: '>', value: -50 },
    ranking: { factor: 'mom_1w', order: 'desc' },
    rebalance: 'daily',
    sell: { stopLossPct: 10 },
    initialCapital: 10_000_000,
  });

  it('shows no false crash over a 50:1 split: continuous momentum and equity, the holding x50 on the ex-date', () => {
    const data = withActions(newMarket({ A: bars }), [split]);
    const mom = computeFactor(data, 'mom_1w').values;
    // adjusted: 2,650,000 / 50 = 53,000 on day 3, 53,000 on day 8: 0 %, not -98 %
    assert.equal(mom[8], 0);
    assert.equal(mom[12], 0);
    assert.equal(mom[13], (47_500 / 53_000) * 100 - 100);

    const r = runBacktest(def, data, ALL);
    // mom_1w exists from day 5: signal at its close, limit 2,650,000 x 1.05 = 2,782,500 -> 2,782,000
    // (1,000-won ticks), 3 shares fit 10,000,000; filled at day 6's open 2,650,000
    assert.deepEqual(r.trades[0], {
      date: 20240110,
      code: 'A',
      side: 'buy',
      reason: 'signal',
      quantity: 3,
      price: 2_650_000,
      amount: 7_950_000,
      commission: 0,
      tax: 0,
      pnl: null,
      returnRate: null,
      holdingDays: null,
      entryDate: null,
    });
    assert.deepEqual(r.corporateActions, [
      {
        date: 20240112,
        code: 'A',
        kind: 'split',
        quantityBefore: 3,
        quantityAfter: 150,
        entryPriceBefore: 2_650_000,
        entryPriceAfter: 53_000,
        basePrice: 53_000,
        cash: 0,
      },
    ]);
    // the stop resting on day 8 was 2,385,000 (10 % under 2,650,000): outside the ex-date's
    // limits of 53,000 (37,100..68,900), refused; the next one is 53,000 x 0.9 = 47,700 and
    // fills on day 13: 150 x 47,700, KOSPI 2024 tax 0.03 % + 0.15 %, each truncated
    // (and the daily rebalance buys A again the next day: mom_1w still > -50)
    assert.deepEqual(
      r.trades.map((t) => [t.date, t.side]),
      [
        [20240110, 'buy'],
        [20240119, 'sell'],
        [20240122, 'buy'],
      ],
    );
    const sell = r.trades[1];
    assert.deepEqual(
      [sell.date, sell.reason, sell.quantity, sell.price, sell.tax],
      [20240119, 'stop_loss', 150, 47_700, 2146 + 10_732],
    );
    assert.equal(sell.pnl, 7_155_000 - 12_878 - 7_950_000);
    // equity: 2,050,000 cash + 3 x 2,650,000 = 150 x 53,000 + 2,050,000 = 10,000,000 through day 12
    assert.deepEqual(r.equityCurve.value.slice(0, 13), times(13, 10_000_000));
    assert.deepEqual(r.equityCurve.dailyReturn.slice(0, 13), times(13, 0));
  });

  it('without the event the same prices are a crash (what the adjustment prevents)', () => {
    const r = runBacktest(def, newMarket({ A: bars }), ALL);
    // the ex-date's bar at 53,000 is far under the lower limit of 2,650,000 (locked: no sell), the
    // equity falls by 3 x 2,597,000, and mom_1w of -98 % drops A at the next rebalance
    assert.equal(r.equityCurve.value[8], 10_000_000 - 3 * 2_597_000);
    const sell = r.trades[1];
    assert.deepEqual([sell.date, sell.reason, sell.quantity, sell.price], [20240115, 'rebalance', 3, 53_000]);
    assert.equal(r.corporateActions, undefined);
  });

  it('adjusts a holding through a 1:10 reverse split, paying the fractional share in cash at the base price', () => {
    // 25,000 won: limit 1,050, 23 shares fill at 1,000 on day 1 (cash 2,000). Ex-date day 5 at
    // 10,000: 23 x 0.1 = 2.3 -> 2 shares, entry 10,000; cash 23 x 1,000 - 2 x 10,000 = 3,000.
    const data = withActions(newMarket({ A: [...times(5, flat(1000)), ...times(3, flat(10_000))] }), [
      { stock: 0, exDate: 20240109, kind: 'reverse_split', priceFactor: 0.1, shareRatio: 0.1 },
    ]);
    // a 20 % target: 1,200 on the old basis rests for the ex-date, whose open is 10,000; outside the
    // day's limits of the base 10,000 (7,000..13,000) it is refused, not filled as a 733 % gain
    const def = newDefinition({ initialCapital: 25_000, sell: { takeProfitPct: 20 } });
    const r = runBacktest(def, data, ALL);
    assert.deepEqual(
      r.trades.map((t) => [t.date, t.side, t.quantity, t.price]),
      [[20240103, 'buy', 23, 1000]],
    );
    const raw = runBacktest(def, { ...data, corporateActions: undefined }, ALL);
    assert.deepEqual(
      raw.trades.map((t) => [t.date, t.side, t.quantity, t.price]),
      [
        [20240103, 'buy', 23, 1000],
        [20240109, 'sell', 23, 10_000],
      ],
      'without the event: the old target fills at the new open',
    );
    assert.deepEqual(r.corporateActions?.[0], {
      date: 20240109,
      code: 'A',
      kind: 'reverse_split',
      quantityBefore: 23,
      quantityAfter: 2,
      entryPriceBefore: 1000,
      entryPriceAfter: 10_000,
      basePrice: 10_000,
      cash: 3000,
    });
    assert.deepEqual(r.equityCurve.value, times(8, 25_000));
    assert.deepEqual(r.equityCurve.cash.slice(4), [2000, 5000, 5000, 5000]);
    assert.deepEqual(r.openPositions[0], {
      code: 'A',
      quantity: 2,
      entryDate: 20240103,
      entryPrice: 10_000,
      lastPrice: 10_000,
      marketValue: 20_000,
      unrealizedPnl: 20_000 - (23_000 - 3000),
    });
  });

  it('applies two events that take effect on the same trading day one after the other', () => {
    // 2:1 on Saturday 01-06 and 2:1 on Monday 01-08: both on 01-08 (day 4), x4 in all. 10,000 won:
    // 9 shares at 1,000 (cash 1,000) -> 18 -> 36 shares at 250, entry 250
    const data = withActions(newMarket({ A: [...times(4, flat(1000)), ...times(3, flat(250))] }), [
      { stock: 0, exDate: 20240106, kind: 'split', priceFactor: 2, shareRatio: 2 },
      { stock: 0, exDate: 20240108, kind: 'split', priceFactor: 2, shareRatio: 2 },
    ]);
    const r = runBacktest(newDefinition({ initialCapital: 10_000 }), data, ALL);
    assert.deepEqual(
      r.corporateActions?.map((a) => [a.date, a.quantityBefore, a.quantityAfter, a.basePrice, a.entryPriceAfter]),
      [
        [20240108, 9, 18, 500, 500],
        [20240108, 18, 36, 250, 250],
      ],
    );
    assert.deepEqual(r.equityCurve.value, times(7, 10_000));
  });

  it('pays out a holding smaller than the reverse split ratio entirely, as a closed round trip', () => {
    // 10,000 won: 9 shares at 1,000 (cash 1,000); 9 x 0.1 -> 0 shares, 9,000 won paid
    const data = withActions(newMarket({ A: [...times(5, flat(1000)), ...times(3, flat(10_000))] }), [
      { stock: 0, exDate: 20240109, kind: 'reverse_split', priceFactor: 0.1, shareRatio: 0.1 },
    ]);
    const r = runBacktest(newDefinition({ initialCapital: 10_000 }), data, ALL);
    assert.equal(r.corporateActions?.[0]?.quantityAfter, 0);
    assert.equal(r.corporateActions?.[0]?.cash, 9000);
    assert.deepEqual(r.equityCurve.value, times(8, 10_000));
    assert.deepEqual(r.openPositions, []);
    assert.equal(r.metrics.numberOfTrades, 1, 'the payout is not a trade');
  });
});

describe('applyCorporateAction', () => {
  it('keeps the value: whole shares, entry / factor, the rest in truncated cash', () => {
    // bonus issue of 0.5 new share per share: 23 -> 34.5 -> 34 shares, base 1,000 / 1.5
    const bonus = applyCorporateAction({ quantity: 23, entryPrice: 900 }, { priceFactor: 1.5, shareRatio: 1.5 }, 1000);
    assert.equal(bonus.quantity, 34);
    assert.equal(bonus.entryPrice, 600);
    assert.equal(bonus.basePrice, 1000 / 1.5);
    assert.equal(bonus.cash, 333, 'half a share at 666.67, truncated');
    // rights issue: close 12,000, base 10,000 (priceFactor 1.2), no new shares; the rights' value
    // 10 x (12,000 - 10,000) is paid
    const rights = applyCorporateAction(
      { quantity: 10, entryPrice: 11_000 },
      { priceFactor: 1.2, shareRatio: 1 },
      12_000,
    );
    assert.deepEqual(rights, { quantity: 10, entryPrice: 11_000 / 1.2, basePrice: 10_000, cash: 20_000 });
  });
});
