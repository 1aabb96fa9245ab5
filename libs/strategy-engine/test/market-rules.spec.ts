import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  buildMarketData,
  fillOnBar,
  isOnTick,
  orderPrice,
  parseStrategyDefinition,
  priceLimits,
  roundToTick,
  runBacktest,
  SELL_TAX_TABLE,
  sellTax,
  sellTaxPeriod,
  strategyDefinitionJsonSchema,
  tickBands,
  tickSize,
  type Market,
  type MarketData,
  type PriceRow,
  type StrategyDefinition,
  type Trade,
} from '../src/index.js';
import { newDefinition } from './fixtures.js';

/** [open, high, low, close, volume?] (volume defaults to 1000; null = no bar). */
type Bar = [number, number, number, number, number?] | null;
const flat = (p: number, volume = 1000): Bar => [p, p, p, p, volume];

/** One market's stocks over the given trading dates. */
function market(bars: Record<string, Bar[]>, dates: number[], on: Market = 'KOSPI', tradingValue?: number): MarketData {
  const rows: PriceRow[] = [];
  for (const [code, list] of Object.entries(bars)) {
    list.forEach((bar, i) => {
      if (bar) {
        const [open, high, low, close, volume = 1000] = bar;
        rows.push({ date: dates[i], code, open, high, low, close, volume, tradingValue, marketCap: close * 1e6 });
      }
    });
  }
  const stocks = Object.fromEntries(Object.keys(bars).map((c) => [c, { market: on, sector: '' }]));
  return buildMarketData({ rows, stocks, dates });
}
const run = (def: StrategyDefinition, data: MarketData) =>
  runBacktest(def, data, { from: data.dates[0], to: data.dates[data.dates.length - 1] });
const sells = (trades: Trade[]): Trade[] => trades.filter((t) => t.side === 'sell');

describe('KRX sell tax table', () => {
  it('matches the published rates (percent of the sell amount, tax + rural tax) by market and trade date', () => {
    // [market, sell date, 증권거래세 %, 농어촌특별세 %]: the figures of the sources in tax.ts
    const published: Array<[Market, number, number, number]> = [
      ['KOSPI', 20150102, 0.15, 0.15],
      ['KOSPI', 20190529, 0.15, 0.15],
      ['KOSPI', 20190530, 0.1, 0.15], // settles 2019-06-03
      ['KOSPI', 20201228, 0.1, 0.15],
      ['KOSPI', 20201229, 0.08, 0.15], // settles 2021-01-04 (2020-12-31 closed)
      ['KOSPI', 20221228, 0.05, 0.15],
      ['KOSPI', 20231227, 0.03, 0.15],
      ['KOSPI', 20241226, 0.03, 0.15],
      ['KOSPI', 20241227, 0, 0.15], // "2024년 12월 27일(금) 매도 체결분부터"
      ['KOSPI', 20251229, 0.05, 0.15], // the 2026 restoration
      ['KOSDAQ', 20150102, 0.3, 0],
      ['KOSDAQ', 20190530, 0.25, 0],
      ['KOSDAQ', 20201229, 0.23, 0],
      ['KOSDAQ', 20221227, 0.23, 0],
      ['KOSDAQ', 20221228, 0.2, 0],
      ['KOSDAQ', 20231227, 0.18, 0],
      ['KOSDAQ', 20241227, 0.15, 0],
      ['KOSDAQ', 20251226, 0.15, 0],
      ['KOSDAQ', 20251229, 0.2, 0],
      ['KONEX', 20150102, 0.3, 0],
      ['KONEX', 20190530, 0.1, 0],
      ['KONEX', 20260105, 0.1, 0],
    ];
    for (const [m, date, tax, rural] of published) {
      const p = sellTaxPeriod(date, m);
      assert.deepEqual([p.transactionTaxBps / 100, p.ruralTaxBps / 100], [tax, rural], `${m} ${date}`);
    }
    // every row names its source; rows of a market are in date order
    for (const row of SELL_TAX_TABLE) {
      assert.ok(row.source.length > 20, `${row.market} ${row.from}`);
    }
    for (const m of ['KOSPI', 'KOSDAQ', 'KONEX'] as const) {
      const froms = SELL_TAX_TABLE.filter((r) => r.market === m).map((r) => r.from);
      assert.deepEqual(
        froms,
        [...froms].sort((a, b) => a - b),
      );
    }
  });

  it('truncates each tax to the won on its own', () => {
    // KOSPI 2024: 1,234,567 x 0.03 % = 370.37 -> 370; x 0.15 % = 1851.85 -> 1851
    assert.equal(sellTax(1_234_567, 20240603, 'KOSPI'), 370 + 1851);
    // KOSDAQ 2025: 0.15 % -> 1851; KONEX 0.10 % -> 1234
    assert.equal(sellTax(1_234_567, 20250603, 'KOSDAQ'), 1851);
    assert.equal(sellTax(1_234_567, 20250603, 'KONEX'), 1234);
  });
});

describe('KRX tick sizes', () => {
  it('uses the unified table from 2023-01-25 and the KOSPI / KOSDAQ tables before it', () => {
    const cases: Array<[Market, number, number, number]> = [
      // [market, date, price, tick]
      ['KOSPI', 20230124, 999, 1],
      ['KOSPI', 20230124, 1_500, 5],
      ['KOSPI', 20230125, 1_500, 1],
      ['KOSPI', 20230124, 15_000, 50],
      ['KOSPI', 20230125, 15_000, 10],
      ['KOSPI', 20230124, 75_000, 100],
      ['KOSPI', 20230124, 150_000, 500],
      ['KOSPI', 20230125, 150_000, 100],
      ['KOSPI', 20230125, 250_000, 500],
      ['KOSPI', 20230124, 600_000, 1_000],
      ['KOSDAQ', 20230124, 150_000, 100],
      ['KOSDAQ', 20230124, 600_000, 100],
      ['KOSDAQ', 20230125, 600_000, 1_000],
      ['KONEX', 20200101, 60_000, 100],
      ['KONEX', 20240101, 60_000, 100],
      ['KONEX', 20240101, 19_990, 10],
    ];
    for (const [m, date, price, tick] of cases) {
      assert.equal(tickSize(price, date, m), tick, `${m} ${date} ${price}`);
    }
  });

  it('rounds down or up onto the grid, ignoring floating-point noise', () => {
    const now = tickBands(20240603, 'KOSPI');
    assert.equal(roundToTick(70_049, 'down', now), 70_000);
    assert.equal(roundToTick(70_001, 'up', now), 70_100);
    assert.equal(roundToTick(19_996, 'up', now), 20_000);
    assert.equal(roundToTick(4_999, 'down', now), 4_995);
    assert.equal(roundToTick(1000 * 1.05, 'up', now), 1050, '1050.0000000000002 is 1050');
    assert.ok(isOnTick(70_000, 20240603, 'KOSPI'));
    assert.ok(!isOnTick(70_010, 20240603, 'KOSPI'));
    assert.ok(isOnTick(70_010, 20230124, 'KOSDAQ') === false && isOnTick(70_100, 20230124, 'KOSDAQ'));
  });

  it('sets order prices: buy limits down, stops and targets up, inside the day limits of the base', () => {
    const s2022 = { date: 20221201, market: 'KOSPI' as const };
    const s2024 = { date: 20240603, market: 'KOSPI' as const };
    // 15,030 x 1.05 = 15,781.5: tick 50 before 2023 -> 15,750, tick 10 after -> 15,780
    assert.equal(orderPrice('limit_buy', 15_781.5, 15_030, s2022), 15_750);
    assert.equal(orderPrice('limit_buy', 15_781.5, 15_030, s2024), 15_780);
    assert.equal(orderPrice('stop_sell', 923.4, 1000, s2024), 924);
    assert.equal(orderPrice('target_sell', 1_231.2, 1000, s2024), 1_232);
    // a stop below the lower limit of a base of 800 (560) rests at the lower limit
    assert.equal(orderPrice('stop_sell', 500, 800, s2024), 560);
    // a target above the upper limit (1,040) rests at the upper limit
    assert.equal(orderPrice('target_sell', 1_500, 800, s2024), 1_040);
  });
});

describe('KRX daily price limits', () => {
  it('are +-30 % of the base from 2015-06-15 (+-15 % before; KONEX +-15 %), on the grid inside the band', () => {
    assert.deepEqual(priceLimits(61_000, 20240603, 'KOSPI'), { lower: 42_700, upper: 79_300 });
    assert.deepEqual(priceLimits(10_000, 20150612, 'KOSDAQ'), { lower: 8_500, upper: 11_500 });
    assert.deepEqual(priceLimits(10_000, 20150615, 'KOSDAQ'), { lower: 7_000, upper: 13_000 });
    assert.deepEqual(priceLimits(10_000, 20240603, 'KONEX'), { lower: 8_500, upper: 11_500 });
    // 1,660 x 1.3 = 2,158 (tick 5 from 2,000) -> 2,155; 1,660 x 0.7 = 1,162 (tick 1)
    assert.deepEqual(priceLimits(1_660, 20240603, 'KOSPI'), { lower: 1_162, upper: 2_155 });
    // before 2023 (KOSPI): 15,030 x 1.3 = 19,539 (tick 50) -> 19,500; x 0.7 = 10,521 -> 10,550
    assert.deepEqual(priceLimits(15_030, 20221201, 'KOSPI'), { lower: 10_550, upper: 19_500 });
    assert.deepEqual(priceLimits(NaN, 20240603, 'KOSPI'), { lower: 0, upper: Number.POSITIVE_INFINITY });
  });

  it('fills no sell on a bar locked at the lower limit and no buy on one locked at the upper limit', () => {
    const session = { date: 20240603, market: 'KOSPI' as const, base: 1000 };
    const lockedDown = { open: 700, high: 700, low: 700, volume: 5 };
    assert.equal(fillOnBar('market_sell', NaN, lockedDown, session), null);
    assert.equal(fillOnBar('stop_sell', 900, lockedDown, session), null);
    assert.deepEqual(fillOnBar('limit_buy', 1050, lockedDown, session), { price: 700, at: 'open' });
    assert.deepEqual(fillOnBar('stop_sell', 900, { open: 700, high: 710, low: 700, volume: 5 }, session), {
      price: 700,
      at: 'open',
    });
    const lockedUp = { open: 1300, high: 1300, low: 1300, volume: 5 };
    assert.equal(fillOnBar('limit_buy', 1300, lockedUp, session), null);
    assert.deepEqual(fillOnBar('target_sell', 1200, lockedUp, session), { price: 1300, at: 'open' });
  });

  it('fills nothing on a bar without trading (volume 0)', () => {
    const session = { date: 20240603, market: 'KOSPI' as const, base: 1000 };
    const carried = { open: 1000, high: 1000, low: 1000, volume: 0 };
    assert.equal(fillOnBar('market_sell', NaN, carried, session), null);
    assert.equal(fillOnBar('limit_buy', 1050, carried, session), null);
  });
});

describe('runBacktest with the KRX market rules', () => {
  const DEC = [20241223, 20241224, 20241226, 20241227, 20241230];

  it('taxes each sell by its date and market: KOSPI / KOSDAQ 0.18 % on 2024-12-26, 0.15 % from 12-27, KONEX 0.10 %', () => {
    // bought at 01-24's open 10,000 (limit 10,500: floor(1,000,000 / 10,500) = 95 shares), sold at
    // the open of 12-26 (maxHoldingDays 1) or 12-27 (2): 95 x 10,000 = 950,000
    const taxOf = (m: Market, maxHoldingDays: number): number =>
      sells(
        run(newDefinition({ sell: { maxHoldingDays } }), market({ A: DEC.map(() => flat(10_000)) }, DEC, m)).trades,
      )[0].tax;
    assert.equal(taxOf('KOSPI', 1), 285 + 1425); // 0.03 % + 0.15 %
    assert.equal(taxOf('KOSPI', 2), 0 + 1425); // 0 % + 0.15 %
    assert.equal(taxOf('KOSDAQ', 1), 1710); // 0.18 %
    assert.equal(taxOf('KOSDAQ', 2), 1425); // 0.15 %
    assert.equal(taxOf('KONEX', 2), 950); // 0.10 %
  });

  it('rounds fills to the tick table of their day: the old KOSPI table on 2023-01-20, the unified one from 01-25', () => {
    // open 15,000 x 1.001 (10 bps) = 15,015: up to 15,050 (tick 50) on 01-20, to 15,020 (tick 10) on 01-25
    const dates = [20230119, 20230120, 20230125, 20230126];
    const bars = [flat(15_000), flat(15_000), flat(15_000), flat(15_000)];
    const def = newDefinition({ costs: { commissionBps: 0, slippageBps: 10 } });
    const first = run(def, market({ A: bars }, dates)).trades[0];
    assert.deepEqual([first.date, first.price], [20230120, 15_050]);
    const later = runBacktest(def, market({ A: bars }, dates), { from: 20230120, to: 20230126 }).trades[0];
    assert.deepEqual([later.date, later.price], [20230125, 15_020]);
  });

  it('rounds stops up to the grid and slips stop and target fills', () => {
    // entry 1026 (1020 x 1.005 rounded up); stop 10 % -> 923.4 -> 924; the day's low 900 reaches it:
    // filled at 924 x 0.995 = 919.38 -> 919
    const dates = [20240102, 20240103, 20240104, 20240105];
    const data = market({ A: [flat(1000), [1020, 1030, 1010, 1020], [1000, 1000, 900, 950], flat(950)] }, dates);
    const def = newDefinition({ sell: { stopLossPct: 10 }, costs: { commissionBps: 0, slippageBps: 50 } });
    const s = sells(run(def, data).trades)[0];
    assert.deepEqual([s.date, s.reason, s.price], [20240104, 'stop_loss', 919]);
    // a target of 20 % over 1026 = 1231.2 -> 1232; filled at 1232 x 0.995 = 1225.84 -> 1225
    const up = market({ A: [flat(1000), [1020, 1030, 1010, 1020], [1100, 1300, 1100, 1250], flat(1250)] }, dates);
    const t = sells(
      run(newDefinition({ sell: { takeProfitPct: 20 }, costs: { commissionBps: 0, slippageBps: 50 } }), up).trades,
    )[0];
    assert.deepEqual([t.date, t.reason, t.price], [20240104, 'take_profit', 1225]);
  });

  it('keeps a stop from filling on a day locked at the lower limit; it fills the next day', () => {
    // base 1000 on 01-03: lower limit 700; 01-04 trades only at 700 (locked): no fill; 01-05 opens
    // at 650 (base 700, limit 490), below the stop 900: filled at the open
    const dates = [20240102, 20240103, 20240104, 20240105, 20240108];
    const data = market({ A: [flat(1000), flat(1000), flat(700), [650, 700, 600, 690], flat(690)] }, dates);
    const s = sells(run(newDefinition({ sell: { stopLossPct: 10 } }), data).trades);
    assert.deepEqual(
      s.map((x) => [x.date, x.reason, x.price]),
      [[20240105, 'stop_loss', 650]],
    );
    // the same day not locked (high above the limit): the stop fills at the open 700
    const open = market({ A: [flat(1000), flat(1000), [700, 760, 700, 700], flat(700), flat(700)] }, dates);
    assert.deepEqual(
      sells(run(newDefinition({ sell: { stopLossPct: 10 } }), open).trades).map((x) => [x.date, x.price]),
      [[20240104, 700]],
    );
  });

  it('keeps a market sell waiting through a lower-limit lock and a day without trading', () => {
    // A is sold after max 1 day: 01-04's open is locked at 700, 01-05 has volume 0, 01-08 fills
    const dates = [20240102, 20240103, 20240104, 20240105, 20240108];
    const data = market({ A: [flat(1000), flat(1000), flat(700), flat(700, 0), [720, 750, 700, 720]] }, dates);
    const s = sells(run(newDefinition({ sell: { maxHoldingDays: 1 } }), data).trades);
    assert.deepEqual(
      s.map((x) => [x.date, x.reason, x.price]),
      [[20240108, 'max_holding', 720]],
    );
  });

  it('does not buy on a day without trading: the pick waits for the next bar that trades', () => {
    const dates = [20240102, 20240103, 20240104];
    const r = run(newDefinition(), market({ A: [flat(1000), flat(1000, 0), flat(1000)] }, dates));
    assert.deepEqual(
      r.trades.map((t) => [t.date, t.side]),
      [[20240104, 'buy']],
    );
  });

  it('caps a buy at a share of the signal day trading value when maxTradingValueShare is set', () => {
    const dates = [20240102, 20240103, 20240104];
    const bars = { A: [flat(1000), flat(1000), flat(1000)] };
    const def = newDefinition({ costs: { commissionBps: 0, slippageBps: 0, maxTradingValueShare: 0.01 } });
    // 1 % of 50,000,000 = 500,000 at the limit 1050: 476 shares (uncapped: 952)
    assert.equal(run(def, market(bars, dates, 'KOSPI', 50_000_000)).trades[0].quantity, 476);
    assert.equal(run(newDefinition(), market(bars, dates, 'KOSPI', 50_000_000)).trades[0].quantity, 952);
    assert.equal(run(def, market(bars, dates, 'KOSPI', 0)).trades.length, 0, 'no trading value: no buy');
  });
});

describe('definition: the tax and the trading value cap', () => {
  it('accepts saved definitions with sellTaxBps (ignored) and new ones without it', () => {
    const saved = JSON.parse(
      JSON.stringify(newDefinition({ costs: { commissionBps: 1.5, sellTaxBps: 23, slippageBps: 10 } })),
    );
    const r = parseStrategyDefinition(saved);
    assert.ok(r.ok);
    assert.deepEqual(r.value.costs, { commissionBps: 1.5, sellTaxBps: 23, slippageBps: 10 });
    const fresh = parseStrategyDefinition(JSON.parse(JSON.stringify(newDefinition())));
    assert.ok(fresh.ok);
    assert.deepEqual(fresh.value.costs, { commissionBps: 0, slippageBps: 0 });
  });

  it('parses maxTradingValueShare strictly, with its path', () => {
    const withShare = (v: unknown) =>
      parseStrategyDefinition({
        ...JSON.parse(JSON.stringify(newDefinition())),
        costs: { commissionBps: 0, slippageBps: 0, maxTradingValueShare: v },
      });
    const ok = withShare(0.05);
    assert.ok(ok.ok && ok.value.costs.maxTradingValueShare === 0.05);
    for (const [v, message] of [
      [0, 'must be > 0'],
      [1.5, 'must be <= 1'],
      ['0.1', 'must be a finite number'],
    ] as const) {
      const r = withShare(v);
      assert.deepEqual(!r.ok && r.errors, [{ path: 'costs.maxTradingValueShare', message }]);
    }
    const costs = strategyDefinitionJsonSchema.properties.costs as unknown as {
      required: string[];
      properties: Record<string, unknown>;
    };
    assert.deepEqual(costs.required, ['commissionBps', 'slippageBps']);
    assert.ok('maxTradingValueShare' in costs.properties);
  });
});
