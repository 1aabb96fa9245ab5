import { crc32, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import {
  CORPORATE_ACTION_KINDS,
  STATEMENT_FIGURES,
  type CorporateAction,
  type Market,
  type MarketData,
  type PriceColumn,
  type StockInfo,
} from '@stocklab/strategy-engine';
import { BENCHMARKS, type BenchmarkId, type MarketSnapshot } from './load-market-data.js';
import { float32PriceColumn, priceColumn } from './price-columns.js';
import { statementViews, type SharedStatements } from './statement-columns.js';
import {
  ColumnEncodingError,
  columnDecoder,
  encodeNumberColumn,
  ENCODINGS,
  float64Column,
  int32Column,
  PRICE_PREDICTORS,
  widthOf,
  type ColumnLayout,
  type EncodedColumn,
} from './column-encodings.js';

/**
 * A market data version as one compact file, so that a process loads it with one read instead
 * of re-reading every bar from PostgreSQL (which stays the source of truth: a snapshot that is
 * missing, of another version or fails its checksum is rebuilt from it, never trusted).
 *
 * Layout: MAGIC, the header's length and CRC-32 (4 bytes each, big-endian), the header (JSON), then the sections in
 * header order, each compressed on its own with zstd (one section in memory at a time when
 * decoding), with the CRC-32 of its stored bytes in the header.
 *
 * Each column is stored in the most compact exact encoding its values allow (column-encodings.ts):
 * prices and volumes in KRW as the error of a prediction from the columns before them, the market
 * cap as a factor of the close, the statements as float64 split into byte planes. Decoding
 * restores every value bit for bit (NaN included). Open, high, low and close are decoded into
 * Float32Arrays (half the memory) when the header says each of their values is a whole number
 * within +-2^24, as every KRW price is: checked as they decode, a lie is refused as corruption.
 *
 * Format 2 added the corporate actions (MarketData.corporateActions: `action:*` sections, their
 * count in the header). A stored snapshot of format 1 has none of them whatever the data holds, so
 * it is refused (SnapshotCorruptError) and rebuilt from PostgreSQL, never read as "no events".
 */
export const SNAPSHOT_MAGIC = Buffer.from('STOCKLAB-MARKET\n', 'latin1');
/**
 * 3: the header also holds each stock's recorded delisting date and its point-in-time market and
 * sector history (StockInfo.delistedOn, .history). A file of an older format lacks them (or the
 * corporate actions): it is rejected like any other mismatch and rebuilt from PostgreSQL, never
 * read as a market without delistings or events.
 * 4: the statements' optional figures (OPTIONAL_STATEMENT_FIELDS: gross profit, cash flows, current
 * assets and liabilities, cash, borrowings, the YoY and QoQ comparisons, EPS), one `statement:*`
 * section each, NaN for a figure a statement lacks (decoded as NaN: blankStatement); and the flows are
 * TTM sums of four quarters. A format-3 file holds neither and is rebuilt from PostgreSQL.
 * 5: the price columns stored as predictions' errors in byte planes (int32-planes, uint53-planes),
 * the close first (the bench market's snapshot 113.6 -> 64.4 MiB). A format-4 file is rebuilt like
 * any older one.
 */
export const SNAPSHOT_FORMAT = 5;

interface SectionInfo extends ColumnLayout {
  name: string;
  /** elements */
  length: number;
  /** stored (compressed) bytes */
  bytes: number;
  /** CRC-32 of the stored bytes */
  crc32: number;
}

interface SnapshotHeader {
  format: number;
  version: string;
  codes: string[];
  markets: Market[];
  sectors: string[];
  days: number;
  statements: number;
  /** whole snapshots: per stock, the delisting date recorded in the data (yyyymmdd) or null */
  delistedOn?: (number | null)[];
  /** whole snapshots: [stock index, from (yyyymmdd), market, sector] per history entry, by stock and from */
  history?: [number, number, Market, string][];
  /** MarketData.corporateActions' length (0 in an increment: a version with new events is stored whole) */
  corporateActions: number;
  sections: SectionInfo[];
  /** set on an increment: the days after `after` (yyyymmdd) of the version `base` */
  increment?: { base: string; chain: number; after: number };
}

/**
 * The trading days a data version appended to the one before (`base`, whose last day is `after`):
 * stored beside the full snapshot of an earlier version instead of a new full one, so that a daily
 * import stores a few kilobytes. `chain` counts the increments from the last full snapshot
 * (1 for an increment on a full one).
 */
export interface MarketIncrement {
  version: string;
  base: string;
  chain: number;
  after: number;
  codes: string[];
  dates: Int32Array;
  /** day-major, dates.length x codes.length each */
  columns: Record<(typeof PRICE_FIELDS)[number], Float64Array>;
}

export class SnapshotCorruptError extends Error {
  override readonly name = 'SnapshotCorruptError';
}

/** In the order they are stored: each after the columns its prediction reads (PRICE_PREDICTORS). */
const PRICE_FIELDS = ['close', 'open', 'high', 'low', 'volume', 'tradingValue', 'marketCap'] as const;
/**
 * The price columns a reader holds as float32s when the header says every value is one: KRW
 * prices (volumes and trading values run past 2^24, the market cap is stored as a factor). The
 * flag on any other section is refused.
 */
const FLOAT32_FIELDS: ReadonlySet<string> = new Set(['close', 'open', 'high', 'low']);
/** int32 sections of the corporate actions (the kind as its index in CORPORATE_ACTION_KINDS) */
const ACTION_INT_FIELDS = ['stock', 'exDate', 'kind'] as const;
/** The sections of whole numbers, always stored as plain int32s. */
const INT_SECTIONS: ReadonlySet<string> = new Set([
  'dates',
  'statement:stock',
  'statement:reportDate',
  ...ACTION_INT_FIELDS.map((f) => `action:${f}`),
]);
const ACTION_FLOAT_FIELDS = ['priceFactor', 'shareRatio'] as const;
/** The statements' figure sections: decoded onto SharedArrayBuffers, the columns their views read. */
const STATEMENT_FIGURE_SECTIONS: ReadonlySet<string> = new Set(STATEMENT_FIGURES.map((f) => `statement:${f}`));
interface PendingSection {
  info: Omit<SectionInfo, 'bytes' | 'crc32'>;
  raw: Uint8Array;
}

/**
 * A column of numbers in its most compact exact encoding; `decoded` collects the price columns
 * stored so far, which the later ones are predicted from (as the decoder will have them).
 */
function numberSection(
  name: string,
  values: PriceColumn,
  stride: number,
  decoded: Record<string, PriceColumn>,
): PendingSection {
  const { raw, ...layout } = encodeNumberColumn(values, stride, decoded, PRICE_PREDICTORS[name], {
    close: name === 'marketCap' ? decoded.close : undefined,
    mayHoldAsFloat32: FLOAT32_FIELDS.has(name),
  });
  decoded[name] = values;
  return { info: { name, ...layout, length: values.length }, raw };
}

const plainSection = (name: string, column: EncodedColumn): PendingSection => {
  const { raw, ...layout } = column;
  return { info: { name, ...layout, length: raw.length / widthOf(layout.encoding) }, raw };
};

/** The snapshot (of the whole history) as bytes; the same snapshot always gives the same bytes. */
export function encodeMarketSnapshot(
  snapshot: Pick<MarketSnapshot, 'version' | 'data' | 'benchmarks'> & { precedingDates?: Int32Array },
): Buffer {
  if ((snapshot.precedingDates?.length ?? 0) > 0) {
    throw new RangeError('only a snapshot of the whole history is stored');
  }
  const { data } = snapshot;
  const S = data.codes.length;
  const sections: PendingSection[] = [plainSection('dates', int32Column(data.dates))];
  const stored: Record<string, PriceColumn> = {};
  for (const field of PRICE_FIELDS) {
    sections.push(numberSection(field, data[field], S, stored));
  }
  for (const id of BENCHMARKS) {
    sections.push(numberSection(`benchmark:${id}`, snapshot.benchmarks[id], 1, {}));
  }
  const statements = data.fundamentals.flatMap((list, stock) => list.map((st) => ({ stock, st })));
  const stockOf = Int32Array.from(statements, (x) => x.stock);
  const reportDate = Int32Array.from(statements, (x) => x.st.reportDate);
  sections.push(plainSection('statement:stock', int32Column(stockOf)));
  sections.push(plainSection('statement:reportDate', int32Column(reportDate)));
  for (const field of STATEMENT_FIGURES) {
    const values = Float64Array.from(statements, (x) => x.st[field] ?? Number.NaN);
    sections.push(plainSection(`statement:${field}`, float64Column(values)));
  }
  const actions = data.corporateActions ?? [];
  for (const field of ACTION_INT_FIELDS) {
    const values = Int32Array.from(actions, (a) =>
      field === 'kind' ? CORPORATE_ACTION_KINDS.indexOf(a.kind) : a[field],
    );
    sections.push(plainSection(`action:${field}`, int32Column(values)));
  }
  for (const field of ACTION_FLOAT_FIELDS) {
    const values = Float64Array.from(actions, (a) => a[field]);
    sections.push(plainSection(`action:${field}`, float64Column(values)));
  }

  return assemble(
    {
      version: snapshot.version,
      codes: data.codes,
      markets: data.stocks.map((s) => s.market),
      sectors: data.stocks.map((s) => s.sector),
      days: data.dates.length,
      statements: statements.length,
      delistedOn: data.stocks.map((s) => s.delistedOn ?? null),
      history: data.stocks.flatMap((info, stock) =>
        (info.history ?? []).map((h): [number, number, Market, string] => [stock, h.from, h.market, h.sector]),
      ),
      corporateActions: actions.length,
    },
    sections,
  );
}

/** An increment as bytes: the same layout, with only the dates and the price columns of its days. */
export function encodeMarketIncrement(
  increment: MarketIncrement,
  stocks: Pick<MarketData, 'stocks'>['stocks'],
): Buffer {
  const S = increment.codes.length;
  const sections: PendingSection[] = [plainSection('dates', int32Column(increment.dates))];
  const stored: Record<string, PriceColumn> = {};
  for (const field of PRICE_FIELDS) {
    const values = increment.columns[field];
    if (values.length !== increment.dates.length * S) {
      throw new RangeError(`${field} holds ${values.length} values, not ${increment.dates.length} x ${S}`);
    }
    sections.push(numberSection(field, values, S, stored));
  }
  return assemble(
    {
      version: increment.version,
      codes: increment.codes,
      markets: stocks.map((s) => s.market),
      sectors: stocks.map((s) => s.sector),
      days: increment.dates.length,
      statements: 0,
      corporateActions: 0,
      increment: { base: increment.base, chain: increment.chain, after: increment.after },
    },
    sections,
  );
}

function assemble(fields: Omit<SnapshotHeader, 'format' | 'sections'>, sections: PendingSection[]): Buffer {
  const stored = sections.map((section) => zstdCompressSync(section.raw));
  const header: SnapshotHeader = {
    format: SNAPSHOT_FORMAT,
    ...fields,
    sections: sections.map((s, i) => ({
      ...s.info,
      bytes: (stored[i] as Buffer).length,
      crc32: crc32(stored[i] as Buffer),
    })),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  return Buffer.concat([SNAPSHOT_MAGIC, headerPrefix(headerBytes), headerBytes, ...stored]);
}

/** The 8 bytes before the header: its length and its CRC-32. */
export function headerPrefix(headerBytes: Buffer): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32BE(headerBytes.length, 0);
  prefix.writeUInt32BE(crc32(headerBytes), 4);
  return prefix;
}

function corrupt(reason: string): never {
  throw new SnapshotCorruptError(`market snapshot rejected: ${reason}`);
}

function readHeader(bytes: Buffer): { header: SnapshotHeader; bodyStart: number } {
  const headerStart = SNAPSHOT_MAGIC.length + 8;
  if (bytes.length < headerStart || !bytes.subarray(0, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC)) {
    corrupt('not a market snapshot');
  }
  const headerLength = bytes.readUInt32BE(SNAPSHOT_MAGIC.length);
  const bodyStart = headerStart + headerLength;
  if (bodyStart > bytes.length) {
    corrupt('truncated header');
  }
  if (crc32(bytes.subarray(headerStart, bodyStart)) !== bytes.readUInt32BE(SNAPSHOT_MAGIC.length + 4)) {
    corrupt('checksum mismatch in the header');
  }
  let header: SnapshotHeader;
  try {
    header = JSON.parse(bytes.toString('utf8', headerStart, bodyStart)) as SnapshotHeader;
  } catch {
    corrupt('unreadable header');
  }
  if (header.format !== SNAPSHOT_FORMAT) {
    corrupt(`format ${String(header.format)}, expected ${SNAPSHOT_FORMAT}`);
  }
  return { header, bodyStart };
}

/** Reads only the header: the data version a snapshot holds (or throws SnapshotCorruptError). */
export function snapshotVersion(bytes: Buffer): string {
  return readHeader(bytes).header.version;
}

/**
 * Where each stock's statements start in the statement columns (SharedStatements.start), from
 * each statement's stock: they must run in stock order, as they are encoded.
 */
function statementStarts(stockOf: Float64Array, S: number): Int32Array {
  const start = new Int32Array(new SharedArrayBuffer((S + 1) * 4));
  for (let i = 0; i < stockOf.length; i++) {
    const stock = stockOf[i];
    if (!(Number.isInteger(stock) && stock >= 0 && stock < S && (i === 0 || stock >= stockOf[i - 1]))) {
      corrupt(`statement ${i} names stock ${stock}`);
    }
    start[stock + 1]++;
  }
  for (let s = 0; s < S; s++) {
    start[s + 1] += start[s];
  }
  return start;
}

/** The stocks of a whole snapshot's header: market, sector, delisting date and history, checked. */
function stocksOf(header: SnapshotHeader): StockInfo[] {
  const S = header.codes.length;
  const { delistedOn, history } = header;
  if (!Array.isArray(delistedOn) || delistedOn.length !== S || !Array.isArray(history)) {
    corrupt('the header lacks the delisting dates or the history of its stocks');
  }
  const stocks = header.codes.map((_, s): StockInfo => {
    const on = delistedOn[s];
    if (on !== null && !Number.isInteger(on)) {
      corrupt(`stock ${s} has a delisting date of ${String(on)}`);
    }
    return { market: header.markets[s], sector: header.sectors[s], ...(on !== null ? { delistedOn: on } : {}) };
  });
  let previous: [number, number] = [-1, 0];
  for (const [stock, from, market, sector] of history) {
    const info = stocks[stock];
    if (!info || !Number.isInteger(from) || (stock === previous[0] && from <= previous[1]) || stock < previous[0]) {
      corrupt(`history entry ${stock} ${from} is out of order or names no stock`);
    }
    info.history = [...(info.history ?? []), { from, market, sector }];
    previous = [stock, from];
  }
  return stocks;
}

/** Whether the bytes hold an increment (MarketIncrement) rather than a whole snapshot; throws when corrupt. */
export function isMarketIncrement(bytes: Buffer): boolean {
  return readHeader(bytes).header.increment !== undefined;
}

/** Runs `step` of decoding a section, its ColumnEncodingError as corruption. */
function asCorruption<T>(section: SectionInfo, step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (error instanceof ColumnEncodingError) {
      corrupt(`section ${section.name}: ${error.message}`);
    }
    throw error;
  }
}

/** Every section, checked against `expected` (name -> values) and its checksum, decoded. */
function readSections(
  bytes: Buffer,
  header: SnapshotHeader,
  bodyStart: number,
  expected: Record<string, number>,
  allocate: (section: SectionInfo, isPrice: boolean) => PriceColumn,
): Record<string, PriceColumn> {
  const stored = header.sections.reduce((sum, s) => sum + s.bytes, 0);
  if (bodyStart + stored !== bytes.length) {
    corrupt(`${bytes.length - bodyStart} section bytes, header says ${stored}`);
  }
  if (header.sections.length !== Object.keys(expected).length) {
    corrupt(`${header.sections.length} sections, expected ${Object.keys(expected).length}`);
  }
  const S = header.codes.length;
  const columns: Record<string, PriceColumn> = {};
  let offset = bodyStart;
  for (const section of header.sections) {
    if (expected[section.name] !== section.length || !ENCODINGS.has(section.encoding)) {
      corrupt(`unexpected section ${section.name} of ${section.length} values`);
    }
    // days, indexes and kinds are read as int32s: any other encoding could hold what they cannot
    if (INT_SECTIONS.has(section.name) && section.encoding !== 'int32') {
      corrupt(`section ${section.name} encoded as ${section.encoding}`);
    }
    if (section.held !== undefined && !FLOAT32_FIELDS.has(section.name)) {
      corrupt(`section ${section.name} held as ${String(section.held)}`);
    }
    const compressed = bytes.subarray(offset, offset + section.bytes);
    offset += section.bytes;
    if (crc32(compressed) !== section.crc32) {
      corrupt(`checksum mismatch in section ${section.name}`);
    }
    const isPrice = (PRICE_FIELDS as readonly string[]).includes(section.name);
    const out = allocate(section, isPrice);
    const decode = asCorruption(section, () => columnDecoder(section, out, isPrice ? S : 1, isPrice ? columns : {}));
    const expectedBytes = section.length * widthOf(section.encoding);
    let raw: Buffer;
    try {
      // one output chunk of the expected size: the default 16 KiB chunks cost a copy each
      raw = zstdDecompressSync(compressed, { chunkSize: Math.max(64, expectedBytes) });
    } catch {
      corrupt(`section ${section.name} does not decompress`);
    }
    if (raw.length !== expectedBytes) {
      corrupt(`section ${section.name} has ${raw.length} bytes, expected ${expectedBytes}`);
    }
    // a float32 column refuses a value it cannot hold exactly as it decodes
    asCorruption(section, () => decode(new Uint8Array(raw.buffer, raw.byteOffset, raw.length)));
    columns[section.name] = out;
  }
  return columns;
}

/** The increment the bytes hold (see MarketIncrement); throws SnapshotCorruptError as decodeMarketSnapshot does. */
export function decodeMarketIncrement(bytes: Buffer): MarketIncrement {
  const { header, bodyStart } = readHeader(bytes);
  const increment = header.increment;
  if (!increment) {
    corrupt('a whole snapshot, not an increment');
  }
  const D = header.days;
  const S = header.codes.length;
  const expected: Record<string, number> = { dates: D };
  for (const f of PRICE_FIELDS) {
    expected[f] = D * S;
  }
  // float64s throughout: the days are appended to the columns a process holds (appendDays)
  const columns = readSections(bytes, header, bodyStart, expected, (section) => new Float64Array(section.length));
  const column = (name: string): Float64Array => columns[name] as Float64Array;
  return {
    version: header.version,
    base: increment.base,
    chain: increment.chain,
    after: increment.after,
    codes: header.codes,
    dates: Int32Array.from(column('dates')),
    columns: Object.fromEntries(PRICE_FIELDS.map((f) => [f, column(f)])) as MarketIncrement['columns'],
  };
}

/**
 * The snapshot the bytes hold, its arrays on SharedArrayBuffers (worker threads read them without
 * a copy). Throws SnapshotCorruptError on any inconsistency: wrong magic or format, a checksum
 * mismatch, a section of the wrong size.
 */
export function decodeMarketSnapshot(bytes: Buffer): Omit<MarketSnapshot, 'loadedInMs'> {
  const { header, bodyStart } = readHeader(bytes);
  if (header.increment) {
    corrupt(`an increment on version ${header.increment.base}, not a whole snapshot`);
  }
  const D = header.days;
  const S = header.codes.length;
  const N = header.statements;
  const expected: Record<string, number> = { dates: D, 'statement:stock': N, 'statement:reportDate': N };
  for (const f of PRICE_FIELDS) {
    expected[f] = D * S;
  }
  for (const id of BENCHMARKS) {
    expected[`benchmark:${id}`] = D;
  }
  for (const f of STATEMENT_FIGURES) {
    expected[`statement:${f}`] = N;
  }
  const A = header.corporateActions;
  if (!(Number.isInteger(A) && A >= 0)) {
    corrupt(`corporate action count ${String(A)}`);
  }
  for (const f of [...ACTION_INT_FIELDS, ...ACTION_FLOAT_FIELDS]) {
    expected[`action:${f}`] = A;
  }
  const columns = readSections(bytes, header, bodyStart, expected, (section, isPrice) =>
    isPrice
      ? section.held === 'float32'
        ? float32PriceColumn(D, S, false)
        : priceColumn(D, S, false)
      : STATEMENT_FIGURE_SECTIONS.has(section.name)
        ? new Float64Array(new SharedArrayBuffer(section.length * 8))
        : new Float64Array(section.length),
  );
  // only a price section may be float32
  const column = (name: string): Float64Array => columns[name] as Float64Array;
  const price = (name: string): PriceColumn => columns[name];

  const stocks = stocksOf(header);
  const reportDate = new Int32Array(new SharedArrayBuffer(N * 4));
  reportDate.set(column('statement:reportDate'));
  const fundamentals = statementViews({
    start: statementStarts(column('statement:stock'), S),
    reportDate,
    figures: Object.fromEntries(
      STATEMENT_FIGURES.map((f) => [f, column(`statement:${f}`)]),
    ) as SharedStatements['figures'],
  });
  const corporateActions: CorporateAction[] = [];
  const [actionStock, actionDate, actionKind, priceFactor, shareRatio] = [
    ...ACTION_INT_FIELDS,
    ...ACTION_FLOAT_FIELDS,
  ].map((f) => column(`action:${f}`)) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  for (let i = 0; i < A; i++) {
    const kind = CORPORATE_ACTION_KINDS[actionKind[i]];
    if (kind === undefined || !(actionStock[i] >= 0 && actionStock[i] < S)) {
      corrupt(`corporate action ${i} names kind ${actionKind[i]} of stock ${actionStock[i]}`);
    }
    corporateActions.push({
      stock: actionStock[i],
      exDate: actionDate[i],
      kind,
      priceFactor: priceFactor[i],
      shareRatio: shareRatio[i],
    });
  }
  const data: MarketData = {
    dates: Int32Array.from(column('dates')),
    codes: header.codes,
    stocks,
    open: price('open'),
    high: price('high'),
    low: price('low'),
    close: price('close'),
    volume: price('volume'),
    tradingValue: price('tradingValue'),
    marketCap: price('marketCap'),
    fundamentals,
    ...(A > 0 ? { corporateActions } : {}),
  };
  const benchmarks = Object.fromEntries(BENCHMARKS.map((id) => [id, column(`benchmark:${id}`)])) as Record<
    BenchmarkId,
    Float64Array
  >;
  return { version: header.version, data, benchmarks, precedingDates: new Int32Array() };
}
