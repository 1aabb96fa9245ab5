import assert from 'node:assert/strict';
import { crc32, zstdCompressSync } from 'node:zlib';
import { describe, it } from '@jest/globals';
import { prng } from '@stocklab/test-support';
import {
  buildMarketData,
  OPTIONAL_STATEMENT_FIELDS,
  plainStatement,
  type FundamentalStatement,
  type MarketData,
  type PriceRow,
  type StatementRow,
  type StockInfo,
} from '@stocklab/strategy-engine';
import {
  capWeightedIndex,
  decodeMarketSnapshot,
  encodeMarketSnapshot,
  headerPrefix,
  sharedStatementsOf,
  SNAPSHOT_FORMAT,
  SNAPSHOT_MAGIC,
  SnapshotCorruptError,
  snapshotVersion,
  type MarketSnapshot,
} from '../src/index.js';

/** A market with gaps (listings, suspensions, a delisting), fractional and huge values, and statements. */
function market(
  stocks: number,
  days: number,
  seed: number,
  fractionalValue = true,
): Pick<MarketSnapshot, 'version' | 'data' | 'benchmarks'> {
  const random = prng(seed);
  const rows: PriceRow[] = [];
  const statements: StatementRow[] = [];
  const dates: number[] = [];
  for (let d = 0; d < days; d++) {
    dates.push(20200101 + Math.floor(d / 28) * 100 + (d % 28) + 1);
  }
  for (let s = 0; s < stocks; s++) {
    const code = String(100_000 + s * 10);
    let price = 1000 + Math.floor(random() * 900_000);
    for (const [d, date] of dates.entries()) {
      if ((s === 1 && d < days / 2) || (s === 2 && d % 7 === 3) || (s === 3 && d > days - 5)) {
        continue; // listed later, suspended some days, delisted
      }
      price = Math.max(1, Math.round(price * (1 + (random() - 0.5) * 0.1)));
      const volume = Math.floor(random() * 5_000_000);
      rows.push({
        date,
        code,
        open: price,
        high: price + 5,
        low: price - 1,
        close: price,
        volume,
        tradingValue: price * volume + (s === 4 && fractionalValue ? 0.5 : 0),
        marketCap: s === 5 && d === 0 ? Number.NaN : price * 123_456_789,
      });
    }
    statements.push({
      code,
      reportDate: 20200315,
      netIncome: random() * 1e12,
      equity: 5e12,
      revenue: 1e13,
      operatingIncome: -3.25e11,
      liabilities: 2e12,
      revenuePrevYear: s === 0 ? Number.NaN : 9e12,
      // the optional figures: all of them, a few (the rest absent, as the loader leaves them), or none
      ...(s % 3 === 0
        ? Object.fromEntries(OPTIONAL_STATEMENT_FIELDS.map((f, k) => [f, (k - 5) * 1.5e11 + random() * 1e9]))
        : s % 3 === 1
          ? { grossProfit: 4.5e12, eps: 1234.5678, epsPrevQuarter: -12.25, borrowings: 0 }
          : {}),
    });
  }
  const infos: Record<string, StockInfo> = Object.fromEntries(
    rows.map((r) => [r.code, { market: r.code.endsWith('0') ? 'KOSDAQ' : 'KOSPI', sector: `섹터 ${r.code[3]}` }]),
  );
  // the stock whose bars stop is recorded as delisted; another moved from KOSDAQ to KOSPI
  const delisted = infos[String(100_030)];
  if (delisted) {
    delisted.delistedOn = dates[days - 4];
  }
  const moved = infos[String(100_060)];
  if (moved) {
    moved.history = [
      { from: 20200102, market: 'KOSDAQ', sector: '바이오' },
      { from: dates[days >> 1] ?? 20200102, market: 'KOSPI', sector: '제약' },
    ];
  }
  const data = buildMarketData({ rows, statements, stocks: infos });
  return {
    version: '42',
    data,
    benchmarks: {
      KOSPI: capWeightedIndex(data, (x) => x.market === 'KOSPI'),
      KOSDAQ: capWeightedIndex(data, (x) => x.market === 'KOSDAQ'),
      MARKET: capWeightedIndex(data, () => true),
    },
  };
}

function assertSameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}[${i}]: ${actual[i]} instead of ${expected[i]}`);
    }
  }
}

function assertSameMarket(actual: MarketData, expected: MarketData): void {
  assertSameBits(actual.dates, expected.dates, 'dates');
  assert.deepEqual(actual.codes, expected.codes);
  assert.deepEqual(actual.stocks, expected.stocks);
  for (const field of ['open', 'high', 'low', 'close', 'volume', 'tradingValue', 'marketCap'] as const) {
    assertSameBits(actual[field], expected[field], field);
  }
  // decoded statements are views carrying every figure, NaN where the original lacked it
  assert.deepEqual(
    actual.fundamentals.map((list) => list.map(plainStatement)),
    expected.fundamentals.map((list) => list.map(plainStatement)),
  );
}

describe('market snapshot codec', () => {
  const original = market(12, 300, 7);
  const bytes = encodeMarketSnapshot(original);

  it('decodes every value bit for bit: gaps as NaN, fractional and beyond-int32 columns, statements, benchmarks', () => {
    const decoded = decodeMarketSnapshot(bytes);
    assert.equal(decoded.version, '42');
    assertSameMarket(decoded.data, original.data);
    assert.equal(decoded.data.stocks[3]?.delistedOn, original.data.dates[296], 'the recorded delisting date');
    assert.deepEqual(
      decoded.data.stocks[6]?.history?.map((h) => h.market),
      ['KOSDAQ', 'KOSPI'],
      'the market transfer',
    );
    for (const id of ['KOSPI', 'KOSDAQ', 'MARKET'] as const) {
      assertSameBits(decoded.benchmarks[id], original.benchmarks[id], id);
    }
  });

  function sectionsOf(encoded: Buffer): Array<{ name: string; encoding: string; predictor?: string; held?: string }> {
    const start = SNAPSHOT_MAGIC.length + 8;
    const header = JSON.parse(encoded.toString('utf8', start, start + encoded.readUInt32BE(SNAPSHOT_MAGIC.length))) as {
      sections: Array<{ name: string; encoding: string; predictor?: string; held?: string }>;
    };
    return header.sections;
  }

  const PRICE_COLUMNS = new Set(['open', 'high', 'low', 'close', 'volume', 'tradingValue', 'marketCap']);

  /** The price columns' encodings and predictors, in the order they are stored. */
  function layouts(encoded: Buffer): Record<string, string> {
    return Object.fromEntries(
      sectionsOf(encoded)
        .filter((x) => PRICE_COLUMNS.has(x.name))
        .map((x) => [x.name, [x.encoding, x.predictor, x.held && `held as ${x.held}`].filter(Boolean).join(' ')]),
    );
  }

  const encodings = (encoded: Buffer): Record<string, string> =>
    Object.fromEntries(sectionsOf(encoded).map((x) => [x.name, x.encoding]));

  it('chooses the most compact exact encoding each column allows, and decodes each bit for bit', () => {
    assert.deepEqual(
      layouts(bytes),
      {
        close: 'int32-planes previous-day held as float32',
        open: 'int32-planes previous-close held as float32',
        high: 'int32-planes max-open-close held as float32',
        low: 'int32-planes min-open-close held as float32',
        // volumes may run past 2^24: never held as float32s
        volume: 'int32-planes previous-day',
        // a fractional value (stock 4): stored as it is
        tradingValue: 'float64-planes',
        marketCap: 'times-close',
      },
      'the price columns, each after the columns its prediction reads',
    );
    const whole = market(12, 300, 7, false);
    const wholeBytes = encodeMarketSnapshot(whole);
    assert.equal(layouts(wholeBytes).tradingValue, 'uint53-planes typical-value');
    assertSameMarket(decodeMarketSnapshot(wholeBytes).data, whole.data);
    // errors that wrap around int32 (the extremes next to each other and to gaps) come back exact
    const extreme = market(12, 300, 7, false);
    const S = extreme.data.codes.length;
    for (const [day, value] of [
      [10, 0x7fffffff],
      [11, -0x7fffffff],
      [12, 0x7fffffff],
      [14, 1],
    ] as const) {
      for (const field of ['open', 'high', 'low', 'close', 'volume'] as const) {
        extreme.data[field][day * S] = field === 'low' ? -value : value;
      }
    }
    const extremeBytes = encodeMarketSnapshot(extreme);
    assert.equal(layouts(extremeBytes).high, 'int32-planes max-open-close', 'beyond 2^24: float64s');
    assertSameMarket(decodeMarketSnapshot(extremeBytes).data, extreme.data);
    // a trading value too far from volume x the mean price for an exact float64 error: stored as it is
    const far = market(12, 300, 7, false);
    far.data.tradingValue[40] = 2 ** 52 + 2;
    const farBytes = encodeMarketSnapshot(far);
    assert.equal(layouts(farBytes).tradingValue, 'float64-planes');
    assertSameMarket(decodeMarketSnapshot(farBytes).data, far.data);
  });

  it('holds whole-KRW prices as float32s (the same numbers in half the memory), and a column with one value beyond 2^24 as float64s', () => {
    const { data } = decodeMarketSnapshot(bytes);
    for (const field of ['open', 'high', 'low', 'close'] as const) {
      assert.ok(data[field] instanceof Float32Array, `${field} held as float32s`);
    }
    for (const field of ['volume', 'tradingValue', 'marketCap'] as const) {
      assert.ok(data[field] instanceof Float64Array, `${field} held as float64s`);
    }
    const big = market(12, 300, 7, false);
    const S = big.data.codes.length;
    // the last whole number a float32 holds, and the first it does not, on another stock
    big.data.close[20 * S] = 2 ** 24;
    big.data.high[20 * S] = 2 ** 24;
    big.data.high[20 * S + 6] = 2 ** 24 + 1;
    const decoded = decodeMarketSnapshot(encodeMarketSnapshot(big)).data;
    assert.ok(decoded.close instanceof Float32Array, 'close up to 2^24: float32s');
    assert.ok(decoded.high instanceof Float64Array, 'high with 2^24 + 1: float64s');
    assert.equal(decoded.high[20 * S + 6], 2 ** 24 + 1);
    assertSameMarket(decoded, big.data);
  });

  it('refuses a header that says a column is held as float32s when its values are not, or of another encoding', () => {
    const big = market(12, 300, 7, false);
    const S = big.data.codes.length;
    big.data.close[30 * S + 5] = 2 ** 24 + 1;
    big.data.close[31 * S + 5] = -(2 ** 24) - 1;
    const bigBytes = encodeMarketSnapshot(big);
    const holding = (names: string[], held: string) => (_: unknown, s: ForgedSection[]) =>
      s.map((x) => (names.includes(x.name) ? { ...x, held } : x));
    for (const [what, forged] of [
      ['a value above 2^24', forge(bigBytes, holding(['close'], 'float32'))],
      ['float64 planes', forge(bytes, holding(['tradingValue'], 'float32'))],
      ['a factor of the close', forge(bytes, holding(['marketCap'], 'float32'))],
      ['an unknown type', forge(bytes, holding(['close'], 'float16'))],
      // whole numbers within 2^24 here, but volumes are never held as float32s
      ['the volume', forge(bytes, holding(['volume'], 'float32'))],
      ['a statement figure', forge(bytes, holding(['statement:eps'], 'float32'))],
    ] as const) {
      assert.throws(() => decodeMarketSnapshot(forged), SnapshotCorruptError, what);
    }
    // one value below -2^24 alone is refused too
    big.data.close[30 * S + 5] = 1000;
    assert.throws(
      () => decodeMarketSnapshot(forge(encodeMarketSnapshot(big), holding(['close'], 'float32'))),
      SnapshotCorruptError,
      'a value below -2^24',
    );
  });

  it('puts the price columns on SharedArrayBuffers, so worker threads read them without a copy', () => {
    const { data } = decodeMarketSnapshot(bytes);
    assert.ok(data.close.buffer instanceof SharedArrayBuffer);
    assert.ok(data.marketCap.buffer instanceof SharedArrayBuffer);
  });

  it('gives the statements as views over shared columns, which are what a worker thread is sent', () => {
    const { data } = decodeMarketSnapshot(bytes);
    const shared = sharedStatementsOf(data.fundamentals);
    assert.ok(shared.figures.netIncome.buffer instanceof SharedArrayBuffer);
    assert.ok(
      shared.reportDate.buffer instanceof SharedArrayBuffer && shared.start.buffer instanceof SharedArrayBuffer,
    );
    // the last statement of the last stock that has one: the columns hold every stock's before it
    const stock = data.fundamentals.findLastIndex((list) => list.length > 0);
    assert.ok(stock > 0, 'the fixture has statements beyond the first stock');
    const list = data.fundamentals[stock] ?? [];
    const st = list.at(-1) as FundamentalStatement;
    const at = (shared.start[stock] ?? 0) + list.length - 1;
    assert.equal(st.netIncome, shared.figures.netIncome[at]);
    assert.equal(st.reportDate, shared.reportDate[at]);
    // the same columns every time: not built again from the views
    assert.equal(sharedStatementsOf(data.fundamentals), shared);
    assert.equal(shared.start[data.codes.length], original.data.fundamentals.flat().length);
  });

  it('stores whole-number columns in 32 bits: smaller than the raw float64 columns even for random prices', () => {
    const raw = original.data.close.byteLength * 7;
    assert.ok(bytes.length < raw / 1.5, `${bytes.length} bytes for ${raw} raw`);
  });

  it('gives the same bytes for the same snapshot, and tells its version from the header alone', () => {
    assert.ok(encodeMarketSnapshot(original).equals(bytes));
    assert.equal(snapshotVersion(bytes), '42');
  });

  it('round-trips an empty market', () => {
    const empty = buildMarketData({ rows: [] });
    const decoded = decodeMarketSnapshot(
      encodeMarketSnapshot({
        version: '0',
        data: empty,
        benchmarks: { KOSPI: new Float64Array(), KOSDAQ: new Float64Array(), MARKET: new Float64Array() },
      }),
    );
    assertSameMarket(decoded.data, empty);
  });

  it('rejects a flipped byte in the header or any section (checksums), a truncated file and a foreign file', () => {
    const bodyStart = SNAPSHOT_MAGIC.length + 8 + bytes.readUInt32BE(SNAPSHOT_MAGIC.length);
    for (const at of [
      SNAPSHOT_MAGIC.length + 12,
      bodyStart,
      Math.floor((bodyStart + bytes.length) / 2),
      bytes.length - 1,
    ]) {
      const flipped = Buffer.from(bytes);
      flipped[at] = flipped[at] ^ 0x40;
      assert.throws(() => decodeMarketSnapshot(flipped), SnapshotCorruptError, `byte ${at}`);
    }
    assert.throws(() => decodeMarketSnapshot(bytes.subarray(0, bytes.length - 10)), SnapshotCorruptError);
    assert.throws(() => decodeMarketSnapshot(bytes.subarray(0, 10)), SnapshotCorruptError);
    assert.throws(() => decodeMarketSnapshot(Buffer.from('code,date,open\n')), SnapshotCorruptError);
  });

  it('rejects a header that does not match its sections even when its checksum does', () => {
    const headerLength = bytes.readUInt32BE(SNAPSHOT_MAGIC.length);
    const headerStart = SNAPSHOT_MAGIC.length + 8;
    const header = JSON.parse(bytes.toString('utf8', headerStart, headerStart + headerLength)) as {
      days: number;
      format: number;
      sections: Array<{ name: string; encoding: string }>;
      history?: unknown[];
    };
    assert.ok((header.history?.length ?? 0) >= 2, 'the fixture has a history');
    for (const tampered of [
      { ...header, days: header.days + 1 },
      { ...header, format: SNAPSHOT_FORMAT + 1 },
      // format 1 had no delisting dates nor histories: never read as a market without them
      { ...header, format: 1, delistedOn: undefined, history: undefined },
      { ...header, delistedOn: undefined },
      { ...header, delistedOn: [] },
      { ...header, history: [...(header.history ?? [])].reverse() },
      { ...header, history: [[999, 20200102, 'KOSPI', 'x']] },
      // format 2 had the corporate actions but no delisting dates nor histories
      { ...header, format: 2 },
      // format 3 had no optional statement figures and quarter flows: never read as statements without them
      { ...header, format: 3 },
      // format 4 stored the price columns whole, as day-to-day int32 differences
      { ...header, format: 4 },
      { ...header, sections: header.sections.map((x) => (x.name === 'close' ? { ...x, encoding: 'int64' } : x)) },
      { ...header, sections: header.sections.map((x) => (x.name === 'marketCap' ? { ...x, encoding: 'int32' } : x)) },
    ]) {
      const json = Buffer.from(JSON.stringify(tampered));
      const forged = Buffer.concat([
        SNAPSHOT_MAGIC,
        headerPrefix(json),
        json,
        bytes.subarray(headerStart + headerLength),
      ]);
      assert.throws(() => decodeMarketSnapshot(forged), SnapshotCorruptError);
    }
  });

  interface ForgedSection {
    name: string;
    encoding: string;
    predictor?: string;
    length: number;
    bytes: number;
    crc32: number;
    stored: Buffer;
  }

  /** Rewrites a snapshot's header and sections with valid checksums: only the structural checks can refuse it. */
  function forge(
    encoded: Buffer,
    change: (header: Record<string, unknown>, sections: ForgedSection[]) => ForgedSection[],
  ): Buffer {
    const start = SNAPSHOT_MAGIC.length + 8;
    const end = start + encoded.readUInt32BE(SNAPSHOT_MAGIC.length);
    const header = JSON.parse(encoded.toString('utf8', start, end)) as Record<string, unknown> & {
      sections: Omit<ForgedSection, 'stored'>[];
    };
    let offset = end;
    const sections = header.sections.map((x) => {
      const stored = encoded.subarray(offset, offset + x.bytes);
      offset += x.bytes;
      return { ...x, stored };
    });
    const changed = change(header, sections).map((x) => ({ ...x, bytes: x.stored.length, crc32: crc32(x.stored) }));
    header.sections = changed.map(({ stored: _stored, ...info }) => info);
    const json = Buffer.from(JSON.stringify(header));
    return Buffer.concat([SNAPSHOT_MAGIC, headerPrefix(json), json, ...changed.map((x) => x.stored)]);
  }

  const replaced = (sections: ForgedSection[], name: string, raw: ArrayBufferView): ForgedSection[] =>
    sections.map((x) =>
      x.name === name
        ? { ...x, stored: zstdCompressSync(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)) }
        : x,
    );

  it('carries the corporate actions, and refuses a snapshot of format 1 (no place for them) so that it is rebuilt', () => {
    const withActions = {
      ...original,
      data: {
        ...original.data,
        corporateActions: [
          { stock: 0, exDate: original.data.dates[10] ?? 0, kind: 'split' as const, priceFactor: 50, shareRatio: 50 },
          {
            stock: 3,
            exDate: original.data.dates[10] ?? 0,
            kind: 'rights_issue' as const,
            priceFactor: 1.2345678901,
            shareRatio: 1,
          },
          {
            stock: 2,
            exDate: original.data.dates[200] ?? 0,
            kind: 'reverse_split' as const,
            priceFactor: 0.1,
            shareRatio: 0.1,
          },
        ],
      },
    };
    const decoded = decodeMarketSnapshot(encodeMarketSnapshot(withActions));
    assert.deepEqual(decoded.data.corporateActions, withActions.data.corporateActions);
    assertSameMarket(decoded.data, original.data);
    assert.equal(decodeMarketSnapshot(bytes).data.corporateActions, undefined, 'none stored, none decoded');
    // what a format-1 writer stored: no action sections, no count
    const old = forge(bytes, (header, sections) => {
      header.format = 1;
      delete header.corporateActions;
      return sections.filter((x) => !x.name.startsWith('action:'));
    });
    assert.throws(() => decodeMarketSnapshot(old), new RegExp(`format 1, expected ${SNAPSHOT_FORMAT}`));
    assert.throws(() => snapshotVersion(old), SnapshotCorruptError);
    // a kind the format does not know is corruption, not a guess
    const badKind = forge(encodeMarketSnapshot(withActions), (_header, sections) =>
      replaced(sections, 'action:kind', Int32Array.from([0, 7, 1])),
    );
    assert.throws(() => decodeMarketSnapshot(badKind), /corporate action 1 names kind 7/);
  });

  it('refuses well-checksummed snapshots whose sections do not fit together', () => {
    const cases: Record<string, (h: Record<string, unknown>, s: ForgedSection[]) => ForgedSection[]> = {
      'a section missing': (_, s) => s.slice(0, -1),
      'a section that is not zstd': (_, s) =>
        s.map((x) => (x.name === 'open' ? { ...x, stored: Buffer.from('not zstd') } : x)),
      'a market cap factor of the wrong size': (_, s) => replaced(s, 'marketCap', new Float64Array(3)),
      'a column of the wrong size': (_, s) => replaced(s, 'close', new Int32Array(3)),
      'float64 planes of the wrong size': (_, s) => replaced(s, 'tradingValue', new Uint8Array(8)),
      'market cap before the close it multiplies': (_, s) => {
        const cap = s.find((x) => x.name === 'marketCap') as ForgedSection;
        return [cap, ...s.filter((x) => x !== cap)];
      },
      'a statement of a stock that does not exist': (h, s) =>
        replaced(s, 'statement:stock', new Int32Array(h.statements as number).fill(9999)),
      'report dates that need not be whole numbers': (h, s) =>
        replaced(s, 'statement:reportDate', new Float64Array(h.statements as number).fill(20200101.5)).map((x) =>
          x.name === 'statement:reportDate' ? { ...x, encoding: 'float64-planes' } : x,
        ),
      "statements out of their stocks' order": (h, s) =>
        replaced(
          s,
          'statement:stock',
          new Int32Array(h.statements as number).map((_, i) => (i === 0 ? 1 : 0)),
        ),
      'an unknown encoding': (_, s) => s.map((x) => (x.name === 'volume' ? { ...x, encoding: 'int64' } : x)),
      'an unknown prediction': (_, s) => s.map((x) => (x.name === 'high' ? { ...x, predictor: 'average' } : x)),
      // every object has these: a look-up by `in` took them for predictors
      'a prediction named after an object property': (_, s) =>
        s.map((x) => (x.name === 'high' ? { ...x, predictor: 'toString' } : x)),
      'a prediction of another encoding': (_, s) =>
        s.map((x) => (x.name === 'close' ? { ...x, predictor: 'typical-value' } : x)),
      'int32 planes without a prediction': (_, s) =>
        s.map((x) => (x.name === 'close' ? { ...x, predictor: undefined } : x)),
      'a prediction from a column stored after it': (_, s) => {
        const open = s.find((x) => x.name === 'open') as ForgedSection;
        return [open, ...s.filter((x) => x !== open)];
      },
    };
    for (const [what, change] of Object.entries(cases)) {
      assert.throws(() => decodeMarketSnapshot(forge(bytes, change)), SnapshotCorruptError, what);
    }
    assert.doesNotThrow(() => decodeMarketSnapshot(forge(bytes, (_, s) => s)));
  });

  it('refuses a header that is cut off or not JSON', () => {
    const json = Buffer.from('{"format": 1, "sections": [');
    assert.throws(
      () => decodeMarketSnapshot(Buffer.concat([SNAPSHOT_MAGIC, headerPrefix(json), json])),
      /unreadable header/,
    );
    const long = Buffer.concat([SNAPSHOT_MAGIC, headerPrefix(Buffer.alloc(1000)), Buffer.from('{}')]);
    assert.throws(() => decodeMarketSnapshot(long), /truncated header/);
  });

  it('stores a market cap that is not close x a factor as it is, and refuses to store a window', () => {
    const odd = market(6, 60, 3);
    odd.data.close[5 * odd.data.codes.length] = Number.NaN; // stock 0 on day 5: a cap without a close
    const encoded = encodeMarketSnapshot(odd);
    assert.notEqual(encodings(encoded).marketCap, 'times-close');
    assertSameMarket(decodeMarketSnapshot(encoded).data, odd.data);
    assert.throws(() => encodeMarketSnapshot({ ...odd, precedingDates: Int32Array.of(20191231) }), RangeError);
  });
});
