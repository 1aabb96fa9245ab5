import type { RsiState } from '../factors/compute.js';
import { validateCorporateActions, type CorporateAction, type CorporateActionKind } from './corporate-actions.js';

/**
 * The engine's input: daily bars for the whole universe, time-major in typed arrays.
 *
 * Layout: for D trading days and S stocks, every price field is a PriceColumn of length D*S
 * with index `day * S + stock`. A day's cross-section is contiguous, which is what the
 * selection step scans (all stocks on one rebalance day); a stock's series is a stride-S walk,
 * which the rolling indicators do for all stocks at once (day outer, stock inner). NaN means
 * "no bar that day": not yet listed, halted, or delisted. A stock is delisted only from the date
 * its StockInfo records (`delistedOn`), never because its bars stop: a stock without bars on the
 * last days of the data is halted, not delisted.
 */
export type Market = 'KOSPI' | 'KOSDAQ' | 'KONEX';
export const MARKETS: readonly Market[] = ['KOSPI', 'KOSDAQ', 'KONEX'];

export interface StockInfo {
  /** The current market and sector (market.securities); `history` gives them as of each day. */
  market: Market;
  sector: string;
  /**
   * yyyymmdd of the delisting recorded in the data (market.securities.delisted_on): the first day
   * the stock is no longer listed. Absent while it is listed.
   */
  delistedOn?: number;
  /**
   * Point in time market and sector (KOSDAQ -> KOSPI transfers, reclassifications), ascending by
   * `from`, at most one entry per date. On a date, the latest entry with from <= date applies;
   * before the first entry, the first entry (a history starts with the earliest known
   * classification). Absent or empty: `market` and `sector` on every day.
   */
  history?: readonly StockClassification[];
}

/** From `from` (yyyymmdd) on, until the next entry, the stock is in this market and sector. */
export interface StockClassification {
  from: number;
  market: Market;
  sector: string;
}

/** Stock s's market on `date` (yyyymmdd): the one its history gives, else its current one. */
export function marketOn(data: Pick<MarketData, 'stocks'>, s: number, date: number): Market {
  const info = data.stocks[s];
  return info.history === undefined ? info.market : classificationOn(info, date).market;
}

/** The stock's market and sector on `date` (yyyymmdd), see StockInfo.history. */
export function classificationOn(info: StockInfo, date: number): { market: Market; sector: string } {
  const history = info.history;
  if (history === undefined || history.length === 0) {
    return info;
  }
  let at = history[0];
  for (let i = 1; i < history.length && history[i].from <= date; i++) {
    at = history[i];
  }
  return at;
}

/**
 * One financial statement as published. Amounts are KRW, trailing twelve months (TTM: the sum of
 * the statement's quarter and the three before it) for the flow figures; stock figures are at the
 * period's end. NaN (or an absent optional field) for a figure the statement lacks: a factor that
 * needs it is NaN for the stock, never computed from 0.
 * The engine uses a statement only on trading days whose date is >= reportDate (point in time:
 * the disclosure date, not the period end, so nothing is known before it was published).
 * libs/market-data's loader derives every field from market.financial_statements' quarters.
 */
export interface FundamentalStatement {
  /** yyyymmdd of the disclosure. */
  reportDate: number;
  netIncome: number;
  equity: number;
  revenue: number;
  operatingIncome: number;
  liabilities: number;
  /** Trailing revenue as reported one year earlier (for revenue growth). */
  revenuePrevYear: number;
  // --- optional figures (issue 16); absent = NaN ---
  /** TTM gross profit (매출총이익 = revenue - cost of sales). */
  grossProfit?: number;
  /** TTM cash flow from operating activities (영업활동현금흐름). */
  operatingCashFlow?: number;
  /** TTM depreciation and amortisation (감가상각비 + 무형자산상각비), positive; EBITDA = operating income + it. */
  depreciationAmortization?: number;
  /** TTM interest expense (이자비용), positive. */
  interestExpense?: number;
  /** TTM cash dividends paid (배당금의 지급, financing cash flow), positive. */
  dividendsPaid?: number;
  /** At the period's end: current assets (유동자산), current liabilities (유동부채). */
  currentAssets?: number;
  currentLiabilities?: number;
  /** At the period's end: cash and cash equivalents (현금및현금성자산). */
  cash?: number;
  /** At the period's end: interest-bearing debt (차입금 + 사채, current and non-current). */
  borrowings?: number;
  /** TTM operating income and net income as reported one year earlier (YoY growth). */
  operatingIncomePrevYear?: number;
  netIncomePrevYear?: number;
  /** The statement's quarter alone (three months) and the quarter before it (QoQ growth). */
  revenueQuarter?: number;
  operatingIncomeQuarter?: number;
  netIncomeQuarter?: number;
  revenuePrevQuarter?: number;
  operatingIncomePrevQuarter?: number;
  netIncomePrevQuarter?: number;
  /**
   * EPS in KRW per share: TTM net income / listed shares at the period's end (eps), the quarter's
   * net income / the same shares (epsQuarter); the earlier statements' EPS (a year, a quarter
   * before) restated to today's share basis by the splits and bonus issues in between, so that a
   * split is not a fall in EPS.
   */
  eps?: number;
  epsPrevYear?: number;
  epsQuarter?: number;
  epsPrevQuarter?: number;
}

/** The figures every FundamentalStatement has (NaN when unknown), in a fixed order (the snapshot's). */
export const REQUIRED_STATEMENT_FIELDS = [
  'netIncome',
  'equity',
  'revenue',
  'operatingIncome',
  'liabilities',
  'revenuePrevYear',
] as const satisfies readonly (keyof FundamentalStatement)[];

/** The optional figures of FundamentalStatement, in a fixed order (the snapshot stores them in it). */
export const OPTIONAL_STATEMENT_FIELDS = [
  'grossProfit',
  'operatingCashFlow',
  'depreciationAmortization',
  'interestExpense',
  'dividendsPaid',
  'currentAssets',
  'currentLiabilities',
  'cash',
  'borrowings',
  'operatingIncomePrevYear',
  'netIncomePrevYear',
  'revenueQuarter',
  'operatingIncomeQuarter',
  'netIncomeQuarter',
  'revenuePrevQuarter',
  'operatingIncomePrevQuarter',
  'netIncomePrevQuarter',
  'eps',
  'epsPrevYear',
  'epsQuarter',
  'epsPrevQuarter',
] as const satisfies readonly (keyof FundamentalStatement)[];
export type OptionalStatementField = (typeof OPTIONAL_STATEMENT_FIELDS)[number];
/** Every figure of a statement (all but its report date). */
export const STATEMENT_FIGURES = [...REQUIRED_STATEMENT_FIELDS, ...OPTIONAL_STATEMENT_FIELDS] as const;
export type StatementFigure = (typeof STATEMENT_FIGURES)[number];

/** A yyyymmdd day as an ISO date: 20260310 -> 2026-03-10. */
export const isoOf = (yyyymmdd: number): string => {
  const s = String(yyyymmdd);
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
};

/**
 * A statement of `reportDate` with every figure present and NaN, built from one template so that
 * all statements share V8's hidden class (fast properties, about 670 bytes each): statements
 * built by adding up to 27 fields one by one fall into dictionary mode (about 1,430 bytes each),
 * which for 2,500 stocks x 10 years (105,000 statements) was 150 MB of every market in memory.
 * Loaders and decoders fill it in; a figure left NaN reads as unknown, like an absent one.
 */
export function blankStatement(reportDate: number): FundamentalStatement {
  return { ...STATEMENT_TEMPLATE, reportDate };
}

/**
 * A statement as a plain object with every figure (NaN where it has none), whatever it was: a
 * loader's object or a view over statement columns (a decoded snapshot's), whose figures are
 * getters that neither spreading nor JSON sees.
 */
export function plainStatement(st: FundamentalStatement): Required<FundamentalStatement> {
  const plain = blankStatement(st.reportDate) as Required<FundamentalStatement>;
  for (const f of STATEMENT_FIGURES) {
    plain[f] = st[f] ?? Number.NaN;
  }
  return plain;
}

const STATEMENT_TEMPLATE: Required<FundamentalStatement> = JSON.parse(
  JSON.stringify(Object.fromEntries(['reportDate', ...STATEMENT_FIGURES].map((f) => [f, 0]))),
  // JSON cannot spell NaN: parsed as 0, every figure set to NaN here (a fast object from the start)
  (key, value: unknown) => (key === '' || key === 'reportDate' ? value : Number.NaN),
) as Required<FundamentalStatement>;

/**
 * A column of daily values: a Float32Array when every value in it is exactly a float32 (KRW
 * prices are whole numbers far below 2^24: a market snapshot's reader holds open, high, low and
 * close in half the memory), else a Float64Array. Either way each element reads as the same
 * number, so the engine's arithmetic does not depend on which.
 */
export type PriceColumn = Float64Array | Float32Array;

export interface MarketData {
  /** yyyymmdd, strictly ascending. */
  dates: Int32Array;
  /** Stock codes; the index is the stock index. Ties in ranking go to the lower index. */
  codes: string[];
  stocks: StockInfo[];
  open: PriceColumn;
  high: PriceColumn;
  low: PriceColumn;
  close: PriceColumn;
  volume: PriceColumn;
  /** KRW traded that day. */
  tradingValue: PriceColumn;
  /** KRW. */
  marketCap: PriceColumn;
  /** Per stock, statements sorted by reportDate ascending. */
  fundamentals: FundamentalStatement[][];
  /**
   * When the data is a window of a longer history (the latest days a trading replica loads): the
   * state of the recursive indicators on the day before dates[0], so that they take the values
   * the whole history gives them. Absent for a whole history.
   */
  seeds?: { rsi_14: RsiState };
  /**
   * Splits, reverse splits, bonus and rights issues, sorted by (exDate, stock), at most one per
   * stock and date. The price fields stay REAL (as traded); factors read the back-adjusted series
   * (adjustedForFactors) and holdings are adjusted on the ex-date (see corporate-actions.ts).
   */
  corporateActions?: CorporateAction[];
}

export interface PriceRow {
  date: number;
  code: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** Defaults to close * volume. */
  tradingValue?: number;
  /** Defaults to NaN (the market_cap factor and valuation ratios are then unavailable). */
  marketCap?: number;
}

export interface StatementRow extends FundamentalStatement {
  code: string;
}

export interface CorporateActionRow {
  code: string;
  exDate: number;
  kind: CorporateActionKind;
  priceFactor: number;
  shareRatio: number;
}

export interface MarketDataInput {
  rows: readonly PriceRow[];
  /** Static info per code; codes without an entry get market KOSPI and sector ''. */
  stocks?: Readonly<Record<string, StockInfo>>;
  statements?: readonly StatementRow[];
  /** Extra trading dates with no rows (e.g. days after a delisting in a small test set). */
  dates?: readonly number[];
  /** Events of codes without rows or stock info are dropped. */
  corporateActions?: readonly CorporateActionRow[];
}

/**
 * Builds time-major MarketData from row arrays (the shape a SQL query returns). Dates and codes
 * are sorted ascending so the result does not depend on the row order.
 */
export function buildMarketData(input: MarketDataInput): MarketData {
  const dateSet = new Set<number>(input.dates ?? []);
  const codeSet = new Set<string>();
  for (const r of input.rows) {
    dateSet.add(r.date);
    codeSet.add(r.code);
  }
  for (const code of Object.keys(input.stocks ?? {})) {
    codeSet.add(code);
  }
  const dates = Int32Array.from([...dateSet].sort((a, b) => a - b));
  const codes = [...codeSet].sort();
  const dayOf = new Map<number, number>();
  dates.forEach((d, i) => dayOf.set(d, i));
  const stockOf = new Map<string, number>();
  codes.forEach((c, i) => stockOf.set(c, i));
  const S = codes.length;
  const n = dates.length * S;
  const field = (): Float64Array => new Float64Array(n).fill(NaN);
  const data: MarketData = {
    dates,
    codes,
    stocks: codes.map((c) => input.stocks?.[c] ?? { market: 'KOSPI', sector: '' }),
    open: field(),
    high: field(),
    low: field(),
    close: field(),
    volume: field(),
    tradingValue: field(),
    marketCap: field(),
    fundamentals: codes.map(() => []),
  };
  for (const r of input.rows) {
    const i = (dayOf.get(r.date) as number) * S + (stockOf.get(r.code) as number);
    data.open[i] = r.open;
    data.high[i] = r.high;
    data.low[i] = r.low;
    data.close[i] = r.close;
    data.volume[i] = r.volume;
    data.tradingValue[i] = r.tradingValue ?? r.close * r.volume;
    data.marketCap[i] = r.marketCap ?? NaN;
  }
  for (const st of input.statements ?? []) {
    const s = stockOf.get(st.code);
    if (s === undefined) {
      continue;
    }
    const { code: _code, ...statement } = st;
    data.fundamentals[s]?.push(statement);
  }
  for (const list of data.fundamentals) {
    list.sort((a, b) => a.reportDate - b.reportDate);
  }
  if (input.corporateActions && input.corporateActions.length > 0) {
    const actions: CorporateAction[] = [];
    for (const { code, ...action } of input.corporateActions) {
      const s = stockOf.get(code);
      if (s !== undefined) {
        actions.push({ stock: s, ...action });
      }
    }
    data.corporateActions = actions.sort((a, b) => a.exDate - b.exDate || a.stock - b.stock);
  }
  validateMarketData(data);
  return data;
}

/** Throws when the arrays do not have the documented shape; cheap (no per-bar scan). */
export function validateMarketData(data: MarketData): void {
  const D = data.dates.length;
  const S = data.codes.length;
  for (const key of ['open', 'high', 'low', 'close', 'volume', 'tradingValue', 'marketCap'] as const) {
    if (data[key].length !== D * S) {
      throw new RangeError(`MarketData.${key} has length ${data[key].length}, expected ${D * S} (days x stocks)`);
    }
  }
  if (data.stocks.length !== S || data.fundamentals.length !== S) {
    throw new RangeError('MarketData.stocks and .fundamentals need one entry per code');
  }
  for (let s = 0; s < S; s++) {
    const info = data.stocks[s];
    const history = info.history ?? [];
    for (let i = 1; i < history.length; i++) {
      if (history[i].from <= history[i - 1].from) {
        throw new RangeError(`MarketData.stocks[${s}].history must be strictly ascending by from (index ${i})`);
      }
    }
    if (info.delistedOn !== undefined && !Number.isInteger(info.delistedOn)) {
      throw new RangeError(`MarketData.stocks[${s}].delistedOn must be a yyyymmdd number`);
    }
  }
  const seed = data.seeds?.rsi_14;
  if (seed && [seed.prev, seed.count, seed.up, seed.down].some((a) => a.length !== S)) {
    throw new RangeError('MarketData.seeds.rsi_14 needs one entry per code');
  }
  for (let d = 1; d < D; d++) {
    if (data.dates[d] <= data.dates[d - 1]) {
      throw new RangeError(`MarketData.dates must be strictly ascending (index ${d})`);
    }
  }
  validateCorporateActions(data);
}

/** Index of the first date >= yyyymmdd (D when none). */
export function lowerBoundDate(dates: Int32Array, yyyymmdd: number): number {
  let lo = 0;
  let hi = dates.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (dates[mid] < yyyymmdd) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/** Days since 1970-01-01 for a yyyymmdd date (proleptic Gregorian, no Date object). */
export function epochDay(yyyymmdd: number): number {
  const y0 = Math.floor(yyyymmdd / 10000);
  const m = Math.floor(yyyymmdd / 100) % 100;
  const d = yyyymmdd % 100;
  // Howard Hinnant's days_from_civil.
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
