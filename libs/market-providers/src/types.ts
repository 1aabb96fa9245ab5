/**
 * What the providers answer, whoever the provider is. Dates are yyyymmdd strings (Korea's
 * calendar), amounts KRW, prices and quantities as the exchange reports them (not adjusted for
 * corporate actions: that is the ingest's business, from listed shares and events).
 */

export type Market = 'KOSPI' | 'KOSDAQ' | 'KONEX';
export const MARKETS: readonly Market[] = ['KOSPI', 'KOSDAQ', 'KONEX'];

/** One stock's trading on one day. */
export interface DailyBar {
  /** yyyymmdd */
  date: string;
  /** 6-character short code (KRX `ISU_CD`/`ISU_SRT_CD`; may contain letters, e.g. `00104K`) */
  code: string;
  /** abbreviated name, when the provider gives one */
  name: string | null;
  market: Market;
  open: number;
  high: number;
  low: number;
  close: number;
  /** shares traded */
  volume: number;
  /** KRW traded (Kiwoom's chart gives millions of KRW: converted, so a multiple of 1,000,000) */
  tradingValue: number;
  /** KRW (close x listed shares), when the provider gives it */
  marketCap: number | null;
  listedShares: number | null;
  /**
   * The day's base price (기준가): the close minus the change KRX reports against it
   * (`CMPPREVDD_PRC`). Normally the previous close; on an ex-date (a split, a 권리락) the
   * previous close adjusted by the event, which is how the ingest derives corporate actions
   * (REFERENCE.md §1.7). Null or absent when the provider does not give the change.
   */
  basePrice?: number | null;
  /**
   * false when the stock had no trade that day (a halt, or no orders met): KRX then reports volume
   * 0, open/high/low 0 and the close carried over from the previous day. Kept as reported; the
   * ingest decides what an untraded day means for its series.
   */
  traded: boolean;
}

/** A provider's answer for all stocks of the asked markets on one date. */
export interface MarketDay {
  date: string;
  /** false: no trading that day (a holiday or weekend): the provider said so explicitly */
  trading: boolean;
  markets: readonly Market[];
  /** every stock of every asked market; empty when `trading` is false */
  bars: DailyBar[];
  /** rows per market as received (for the caller's own plausibility checks and logs) */
  counts: Partial<Record<Market, number>>;
  /** stocks asked for by code that have no bar although the day traded (per-stock providers only) */
  absent: string[];
  provider: string;
}

export interface DailyBarsOptions {
  /** default: all three */
  markets?: readonly Market[];
  /**
   * How many rows each market had on the previous trading day. A market answering clearly fewer
   * (more than `shrinkTolerance` fewer) is a partial answer, raised as ProviderDataInvalid:
   * listings and delistings move the count by a few a day, never by a large share.
   */
  expectedRows?: Partial<Record<Market, number>>;
  /** fraction of `expectedRows` a market may lose in a day; default 0.02 (and at least 5 rows) */
  shrinkTolerance?: number;
  /**
   * The caller's calendar says `date` traded. KRX answers empty lists both for a holiday and for a
   * day it has not published yet (day D appears the next morning, REFERENCE.md §1.3), so with this
   * set an all-empty answer is ProviderUnavailable ("not published"), not "no trading".
   */
  tradingDay?: boolean;
  signal?: AbortSignal;
}

/** All stocks of KOSPI, KOSDAQ and KONEX for a date (KRX). */
export interface MarketDataProvider {
  readonly name: string;
  dailyBars(date: string, options?: DailyBarsOptions): Promise<MarketDay>;
}

/** One stock's daily bars over a range (a broker's chart: the per-stock fallback). */
export interface StockHistoryProvider {
  readonly name: string;
  /** bars from `from` to `to` inclusive, oldest first; unadjusted unless `adjusted` */
  stockBars(
    code: string,
    from: string,
    to: string,
    options?: { adjusted?: boolean; signal?: AbortSignal },
  ): Promise<StockBar[]>;
}

/** A bar from a per-stock chart: no name, market, market cap or listed shares. */
export type StockBar = Omit<DailyBar, 'name' | 'market' | 'marketCap' | 'listedShares' | 'traded'>;

// ---------------------------------------------------------------- fundamentals

/** OpenDART `reprt_code`: 11013 Q1, 11012 half-year, 11014 Q3, 11011 annual (business report). */
export type ReportCode = '11013' | '11012' | '11014' | '11011';
/** The fiscal quarter a report closes: Q2 is the half-year report, Q4 the annual one. */
export type FiscalQuarter = 1 | 2 | 3 | 4;

export const REPORT_CODE_OF_QUARTER: Readonly<Record<FiscalQuarter, ReportCode>> = {
  1: '11013',
  2: '11012',
  3: '11014',
  4: '11011',
};
export const QUARTER_OF_REPORT_CODE: Readonly<Record<ReportCode, FiscalQuarter>> = {
  '11013': 1,
  '11012': 2,
  '11014': 3,
  '11011': 4,
};

/** CFS consolidated, OFS separate. */
export type StatementBasis = 'CFS' | 'OFS';

export interface StatementAccount {
  /** `sj_div`: BS, IS, CIS, CF, SCE */
  statement: string;
  /** XBRL id (`ifrs-full_Revenue`, `dart_OperatingIncomeLoss`, or `-` for a company's own line) */
  accountId: string;
  accountName: string;
  /**
   * `thstrm_amount`: balance-sheet items at the period end; flow items for the quarter itself in
   * quarterly reports (3 months), for the year in the annual report
   */
  amount: number | null;
  /** `thstrm_add_amount`: flows accumulated since the fiscal year began (quarterly reports only) */
  cumulativeAmount: number | null;
  currency: string;
}

/** One filed financial statement, with the date it became public (point in time). */
export interface FiledStatement {
  corpCode: string;
  /** fiscal year (`bsns_year`) */
  year: number;
  quarter: FiscalQuarter;
  reportCode: ReportCode;
  basis: StatementBasis;
  /** `rcept_no`: 14 digits, the first 8 the receipt date */
  receiptNo: string;
  /** yyyymmdd the statement was filed: nothing of it may be used before this date */
  filingDate: string;
  accounts: StatementAccount[];
}

/** One entry of the disclosure search (`list.json`). */
export interface Filing {
  corpCode: string;
  corpName: string;
  /** 6-digit code for listed companies, else null */
  stockCode: string | null;
  /** `corp_cls`: Y KOSPI, K KOSDAQ, N KONEX, E other */
  corpClass: string;
  reportName: string;
  receiptNo: string;
  /** `rcept_dt` yyyymmdd */
  receiptDate: string;
  filerName: string;
  /** `rm` remarks (e.g. 유 KOSPI, 코 KOSDAQ, 정 corrected, 연 consolidated) */
  remarks: string;
}

/** `corpCode.xml`: a company's DART code and, when listed, its stock code. */
export interface CorpCode {
  corpCode: string;
  corpName: string;
  stockCode: string | null;
  /** yyyymmdd */
  modifyDate: string;
}

export interface FundamentalsProvider {
  readonly name: string;
  /**
   * The statement of a report, or null when it was not filed (OpenDART `013`): a quarter not yet
   * reported, or a company without consolidated statements when `basis` is CFS.
   */
  statement(
    corpCode: string,
    year: number,
    quarter: FiscalQuarter,
    basis: StatementBasis,
    options?: { signal?: AbortSignal },
  ): Promise<FiledStatement | null>;
  /** Disclosures received from `from` to `to` (yyyymmdd, inclusive), every page. */
  filings(
    from: string,
    to: string,
    options?: { corpCode?: string; periodicOnly?: boolean; signal?: AbortSignal },
  ): Promise<Filing[]>;
  corpCodes(options?: { signal?: AbortSignal }): Promise<CorpCode[]>;
}
