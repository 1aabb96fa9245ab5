import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { buildMarketData, type PriceRow } from '@stocklab/strategy-engine';
import { capWeightedIndex } from '../src/index.js';

const bar = (date: number, code: string, close: number, marketCap: number): PriceRow => ({
  date,
  code,
  open: close,
  high: close,
  low: close,
  close,
  volume: 1,
  tradingValue: close,
  marketCap,
});

describe(capWeightedIndex.name, () => {
  // A (KOSPI, cap 300 then 330) rises 10 %; B (KOSDAQ, cap 100) falls 20 %, then has no bar.
  const data = buildMarketData({
    rows: [
      bar(20260102, 'A', 100, 300),
      bar(20260105, 'A', 110, 330),
      bar(20260106, 'A', 121, 363),
      bar(20260102, 'B', 50, 100),
      bar(20260105, 'B', 40, 80),
    ],
    stocks: { A: { market: 'KOSPI', sector: 'x' }, B: { market: 'KOSDAQ', sector: 'y' } },
  });

  it('starts at 1000 and weights each day’s returns by the previous day’s market cap', () => {
    const index = capWeightedIndex(data, () => true);
    assert.equal(index[0], 1000);
    // (300 x 10 % + 100 x -20 %) / 400 = +2.5 %
    assert.ok(Math.abs((index[1] ?? 0) - 1025) < 1e-9, String(index[1]));
    // day 3: only A has both closes: +10 %
    assert.ok(Math.abs((index[2] ?? 0) - 1127.5) < 1e-9, String(index[2]));
  });

  it('takes only the members the filter selects', () => {
    const kospi = capWeightedIndex(data, (s) => s.market === 'KOSPI');
    assert.deepEqual(
      Array.from(kospi).map((v) => Math.round(v * 1e6) / 1e6),
      [1000, 1100, 1210],
    );
    const kosdaq = capWeightedIndex(data, (s) => s.market === 'KOSDAQ');
    // a day without the member's close keeps the level
    assert.deepEqual(Array.from(kosdaq), [1000, 800, 800]);
  });

  it('stays flat when no member qualifies', () => {
    assert.deepEqual(Array.from(capWeightedIndex(data, () => false)), [1000, 1000, 1000]);
  });

  it('counts a transferred stock in its market of each day, never rewriting the past', () => {
    // C moves from KOSDAQ to KOSPI on 20260106: its +50 % of 01-05 is KOSDAQ's, its +10 % of 01-06 KOSPI's
    const moved = buildMarketData({
      rows: [
        bar(20260102, 'A', 100, 100),
        bar(20260105, 'A', 100, 100),
        bar(20260106, 'A', 100, 100),
        bar(20260102, 'C', 10, 100),
        bar(20260105, 'C', 15, 150),
        bar(20260106, 'C', 16.5, 165),
      ],
      stocks: {
        A: { market: 'KOSPI', sector: 'x' },
        C: {
          market: 'KOSPI',
          sector: 'y',
          history: [
            { from: 20250101, market: 'KOSDAQ', sector: 'y' },
            { from: 20260106, market: 'KOSPI', sector: 'y' },
          ],
        },
      },
    });
    const kospi = capWeightedIndex(moved, (s) => s.market === 'KOSPI');
    // 01-05: A alone (flat); 01-06: (100 x 0 % + 150 x 10 %) / 250 = +6 %
    assert.deepEqual(
      Array.from(kospi).map((v) => Math.round(v * 1e6) / 1e6),
      [1000, 1000, 1060],
    );
    const kosdaq = capWeightedIndex(moved, (s) => s.market === 'KOSDAQ');
    // 01-05: C's +50 %; 01-06: no KOSDAQ member, the level stays
    assert.deepEqual(Array.from(kosdaq), [1000, 1500, 1500]);
  });

  it('continues a prefix with the same point in time membership', () => {
    const whole = capWeightedIndex(data, (s) => s.market === 'KOSPI');
    assert.deepEqual(
      Array.from(capWeightedIndex(data, (s) => s.market === 'KOSPI', whole.subarray(0, 2))),
      Array.from(whole),
    );
  });
});
