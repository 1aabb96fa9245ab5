import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  buildMarketData,
  parseStrategyDefinition,
  runBacktest,
  selectPicks,
  strategyDefinitionJsonSchema,
  type PriceRow,
  type StockInfo,
  type Trade,
} from '../src/index.js';
import { flat, newDefinition, newMarket } from './fixtures.js';

const ALL = { from: 20240101, to: 20241231 };
const sells = (trades: Trade[]): Trade[] => trades.filter((t) => t.side === 'sell');
/** KOSPI in 2024: 0.03 % transaction tax + 0.15 % rural tax, each truncated to the won. */
const kospiTax2024 = (amount: number): number => Math.floor((amount * 3) / 10_000) + Math.floor((amount * 15) / 10_000);
const DATES = [20240102, 20240103, 20240104, 20240105, 20240108, 20240109, 20240110];

describe('halts', () => {
  it('values a halted holding at its last close and sells it only on the next bar that trades', () => {
    // A is bought at 01-03's open (100): limit 105, floor(1,000,000 / 105) = 9,523 shares.
    // maxHoldingDays 2: the market sell goes out for 01-05's open, but A has no bar on 01-05 and a
    // zero-volume bar (the vendor's carried-forward 110) on 01-08: halted, nothing fills. The sell
    // waits and fills at 01-09's open, 90. On the halted days A is worth its last close, 110.
    const bars: Array<[number, number, number] | null> = [
      [100, 100, 1000],
      [100, 100, 1000],
      [110, 110, 1000],
      null,
      [110, 110, 0],
      [90, 95, 1000],
      [95, 95, 1000],
    ];
    const rows: PriceRow[] = [];
    bars.forEach((bar, i) => {
      if (bar) {
        const [open, close, volume] = bar;
        const [high, low] = [Math.max(open, close), Math.min(open, close)];
        rows.push({ date: DATES[i], code: 'A', open, high, low, close, volume });
      }
    });
    const data = buildMarketData({ rows, dates: DATES });
    const r = runBacktest(newDefinition({ sell: { maxHoldingDays: 2 } }), data, ALL);
    assert.deepEqual(
      r.trades.map((t) => [t.date, t.side, t.reason, t.price, t.quantity]),
      [
        [20240103, 'buy', 'signal', 100, 9523],
        [20240109, 'sell', 'max_holding', 90, 9523],
      ],
    );
    assert.equal(r.equityCurve.invested[3], 9523 * 110, '01-05: no bar, last close');
    assert.equal(r.equityCurve.invested[4], 9523 * 110, '01-08: zero-volume bar, last close');
    assert.equal(r.equityCurve.value[4], 1_000_000 - 952_300 + 1_047_530);
  });

  it('never sells a stock whose bars stop without a recorded delisting, to the end of the run', () => {
    // A trades until 01-04 (close 110), then nothing: a halt at the end of the data, as on the
    // morning of a run ending today. It stays held at 110.
    const bars = { A: [flat(100), flat(100), flat(110), null, null] };
    for (const stocks of [undefined, { A: { market: 'KOSPI', sector: '', delistedOn: 20240201 } as StockInfo }]) {
      const r = runBacktest(newDefinition(), newMarket(bars, undefined, stocks), ALL);
      assert.equal(sells(r.trades).length, 0, 'no sell: halted, or delisted only after the data');
      assert.deepEqual(
        r.openPositions.map((p) => [p.code, p.quantity, p.lastPrice, p.marketValue]),
        [['A', 9523, 110, 9523 * 110]],
      );
      assert.equal(r.equityCurve.invested[4], 9523 * 110);
    }
  });
});

describe('delistings', () => {
  it('closes a delisted holding on its recorded date at its last close less the haircut, with costs', () => {
    // A: bought 01-03 at 100 x 1.01 = 101 (slippage 100 bps, commission 10 bps: sized on the worst
    // fill 105 x 1.01 -> 107 on the grid, floor(1,000,000 / (107 x 1.001)) = 9,336 shares),
    // halted from 01-05, delisting recorded for Saturday 01-06: closed at the close of the first
    // trading day on or after it, 01-08, at 110 x (1 - 20 %) = 88, no slippage nor tick rounding.
    const data = newMarket(
      { A: [flat(100), flat(100), flat(110), null, null, null], B: DATES.slice(0, 6).map(() => flat(1)) },
      undefined,
      { A: { market: 'KOSPI', sector: '', delistedOn: 20240106 } },
    );
    const def = newDefinition({ costs: { commissionBps: 10, slippageBps: 100, delistingHaircutPct: 20 } });
    const r = runBacktest(def, data, ALL);
    const buy = r.trades[0];
    assert.deepEqual([buy.date, buy.code, buy.price, buy.quantity], [20240103, 'A', 101, 9336]);
    const s = sells(r.trades);
    assert.equal(s.length, 1);
    const sale = s[0];
    assert.deepEqual([sale.date, sale.reason, sale.price, sale.quantity], [20240108, 'delisted', 88, 9336]);
    assert.equal(sale.amount, 821_568); // 9,336 x 88
    assert.equal(sale.commission, 821); // floor(821,568 x 0.001)
    assert.equal(sale.tax, kospiTax2024(821_568)); // 246 + 1,232
    assert.equal(sale.tax, 1478);
    assert.equal(r.equityCurve.invested[3], 9336 * 110, '01-05: halted, at its last close');
    assert.equal(r.equityCurve.invested[4], 0);
    const cashAfterBuy = 1_000_000 - 942_936 - 942; // 9,336 x 101, commission floor(942.936)
    assert.equal(r.equityCurve.cash[4], cashAfterBuy + 821_568 - 821 - 1478);
    assert.equal(r.openPositions.length, 0);
  });

  it('leaves the universe on its delisting date even when the data still has bars', () => {
    const data = newMarket({ A: DATES.map(() => flat(500)), B: DATES.map(() => flat(100)) }, undefined, {
      A: { market: 'KOSPI', sector: '', delistedOn: 20240108 },
    });
    const def = newDefinition({ rebalance: 'daily' });
    assert.equal(selectPicks(def, data, 3).picks[0]?.code, 'A', '01-05: listed');
    assert.equal(selectPicks(def, data, 4).picks[0]?.code, 'B', '01-08: delisted');
  });

  it('parses costs.delistingHaircutPct (0..100, default 0) and documents it in the JSON schema', () => {
    const body = (pct: unknown) => ({
      ...newDefinition(),
      costs: { commissionBps: 0, slippageBps: 0, delistingHaircutPct: pct },
    });
    const ok = parseStrategyDefinition(body(35));
    assert.ok(ok.ok && ok.value.costs.delistingHaircutPct === 35);
    for (const bad of [-1, 101, '5', Number.NaN]) {
      const parsed = parseStrategyDefinition(body(bad));
      assert.ok(!parsed.ok && parsed.errors.some((e) => e.path === 'costs.delistingHaircutPct'), String(bad));
    }
    const schema = JSON.stringify(strategyDefinitionJsonSchema);
    assert.match(schema, /"delistingHaircutPct":\{"type":"number","minimum":0,"maximum":100,"default":0/);
  });
});

describe('point in time market and sector', () => {
  // B moves from KOSDAQ to KOSPI (and from sector 'bio' to 'pharma') on 01-08.
  const stocks: Record<string, StockInfo> = {
    A: { market: 'KOSPI', sector: 'pharma' },
    B: {
      market: 'KOSPI',
      sector: 'pharma',
      history: [
        { from: 20200101, market: 'KOSDAQ', sector: 'bio' },
        { from: 20240108, market: 'KOSPI', sector: 'pharma' },
      ],
    },
  };
  const data = newMarket({ A: DATES.map(() => flat(100)), B: DATES.map(() => flat(200)) }, undefined, stocks);

  it('a KOSDAQ -> KOSPI transfer puts the stock in a KOSPI universe from the transfer date', () => {
    const def = newDefinition({ universe: { scope: 'markets', markets: ['KOSPI'] }, rebalance: 'daily' });
    assert.equal(selectPicks(def, data, 3).picks[0]?.code, 'A', '01-05: B is on KOSDAQ');
    assert.equal(selectPicks(def, data, 4).picks[0]?.code, 'B', '01-08: B is on KOSPI');
    const kosdaq = newDefinition({ universe: { scope: 'markets', markets: ['KOSDAQ'] } });
    assert.equal(selectPicks(kosdaq, data, 3).picks[0]?.code, 'B');
    assert.equal(selectPicks(kosdaq, data, 4).picks.length, 0);
    // the backtest: A from 01-03; re-ranked at 01-08's close: A sold at 01-09's open, and B, whose
    // buy could not count on that sale (one position), bought at 01-10's
    const r = runBacktest(def, data, ALL);
    assert.deepEqual(
      r.trades.map((t) => [t.date, t.code, t.side]),
      [
        [20240103, 'A', 'buy'],
        [20240109, 'A', 'sell'],
        [20240110, 'B', 'buy'],
      ],
    );
  });

  it('a sector universe uses the sector as of the day', () => {
    const def = newDefinition({ universe: { scope: 'sectors', sectors: ['pharma'] } });
    assert.equal(selectPicks(def, data, 3).picks[0]?.code, 'A');
    assert.equal(selectPicks(def, data, 4).picks[0]?.code, 'B');
  });

  it('rejects a history that is not strictly ascending', () => {
    const bad = { ...stocks, B: { ...stocks.B, history: [...(stocks.B.history ?? [])].reverse() } };
    assert.throws(() => newMarket({ A: [flat(1)], B: [flat(1)] }, undefined, bad), /strictly ascending by from/);
  });
});
