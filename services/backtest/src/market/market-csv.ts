/**
 * The market-data CSV formats (documented in ../datasets/CSV_FORMATS.md): their columns,
 * the validation of one record, and the COPY line a valid record becomes in the staging table.
 */

import type { FastField } from './csv-fast-scan.js';

export const MARKET_KINDS = ['securities', 'bars', 'statements', 'classifications', 'corporate_actions'] as const;
export type MarketKind = (typeof MARKET_KINDS)[number];

export function isMarketKind(value: unknown): value is MarketKind {
  return typeof value === 'string' && (MARKET_KINDS as readonly string[]).includes(value);
}

export interface CsvFormat {
  kind: MarketKind;
  /** required header, in this order */
  columns: readonly string[];
  /** optional trailing columns (a file has all of them or none) */
  optionalColumns: readonly string[];
  /** target table and its key */
  table: string;
  key: readonly string[];
  /** staging/target columns after `line` (same order as `toCopyFields` returns) */
  targetColumns: readonly string[];
  /** columns compared (and set) when a key already exists */
  updateColumns: readonly string[];
  stagingDdl: string;
  /**
   * each column's grammar, for a format the loader's fast path takes (plain files of it go to COPY
   * as they are, the database enforcing the rest of its rules)
   */
  fastFields?: readonly FastField[];
  /** validated record -> COPY text fields (without the line number) or an error message */
  parse(record: readonly string[], hasOptional: boolean): string[] | string;
}

const CODE = /^[0-9A-Z]{6}$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const UNSIGNED_INTEGER = /^\d+$/;
const FISCAL_PERIOD = /^(\d{4})Q([1-4])$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

class FieldError extends Error {}

function fail(message: string): never {
  throw new FieldError(message);
}

/** `yyyy-mm-dd` that names a real calendar day. */
export function isIsoDate(value: string): boolean {
  const m = ISO_DATE.exec(value);
  if (!m) {
    return false;
  }
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return y >= 1900 && y <= 2100 && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

function code(value: string): string {
  return CODE.test(value) ? value : fail(`code must be 6 characters of 0-9 or A-Z, got "${clip(value)}"`);
}

function date(column: string, value: string): string {
  return isIsoDate(value) ? value : fail(`${column} must be a date yyyy-mm-dd, got "${clip(value)}"`);
}

function text(column: string, value: string, max = 200): string {
  const trimmed = value.trim();
  if (trimmed === '') {
    fail(`${column} is required`);
  }
  if (trimmed.length > max) {
    fail(`${column} is longer than ${max} characters`);
  }
  if (CONTROL.test(trimmed)) {
    fail(`${column} contains control characters`);
  }
  return trimmed;
}

function decimal(column: string, value: string, check: 'positive' | 'nonNegative' | 'any'): number {
  if (!DECIMAL.test(value)) {
    fail(`${column} must be a number, got "${clip(value)}"`);
  }
  const n = Number(value);
  if (!Number.isFinite(n)) {
    fail(`${column} is out of range`);
  }
  if (check === 'positive' && n <= 0) {
    fail(`${column} must be greater than 0`);
  }
  if (check === 'nonNegative' && n < 0) {
    fail(`${column} must not be negative`);
  }
  return n;
}

function integer(column: string, value: string, positive: boolean): number {
  if (!UNSIGNED_INTEGER.test(value)) {
    fail(`${column} must be a whole number >= 0, got "${clip(value)}"`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    fail(`${column} is out of range`);
  }
  if (positive && n === 0) {
    fail(`${column} must be greater than 0`);
  }
  return n;
}

function marketOf(value: string): string {
  return value === 'KOSPI' || value === 'KOSDAQ' || value === 'KONEX'
    ? value
    : fail(`market must be KOSPI, KOSDAQ or KONEX, got "${clip(value)}"`);
}

function clip(value: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  // never echo control characters back into an error message
  // eslint-disable-next-line no-control-regex
  return shown.replace(/[\u0000-\u001f\u007f]/g, '?');
}

/** COPY text format: backslash, tab, newline and carriage return are escaped. */
function copyText(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** The last calendar day of a fiscal quarter (calendar-year fiscal periods). */
export function quarterEnd(period: string): string {
  const m = FISCAL_PERIOD.exec(period);
  if (!m) {
    throw new Error(`not a fiscal period: ${period}`);
  }
  const ends = ['03-31', '06-30', '09-30', '12-31'];
  return `${m[1]}-${ends[Number(m[2]) - 1]}`;
}

function withFieldErrors(parse: (r: readonly string[], o: boolean) => string[]) {
  return (record: readonly string[], hasOptional: boolean): string[] | string => {
    try {
      return parse(record, hasOptional);
    } catch (error) {
      if (error instanceof FieldError) {
        return error.message;
      }
      throw error;
    }
  };
}

const securities: CsvFormat = {
  kind: 'securities',
  columns: ['code', 'name', 'market', 'sector', 'listed_on', 'delisted_on'],
  optionalColumns: ['synthetic'],
  table: 'market.securities',
  key: ['code'],
  targetColumns: ['code', 'name', 'market', 'sector', 'listed_on', 'delisted_on', 'synthetic'],
  updateColumns: ['name', 'market', 'sector', 'listed_on', 'delisted_on', 'synthetic'],
  stagingDdl: `line integer NOT NULL, code text NOT NULL, name text NOT NULL, market text NOT NULL,
    sector text NOT NULL, listed_on date NOT NULL, delisted_on date, synthetic boolean NOT NULL`,
  parse: withFieldErrors((r, hasOptional) => {
    const c = code(r[0] ?? '');
    const name = text('name', r[1] ?? '');
    const market = marketOf(r[2] ?? '');
    const sector = text('sector', r[3] ?? '', 100);
    const listed = date('listed_on', r[4] ?? '');
    const delistedRaw = r[5] ?? '';
    const delisted = delistedRaw === '' ? null : date('delisted_on', delistedRaw);
    if (delisted !== null && delisted < listed) {
      fail('delisted_on is before listed_on');
    }
    let synthetic = 'f';
    if (hasOptional) {
      const s = (r[6] ?? '').toLowerCase();
      if (s === 'true') {
        synthetic = 't';
      } else if (s !== 'false' && s !== '') {
        fail(`synthetic must be true or false, got "${clip(r[6] ?? '')}"`);
      }
    }
    return [c, copyText(name), market, copyText(sector), listed, delisted ?? '\\N', synthetic];
  }),
};

const bars: CsvFormat = {
  kind: 'bars',
  columns: [
    'code',
    'date',
    'open',
    'high',
    'low',
    'close',
    'volume',
    'trading_value',
    'market_cap',
    'shares_outstanding',
  ],
  optionalColumns: [],
  fastFields: [
    'code',
    'date',
    'decimal',
    'decimal',
    'decimal',
    'decimal',
    'unsigned',
    'decimal',
    'decimal',
    'unsigned',
  ],
  table: 'market.daily_bars',
  key: ['code', 'date'],
  targetColumns: [
    'code',
    'date',
    'open',
    'high',
    'low',
    'close',
    'volume',
    'trading_value',
    'market_cap',
    'shares_outstanding',
  ],
  updateColumns: ['open', 'high', 'low', 'close', 'volume', 'trading_value', 'market_cap', 'shares_outstanding'],
  stagingDdl: `line integer NOT NULL, code text NOT NULL, date date NOT NULL, open double precision NOT NULL,
    high double precision NOT NULL, low double precision NOT NULL, close double precision NOT NULL,
    volume bigint NOT NULL, trading_value double precision NOT NULL, market_cap double precision NOT NULL,
    shares_outstanding bigint NOT NULL`,
  parse: withFieldErrors((r) => {
    const c = code(r[0] ?? '');
    const d = date('date', r[1] ?? '');
    const open = decimal('open', r[2] ?? '', 'positive');
    const high = decimal('high', r[3] ?? '', 'positive');
    const low = decimal('low', r[4] ?? '', 'positive');
    const close = decimal('close', r[5] ?? '', 'positive');
    if (low > high) {
      fail(`low (${low}) is above high (${high})`);
    }
    if (open < low || open > high) {
      fail(`open (${open}) is outside low..high (${low}..${high})`);
    }
    if (close < low || close > high) {
      fail(`close (${close}) is outside low..high (${low}..${high})`);
    }
    const volume = integer('volume', r[6] ?? '', false);
    const value = decimal('trading_value', r[7] ?? '', 'nonNegative');
    const cap = decimal('market_cap', r[8] ?? '', 'nonNegative');
    const shares = integer('shares_outstanding', r[9] ?? '', true);
    return [c, d, open, high, low, close, volume, value, cap, shares].map(String);
  }),
};

/**
 * The statements' optional columns (all of them or none; an empty cell is NULL, "not reported"):
 * flows of the quarter alone, stocks at its end (the migration 1765700000000-statement-fields
 * defines each). `nonNegative`: amounts that cannot be below 0 (expenses, payouts, balances).
 */
export const STATEMENT_OPTIONAL_COLUMNS = [
  { column: 'gross_profit', nonNegative: false },
  { column: 'operating_cash_flow', nonNegative: false },
  { column: 'depreciation_amortization', nonNegative: true },
  { column: 'interest_expense', nonNegative: true },
  { column: 'dividends_paid', nonNegative: true },
  { column: 'current_assets', nonNegative: true },
  { column: 'current_liabilities', nonNegative: true },
  { column: 'cash_and_equivalents', nonNegative: true },
  { column: 'total_borrowings', nonNegative: true },
] as const;
export type StatementOptionalColumn = (typeof STATEMENT_OPTIONAL_COLUMNS)[number]['column'];
const STATEMENT_OPTIONAL_NAMES = STATEMENT_OPTIONAL_COLUMNS.map((c) => c.column);

const STATEMENT_COLUMNS = [
  'code',
  'fiscal_period',
  'report_date',
  'revenue',
  'operating_income',
  'net_income',
  'total_equity',
  'total_liabilities',
];
const STATEMENT_TARGET_COLUMNS = [...STATEMENT_COLUMNS, ...STATEMENT_OPTIONAL_NAMES];

const statements: CsvFormat = {
  kind: 'statements',
  columns: STATEMENT_COLUMNS,
  optionalColumns: STATEMENT_OPTIONAL_NAMES,
  table: 'market.financial_statements',
  key: ['code', 'fiscal_period'],
  targetColumns: STATEMENT_TARGET_COLUMNS,
  // everything but the key; a file without the optional columns sets them NULL on its rows (a
  // statement is replaced whole)
  updateColumns: STATEMENT_TARGET_COLUMNS.slice(2),
  stagingDdl: `line integer NOT NULL, code text NOT NULL, fiscal_period text NOT NULL, report_date date NOT NULL,
    revenue double precision NOT NULL, operating_income double precision NOT NULL,
    net_income double precision NOT NULL, total_equity double precision NOT NULL,
    total_liabilities double precision NOT NULL,
    ${STATEMENT_OPTIONAL_NAMES.map((c) => `${c} double precision`).join(', ')}`,
  parse: withFieldErrors((r, hasOptional) => {
    const c = code(r[0] ?? '');
    const period = r[1] ?? '';
    const m = FISCAL_PERIOD.exec(period);
    if (!m || Number(m[1]) < 1900 || Number(m[1]) > 2100) {
      fail(`fiscal_period must look like 2024Q3, got "${clip(period)}"`);
    }
    const report = date('report_date', r[2] ?? '');
    if (report <= quarterEnd(period)) {
      fail(`report_date (${report}) must be after the end of ${period} (${quarterEnd(period)})`);
    }
    const revenue = decimal('revenue', r[3] ?? '', 'nonNegative');
    const operating = decimal('operating_income', r[4] ?? '', 'any');
    const net = decimal('net_income', r[5] ?? '', 'any');
    const equity = decimal('total_equity', r[6] ?? '', 'any');
    const liabilities = decimal('total_liabilities', r[7] ?? '', 'nonNegative');
    // \N is COPY's NULL: an empty cell, or a file without the optional columns
    const optional = STATEMENT_OPTIONAL_COLUMNS.map(({ column, nonNegative }, i) => {
      const cell = hasOptional ? (r[8 + i] ?? '').trim() : '';
      return cell === '' ? '\\N' : String(decimal(column, cell, nonNegative ? 'nonNegative' : 'any'));
    });
    return [
      c,
      period,
      report,
      String(revenue),
      String(operating),
      String(net),
      String(equity),
      String(liabilities),
      ...optional,
    ];
  }),
};

/** Optional: point in time market and sector, one row per change (see the migration). */
const classifications: CsvFormat = {
  kind: 'classifications',
  columns: ['code', 'valid_from', 'market', 'sector'],
  optionalColumns: [],
  table: 'market.security_classifications',
  key: ['code', 'valid_from'],
  targetColumns: ['code', 'valid_from', 'market', 'sector'],
  updateColumns: ['market', 'sector'],
  stagingDdl: `line integer NOT NULL, code text NOT NULL, valid_from date NOT NULL, market text NOT NULL,
    sector text NOT NULL`,
  parse: withFieldErrors((r) => {
    const c = code(r[0] ?? '');
    const from = date('valid_from', r[1] ?? '');
    const market = marketOf(r[2] ?? '');
    const sector = text('sector', r[3] ?? '', 100);
    return [c, from, market, copyText(sector)];
  }),
};

/** The kinds of corporate_actions rows (the strategy engine's CorporateActionKind). */
export const CORPORATE_ACTION_KINDS = ['split', 'reverse_split', 'bonus_issue', 'rights_issue'] as const;
/**
 * How far a split's, reverse split's or bonus issue's price_factor may be from its share_ratio:
 * KRX puts the base price on its tick grid, so previous close / base is the ratio within a
 * fraction of a percent; the daily ingest's derivation uses the same tolerance.
 */
export const SHARE_EVENT_TOLERANCE = 0.01;

const corporateActions: CsvFormat = {
  kind: 'corporate_actions',
  columns: ['code', 'ex_date', 'kind', 'price_factor', 'share_ratio'],
  optionalColumns: [],
  table: 'market.corporate_actions',
  key: ['code', 'ex_date'],
  targetColumns: ['code', 'ex_date', 'kind', 'price_factor', 'share_ratio'],
  updateColumns: ['kind', 'price_factor', 'share_ratio'],
  stagingDdl: `line integer NOT NULL, code text NOT NULL, ex_date date NOT NULL, kind text NOT NULL,
    price_factor double precision NOT NULL, share_ratio double precision NOT NULL`,
  parse: withFieldErrors((r) => {
    const c = code(r[0] ?? '');
    const exDate = date('ex_date', r[1] ?? '');
    const kind = r[2] ?? '';
    if (!(CORPORATE_ACTION_KINDS as readonly string[]).includes(kind)) {
      fail(`kind must be one of ${CORPORATE_ACTION_KINDS.join(', ')}, got "${clip(kind)}"`);
    }
    const priceFactor = decimal('price_factor', r[3] ?? '', 'positive');
    const shareRatio = decimal('share_ratio', r[4] ?? '', 'positive');
    if (kind === 'rights_issue') {
      if (shareRatio !== 1) {
        fail('share_ratio of a rights_issue must be 1 (a holder gets no shares without subscribing)');
      }
    } else {
      if (kind === 'reverse_split' ? shareRatio >= 1 : shareRatio <= 1) {
        fail(`share_ratio of a ${kind} must be ${kind === 'reverse_split' ? 'below' : 'above'} 1, got ${shareRatio}`);
      }
      if (Math.abs(priceFactor / shareRatio - 1) > SHARE_EVENT_TOLERANCE) {
        fail(`price_factor (${priceFactor}) of a ${kind} must be within 1 % of its share_ratio (${shareRatio})`);
      }
    }
    return [c, exDate, kind, String(priceFactor), String(shareRatio)];
  }),
};

export const CSV_FORMATS: Record<MarketKind, CsvFormat> = {
  securities,
  bars,
  statements,
  classifications,
  corporate_actions: corporateActions,
};

/** A file's header row with its optional columns: how the import job's own files are written. */
export function fullHeader(kind: MarketKind): string {
  const format = CSV_FORMATS[kind];
  return [...format.columns, ...format.optionalColumns].join(',');
}

/** Checks a header row; returns whether the optional columns are present, or an error message. */
export function checkHeader(format: CsvFormat, header: readonly string[]): { hasOptional: boolean } | string {
  const names = header.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
  const matches = (expected: readonly string[]): boolean =>
    names.length === expected.length && expected.every((c, i) => names[i] === c);
  if (matches(format.columns)) {
    return { hasOptional: false };
  }
  if (format.optionalColumns.length > 0 && matches([...format.columns, ...format.optionalColumns])) {
    return { hasOptional: true };
  }
  const optional =
    format.optionalColumns.length > 0 ? ` (optionally followed by ${format.optionalColumns.join(',')})` : '';
  return `the header must be exactly ${format.columns.join(',')}${optional}; got ${clip(names.join(','))}`;
}
