import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { prng } from '@stocklab/test-support';
import { buildMarketData, type MarketData, type PriceRow } from '@stocklab/strategy-engine';
import {
  APPEND_HEADROOM_DAYS,
  applyMarketIncrement,
  benchmarksOf,
  decodeMarketIncrement,
  decodeMarketSnapshot,
  encodeMarketIncrement,
  encodeMarketSnapshot,
  extendPriceColumn,
  float32PriceColumn,
  isMarketIncrement,
  priceColumn,
  widenPriceColumn,
  SnapshotCorruptError,
  type MarketIncrement,
  type MarketSnapshot,
} from '../src/index.js';

const FIELDS = ['open', 'high', 'low', 'close', 'volume', 'tradingValue', 'marketCap'] as const;

function assertSameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}[${i}]: ${actual[i]} instead of ${expected[i]}`);
    }
  }
}

describe('price columns on shared memory with room for more days', () => {
  it('grows the newest view in place, leaving what older views cover as it was', () => {
    const column = priceColumn(3, 2);
    assert.ok(column.buffer instanceof SharedArrayBuffer && !column.buffer.growable);
    assert.equal(column.buffer.byteLength, (3 + APPEND_HEADROOM_DAYS) * 2 * 8, 'room for the headroom days');
    assert.ok(column.every((v) => Number.isNaN(v)));
    column.set([1, 2, 3, 4, 5, 6]);
    const longer = extendPriceColumn(column, 5, 2);
    assert.ok(longer.buffer === column.buffer, 'the same memory');
    assert.ok(extendPriceColumn(longer, 5, 2).buffer === column.buffer, 'extending by no day changes nothing');
    assert.equal(column.length, 6, 'the older view keeps its length');
    assert.deepEqual([...column], [1, 2, 3, 4, 5, 6]);
    assertSameBits(longer, [1, 2, 3, 4, 5, 6, NaN, NaN, NaN, NaN], 'extended');
  });

  it('grows a float32 column as float32s in place, and widens it to float64s as a copy', () => {
    const column = float32PriceColumn(3, 2);
    assert.equal(column.buffer.byteLength, (3 + APPEND_HEADROOM_DAYS) * 2 * 4, 'half the bytes');
    column.set([1, 2, 3, 4, 5, 6]);
    const longer = extendPriceColumn(column, 4, 2);
    assert.ok(longer instanceof Float32Array && longer.buffer === column.buffer, 'float32s, the same memory');
    assertSameBits(longer, [1, 2, 3, 4, 5, 6, NaN, NaN], 'extended');
    const wide = widenPriceColumn(longer, 5, 2);
    assert.ok(wide instanceof Float64Array && wide.buffer instanceof SharedArrayBuffer);
    assertSameBits(wide, [1, 2, 3, 4, 5, 6, NaN, NaN, NaN, NaN], 'widened');
    assert.ok(extendPriceColumn(wide, 6, 2).buffer === wide.buffer, 'the widened column grows in place');
  });

  it('copies when the view is not the newest, when there is no room left, or when it is not shared', () => {
    const column = priceColumn(2, 2, false).fill(7);
    const newest = extendPriceColumn(column, 3, 2);
    // column is no longer the buffer's newest view: growing it again would write what `newest` covers
    const other = extendPriceColumn(column, 3, 2);
    assert.ok(other.buffer !== column.buffer, 'a copy');
    newest[4] = 1;
    assert.ok(Number.isNaN(other[4]), 'the copy does not share the newer version');
    // the room is counted from the days the column was made with (2)
    const full = extendPriceColumn(newest, 2 + APPEND_HEADROOM_DAYS, 2);
    assert.ok(full.buffer === newest.buffer, 'exactly the headroom still fits');
    const beyond = extendPriceColumn(full, 3 + APPEND_HEADROOM_DAYS, 2);
    assert.ok(beyond.buffer !== full.buffer, 'beyond it: a copy');
    assertSameBits(beyond.subarray(0, full.length), full, 'copied');
    const plain = extendPriceColumn(Float64Array.of(1, 2), 2, 2);
    assertSameBits(plain, [1, 2, NaN, NaN], 'a plain array, copied');
    assert.throws(() => extendPriceColumn(column, 1, 2), RangeError);
  });
});

/** A market of `days` days whose every stock trades on day 0 (so a prefix has the same codes), with gaps later. */
function rowsOf(stocks: number, days: number, seed: number): PriceRow[] {
  const random = prng(seed);
  const rows: PriceRow[] = [];
  for (let s = 0; s < stocks; s++) {
    let price = 1000 + Math.floor(random() * 90_000);
    for (let d = 0; d < days; d++) {
      if (s === 2 && d % 5 === 4) {
        continue; // suspended some days
      }
      price = Math.max(1, Math.round(price * (1 + (random() - 0.5) * 0.1)));
      const volume = Math.floor(random() * 1_000_000);
      rows.push({
        date: 20240101 + Math.floor(d / 28) * 100 + (d % 28) + 1,
        code: String(200_000 + s),
        open: price,
        high: price + 3,
        low: price - 2,
        close: price,
        volume,
        tradingValue: price * volume + (s === 1 ? 0.25 : 0),
        marketCap: price * 1_000_003,
      });
    }
  }
  return rows;
}

function snapshotOf(rows: PriceRow[], version: string): MarketSnapshot {
  const data = buildMarketData({
    rows,
    statements: [],
    stocks: Object.fromEntries(
      rows.map((r) => [r.code, { market: r.code.endsWith('1') ? 'KOSDAQ' : 'KOSPI', sector: '기타' }]),
    ),
  });
  return { version, data, benchmarks: benchmarksOf(data), loadedInMs: 0, precedingDates: new Int32Array() };
}

/** The days of `whole` after its first `from` days, as the increment of version `version` on `base`. */
function incrementOf(whole: MarketData, from: number, base: string, version: string): MarketIncrement {
  const S = whole.codes.length;
  return {
    version,
    base,
    chain: 1,
    after: whole.dates[from - 1],
    codes: whole.codes,
    dates: whole.dates.slice(from),
    columns: Object.fromEntries(FIELDS.map((f) => [f, whole[f].slice(from * S)])) as MarketIncrement['columns'],
  };
}

describe('increments of a stored snapshot', () => {
  const rows = rowsOf(6, 40, 3);
  const cut = rowsOf(6, 40, 3).filter((r) => r.date < 20240208);
  const whole = snapshotOf(rows, '43');
  const base = snapshotOf(cut, '42');
  const from = base.data.dates.length;

  it('round-trips, and applied to its base gives the whole bit for bit, benchmarks included', () => {
    const bytes = encodeMarketIncrement(incrementOf(whole.data, from, '42', '43'), whole.data.stocks);
    assert.equal(isMarketIncrement(bytes), true);
    assert.equal(isMarketIncrement(encodeMarketSnapshot(base)), false);
    const increment = decodeMarketIncrement(bytes);
    assert.equal(increment.base, '42');
    assert.equal(increment.after, base.data.dates.at(-1));
    const stored = decodeMarketSnapshot(encodeMarketSnapshot(base));
    const applied = applyMarketIncrement({ ...stored, loadedInMs: 0 }, increment);
    assert.equal(applied.version, '43');
    assertSameBits(applied.data.dates, whole.data.dates, 'dates');
    for (const f of FIELDS) {
      assertSameBits(applied.data[f], whole.data[f], f);
    }
    for (const id of ['KOSPI', 'KOSDAQ', 'MARKET'] as const) {
      assertSameBits(applied.benchmarks[id], whole.benchmarks[id], id);
    }
    // the base as decoded is untouched (a job may still run on it)
    assertSameBits(stored.data.close, base.data.close, 'base close');
  });

  it('extends a base held as float32s in place, widening only a column that takes a value beyond 2^24', () => {
    const increment = incrementOf(whole.data, from, '42', '43');
    const S = whole.data.codes.length;
    increment.columns.close = increment.columns.close.slice();
    increment.columns.close[S + 2] = 2 ** 24 + 1;
    const stored = decodeMarketSnapshot(encodeMarketSnapshot(base));
    assert.ok(stored.data.close instanceof Float32Array && stored.data.open instanceof Float32Array);
    const applied = applyMarketIncrement(
      { ...stored, loadedInMs: 0 },
      decodeMarketIncrement(encodeMarketIncrement(increment, whole.data.stocks)),
    );
    assert.ok(applied.data.close instanceof Float64Array, 'close widened');
    assert.equal(applied.data.close[(from + 1) * S + 2], 2 ** 24 + 1);
    assertSameBits(applied.data.close.subarray(0, from * S), base.data.close, 'the history kept');
    assert.ok(applied.data.open instanceof Float32Array && applied.data.open.buffer === stored.data.open.buffer);
    for (const f of FIELDS) {
      assertSameBits(applied.data[f].subarray(from * S), increment.columns[f], f);
    }
    assertSameBits(stored.data.close, base.data.close, 'the base as decoded is untouched');
  });

  it('is refused where it does not fit: another kind of object, another base, a gap, other securities', () => {
    const increment = incrementOf(whole.data, from, '42', '43');
    const bytes = encodeMarketIncrement(increment, whole.data.stocks);
    assert.throws(() => decodeMarketSnapshot(bytes), SnapshotCorruptError);
    assert.throws(() => decodeMarketIncrement(encodeMarketSnapshot(base)), SnapshotCorruptError);
    const corrupt = Buffer.from(bytes);
    corrupt[corrupt.length - 3] ^= 0xff;
    assert.throws(() => decodeMarketIncrement(corrupt), SnapshotCorruptError);
    assert.throws(() => applyMarketIncrement(base, { ...increment, base: '41' }), /is on version 41/);
    assert.throws(() => applyMarketIncrement(base, incrementOf(whole.data, from + 1, '42', '43')), /does not follow/);
    assert.throws(
      () => applyMarketIncrement(base, { ...increment, codes: [...increment.codes].reverse() }),
      /other securities/,
    );
    assert.throws(
      () => encodeMarketIncrement({ ...increment, dates: increment.dates.slice(1) }, whole.data.stocks),
      RangeError,
    );
  });
});
