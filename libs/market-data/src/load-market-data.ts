import {
  type CorporateAction,
  type CorporateActionKind,
  advanceRsi,
  blankStatement,
  classificationOn,
  isoOf,
  lowerBoundDate,
  newRsiState,
  type RsiState,
  type FundamentalStatement,
  type Market,
  type MarketData,
  type StockInfo,
} from '@stocklab/strategy-engine';
import type { ClientBase } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { CodeIndex, forEachCopyRow } from './copy-rows.js';
import { priceColumn } from './price-columns.js';

/** Benchmarks computed from the loaded market itself: the market-cap-weighted total of each market. */
export const BENCHMARKS = ['KOSPI', 'KOSDAQ', 'MARKET'] as const;
export type BenchmarkId = (typeof BENCHMARKS)[number];

export interface MarketSnapshot {
  /** market.data_version when loaded */
  version: string;
  data: MarketData;
  benchmarks: Record<BenchmarkId, Float64Array>;
  loadedInMs: number;
  /**
   * The trading days before data.dates[0] when only the latest days were loaded (empty for the
   * whole history): a date before the window has the negative day index dayIndexOf gives.
   */
  precedingDates: Int32Array;
}

export interface LoadMarketOptions {
  /** Only the latest this many trading days (the whole history when omitted). */
  lastDays?: number;
  /** With lastDays: the window ends on the last trading day before this yyyymmdd (a job's trading date). */
  before?: number;
}

/**
 * The day index of a date in a snapshot: the first trading day on or after it, counted from
 * data.dates[0], negative for a date before a window (the same distance the whole history has).
 */
export function dayIndexOf(snapshot: Pick<MarketSnapshot, 'data' | 'precedingDates'>, yyyymmdd: number): number {
  const { dates } = snapshot.data;
  if (dates.length > 0 && yyyymmdd >= dates[0]) {
    return lowerBoundDate(dates, yyyymmdd);
  }
  return lowerBoundDate(snapshot.precedingDates, yyyymmdd) - snapshot.precedingDates.length;
}

/** A row of STATEMENTS_SQL: the FundamentalStatement fields by their snake_case names, NULL = NaN. */
type StatementRow = { code: string; report_date: string } & Record<string, number | null>;

/** FundamentalStatement's fields and the columns of STATEMENTS_SQL that give them. */
const STATEMENT_COLUMNS: readonly [keyof Omit<FundamentalStatement, 'reportDate'>, string][] = [
  ['netIncome', 'net_income_ttm'],
  ['equity', 'total_equity'],
  ['revenue', 'revenue_ttm'],
  ['operatingIncome', 'operating_income_ttm'],
  ['liabilities', 'total_liabilities'],
  ['revenuePrevYear', 'revenue_prev_year'],
  ['grossProfit', 'gross_profit_ttm'],
  ['operatingCashFlow', 'operating_cash_flow_ttm'],
  ['depreciationAmortization', 'depreciation_amortization_ttm'],
  ['interestExpense', 'interest_expense_ttm'],
  ['dividendsPaid', 'dividends_paid_ttm'],
  ['currentAssets', 'current_assets'],
  ['currentLiabilities', 'current_liabilities'],
  ['cash', 'cash_and_equivalents'],
  ['borrowings', 'total_borrowings'],
  ['operatingIncomePrevYear', 'operating_income_prev_year'],
  ['netIncomePrevYear', 'net_income_prev_year'],
  ['revenueQuarter', 'revenue'],
  ['operatingIncomeQuarter', 'operating_income'],
  ['netIncomeQuarter', 'net_income'],
  ['revenuePrevQuarter', 'revenue_prev_quarter'],
  ['operatingIncomePrevQuarter', 'operating_income_prev_quarter'],
  ['netIncomePrevQuarter', 'net_income_prev_quarter'],
  ['eps', 'eps'],
  ['epsPrevYear', 'eps_prev_year'],
  ['epsQuarter', 'eps_quarter'],
  ['epsPrevQuarter', 'eps_prev_quarter'],
];

/** The flows of market.financial_statements (one quarter each): summed over four quarters into TTM. */
const FLOWS = [
  'revenue',
  'operating_income',
  'net_income',
  'gross_profit',
  'operating_cash_flow',
  'depreciation_amortization',
  'interest_expense',
  'dividends_paid',
];

/**
 * The engine's statements from market.financial_statements' quarters (flows of the quarter alone,
 * CSV_FORMATS.md), one per stored quarter, in (code, report_date, fiscal_period) order:
 * - TTM flows: the sum of the quarter and the three before it, NULL unless all four quarters are
 *   stored with the figure (never a part year passed off as a year);
 * - `*_prev_year`: the TTM figures of the quarter four quarters earlier; `*_prev_quarter`: the
 *   quarter before's own figures;
 * - EPS: net income (TTM, or the quarter's) / listed shares on the last trading day on or before
 *   the period's end (the stock's bar that day; NULL without one); an earlier quarter's EPS is
 *   restated to this quarter's share basis by the share ratios of the corporate actions between
 *   the two days (a split is no fall in EPS).
 * The table holds the latest figures of each quarter, so an earlier quarter amended after this
 * statement's report date is used as amended (the one departure from point in time; rare).
 * `ends` and `period_end_shares` are MATERIALIZED: the bars of the few period-end days come
 * through the (date, code) key; inlined, PostgreSQL hashed all 6.2 M bars and re-ran the
 * trading-day lookup for every row (4.8 s for the 2,500 x 10 y market, 3.1 s with them; the
 * rest is the window sums).
 */
const STATEMENTS_SQL = `
  WITH q AS (
    SELECT s.*, left(s.fiscal_period, 4)::int * 4 + right(s.fiscal_period, 1)::int - 1 AS qi,
           (make_date(left(s.fiscal_period, 4)::int, right(s.fiscal_period, 1)::int * 3, 1)
              + interval '1 month' - interval '1 day')::date AS period_end
      FROM market.financial_statements s
  ),
  ends AS MATERIALIZED (
    SELECT e.period_end, (SELECT max(d.date) FROM market.trading_days d WHERE d.date <= e.period_end) AS bar_date
      FROM (SELECT DISTINCT period_end FROM q) e
  ),
  period_end_shares AS MATERIALIZED (
    SELECT b.date, b.code, b.shares_outstanding::float8 AS shares
      FROM (SELECT DISTINCT bar_date FROM ends) e JOIN market.daily_bars b ON b.date = e.bar_date
  ),
  t AS (
    SELECT q.*, b.shares,
           exp(coalesce((SELECT sum(ln(a.share_ratio)) FROM market.corporate_actions a
                          WHERE a.code = q.code AND a.ex_date <= ends.bar_date), 0)) AS share_basis,
           ${FLOWS.map((f) => `CASE WHEN count(${f}) OVER w = 4 THEN sum(${f}) OVER w END AS ${f}_ttm`).join(',\n           ')}
      FROM q
      JOIN ends USING (period_end)
      LEFT JOIN period_end_shares b ON b.date = ends.bar_date AND b.code = q.code
    WINDOW w AS (PARTITION BY q.code ORDER BY q.qi RANGE BETWEEN 3 PRECEDING AND CURRENT ROW)
  )
  SELECT t.code, to_char(t.report_date, 'YYYY-MM-DD') AS report_date,
         t.total_equity, t.total_liabilities, t.current_assets, t.current_liabilities, t.cash_and_equivalents,
         t.total_borrowings, t.revenue, t.operating_income, t.net_income,
         ${FLOWS.map((f) => `t.${f}_ttm`).join(', ')},
         y.revenue_ttm AS revenue_prev_year, y.operating_income_ttm AS operating_income_prev_year,
         y.net_income_ttm AS net_income_prev_year,
         p.revenue AS revenue_prev_quarter, p.operating_income AS operating_income_prev_quarter,
         p.net_income AS net_income_prev_quarter,
         t.net_income_ttm / t.shares AS eps, t.net_income / t.shares AS eps_quarter,
         y.net_income_ttm / (y.shares * t.share_basis / y.share_basis) AS eps_prev_year,
         p.net_income / (p.shares * t.share_basis / p.share_basis) AS eps_prev_quarter
    FROM t
    LEFT JOIN t y ON y.code = t.code AND y.qi = t.qi - 4
    LEFT JOIN t p ON p.code = t.code AND p.qi = t.qi - 1
    LEFT JOIN (SELECT code, max(report_date) AS report_date FROM market.financial_statements
                WHERE report_date < $1::date GROUP BY code) before_window ON before_window.code = t.code
   WHERE $1::date IS NULL OR t.report_date >= coalesce(before_window.report_date, '-infinity'::date)
   ORDER BY t.code, t.report_date, t.fiscal_period`;

/** A row of STATEMENTS_SQL as the engine's statement: NULL figures NaN (blankStatement's). */
function statementOf(row: StatementRow): FundamentalStatement {
  const st = blankStatement(yyyymmdd(row.report_date));
  for (const [field, column] of STATEMENT_COLUMNS) {
    const v = row[column];
    if (v !== null && v !== undefined) {
      st[field] = Number(v);
    }
  }
  return st;
}

export const FIELDS = ['open', 'high', 'low', 'close', 'volume', 'tradingValue', 'marketCap'] as const;
export type PriceArrays = Record<(typeof FIELDS)[number], Float64Array>;

const yyyymmdd = (isoDate: string): number => Number(isoDate.slice(0, 4) + isoDate.slice(5, 7) + isoDate.slice(8, 10));

export async function currentDataVersion(client: Pick<ClientBase, 'query'>): Promise<string> {
  const { rows } = await client.query<{ version: string }>(
    `SELECT version::text AS version FROM market.data_version WHERE id = 1`,
  );
  return rows[0]?.version ?? '0';
}

/**
 * Reads the `market` schema in one REPEATABLE READ transaction on `client` (a dedicated
 * connection) into the engine's layout: bars through COPY, straight into typed arrays. With
 * `lastDays`, only the bars of the latest trading days (statements and securities are whole).
 */
export async function loadMarketSnapshot(client: ClientBase, options: LoadMarketOptions = {}): Promise<MarketSnapshot> {
  const started = performance.now();
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    // before the snapshot is taken: a bulk import swaps in a new bars table (a different relation,
    // its rows frozen), so a snapshot taken before that swap must not read the table after it
    await client.query('LOCK TABLE market.daily_bars IN ACCESS SHARE MODE');
    const version = await currentDataVersion(client);
    const securities = (
      await client.query<{ code: string; market: Market; sector: string; delisted_on: string | null }>(
        `SELECT code, market, sector, to_char(delisted_on, 'YYYYMMDD') AS delisted_on FROM market.securities ORDER BY code`,
      )
    ).rows;
    const classifications = (
      await client.query<{ code: string; valid_from: string; market: Market; sector: string }>(
        `SELECT code, to_char(valid_from, 'YYYYMMDD') AS valid_from, market, sector
           FROM market.security_classifications ORDER BY code, valid_from`,
      )
    ).rows;
    const days = (
      await client.query<{ d: string }>(`SELECT to_char(date, 'YYYYMMDD') AS d FROM market.trading_days ORDER BY date`)
    ).rows;
    let allDates = Int32Array.from(days.map((d) => Number(d.d)));
    if (options.lastDays !== undefined && options.before !== undefined) {
      allDates = allDates.subarray(0, lowerBoundDate(allDates, options.before));
    }
    const first = options.lastDays === undefined ? 0 : Math.max(0, allDates.length - options.lastDays);
    const precedingDates = allDates.slice(0, first);
    const codes = securities.map((s) => s.code);
    const stocks: StockInfo[] = securities.map((s) => ({
      market: s.market,
      sector: s.sector,
      ...(s.delisted_on !== null ? { delistedOn: Number(s.delisted_on) } : {}),
    }));
    const stockIndex = new Map(codes.map((c, i) => [c, i]));
    for (const c of classifications) {
      const info = stocks[stockIndex.get(c.code) ?? -1];
      if (info) {
        info.history = [...(info.history ?? []), { from: Number(c.valid_from), market: c.market, sector: c.sector }];
      }
    }
    const dates = allDates.slice(first);
    const dayIndex = new Map<number, number>();
    dates.forEach((d, i) => dayIndex.set(d, i));
    const S = codes.length;
    const arrays = Object.fromEntries(FIELDS.map((f) => [f, priceColumn(dates.length, S)])) as PriceArrays;
    const windowed = options.lastDays !== undefined;
    const codeIndex = new CodeIndex(codes);
    await copyBars(client, codeIndex, dayIndex, S, arrays, windowed ? dates[0] : undefined);
    const seeds = first > 0 ? { rsi_14: await rsiBefore(client, codeIndex, precedingDates) } : undefined;
    // a window needs a stock's statements from the last one reported before its first day (the
    // engine reads the latest statement on or before each day; TTM and the earlier quarters'
    // figures are in each row already): about 5 of a stock's 40 quarters over 10 years, where all
    // of them as pg rows filled a trading replica's heap during a data-version change
    const since = windowed && dates.length > 0 ? isoOf(dates[0]) : null;
    const statements = (await client.query<StatementRow>(STATEMENTS_SQL, [since])).rows;
    const corporateActions = await loadCorporateActions(client, stockIndex, windowed ? dates[0] : undefined);
    await client.query('COMMIT');
    const fundamentals: FundamentalStatement[][] = codes.map(() => []);
    for (const st of statements) {
      const s = stockIndex.get(st.code);
      if (s !== undefined) {
        fundamentals[s]?.push(statementOf(st));
      }
    }
    const data: MarketData = {
      dates,
      codes,
      stocks,
      ...arrays,
      fundamentals,
      ...(seeds ? { seeds } : {}),
      ...(corporateActions.length > 0 ? { corporateActions } : {}),
    };
    return {
      version,
      data,
      benchmarks: benchmarksOf(data),
      loadedInMs: Math.round(performance.now() - started),
      precedingDates,
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * market.corporate_actions as the engine's events, sorted by (exDate, stock). For a window (the
 * latest days, from `after`): only the events after its first day, the ones that adjust a day of
 * it (an event on or before the first day changes none of the window's factor series).
 */
export async function loadCorporateActions(
  client: Pick<ClientBase, 'query'>,
  stockIndex: ReadonlyMap<string, number>,
  after: number | undefined,
): Promise<CorporateAction[]> {
  const { rows } = await client.query<{
    code: string;
    ex_date: string;
    kind: CorporateActionKind;
    price_factor: number;
    share_ratio: number;
  }>(
    `SELECT code, to_char(ex_date, 'YYYYMMDD') AS ex_date, kind, price_factor, share_ratio
       FROM market.corporate_actions
      WHERE $1::text IS NULL OR ex_date > to_date($1, 'YYYYMMDD')
      ORDER BY ex_date, code`,
    [after === undefined ? null : String(after)],
  );
  const out: CorporateAction[] = [];
  for (const r of rows) {
    const stock = stockIndex.get(r.code);
    if (stock !== undefined) {
      out.push({
        stock,
        exDate: Number(r.ex_date),
        kind: r.kind,
        priceFactor: r.price_factor,
        shareRatio: r.share_ratio,
      });
    }
  }
  // by stock index within a date (the codes' order is the index order, but not a collation's)
  return out.sort((a, b) => a.exDate - b.exDate || a.stock - b.stock);
}

/** The bars from `fromDate` on (all when undefined) into `arrays` at the day `dayIndex` gives (other days skipped). */
export async function copyBars(
  client: ClientBase,
  codes: CodeIndex,
  dayIndex: Map<number, number>,
  S: number,
  arrays: PriceArrays,
  fromDate: number | undefined,
): Promise<void> {
  // a yyyymmdd number, never text from outside: safe to inline (COPY takes no parameters); the days
  // after the window are not in dayIndex and are skipped
  const where = fromDate === undefined ? '' : ` WHERE date >= to_date('${Math.trunc(fromDate)}', 'YYYYMMDD')`;
  const stream = client.query(
    copyTo(
      `COPY (SELECT code, to_char(date, 'YYYYMMDD'), open, high, low, close, volume, trading_value, market_cap FROM market.daily_bars${where}) TO STDOUT`,
    ),
  );
  const { open, high, low, close, volume, tradingValue, marketCap } = arrays;
  await forEachCopyRow(stream, codes, new Float64Array(8), (s, f) => {
    const d = dayIndex.get(f[0]);
    if (s === undefined || d === undefined) {
      return;
    }
    const i = d * S + s;
    open[i] = f[1];
    high[i] = f[2];
    low[i] = f[3];
    close[i] = f[4];
    volume[i] = f[5];
    tradingValue[i] = f[6];
    marketCap[i] = f[7];
  });
}

/** Days of closes read at a time while computing a window's seeds (a few MB whatever the history). */
const SEED_CHUNK_DAYS = 250;

/**
 * The RSI state on the last of `precedingDates` (the days before a window): the closes of those
 * days read a chunk of days at a time, in date order, through the engine's own recursion.
 */
async function rsiBefore(client: ClientBase, codes: CodeIndex, precedingDates: Int32Array): Promise<RsiState> {
  const S = codes.size;
  const state = newRsiState(S);
  const close = new Float64Array(SEED_CHUNK_DAYS * S);
  for (let start = 0; start < precedingDates.length; start += SEED_CHUNK_DAYS) {
    const chunk = precedingDates.subarray(start, start + SEED_CHUNK_DAYS);
    const dayIndex = new Map<number, number>();
    chunk.forEach((d, i) => dayIndex.set(d, i));
    close.fill(Number.NaN);
    const from = Math.trunc(chunk[0]);
    const to = Math.trunc(chunk[chunk.length - 1]);
    const stream = client.query(
      copyTo(
        `COPY (SELECT code, to_char(date, 'YYYYMMDD'), close FROM market.daily_bars
                WHERE date BETWEEN to_date('${from}', 'YYYYMMDD') AND to_date('${to}', 'YYYYMMDD')) TO STDOUT`,
      ),
    );
    await forEachCopyRow(stream, codes, new Float64Array(2), (s, f) => {
      const d = dayIndex.get(f[0]);
      if (s !== undefined && d !== undefined) {
        close[d * S + s] = f[1];
      }
    });
    advanceRsi(state, close, chunk.length);
  }
  return state;
}

/** Who belongs to a benchmark, by a stock's market and sector on the day (point in time). */
type Membership = (classification: { market: Market; sector: string }) => boolean;

const BENCHMARK_MEMBERS: Record<BenchmarkId, Membership> = {
  KOSPI: (s) => s.market === 'KOSPI',
  KOSDAQ: (s) => s.market === 'KOSDAQ',
  MARKET: () => true,
};

/**
 * The benchmarks of `data`; with `before` (the same benchmarks over a prefix of its days, as a
 * daily increment extends them), only the days after that prefix are computed.
 */
export function benchmarksOf(
  data: MarketData,
  before?: Record<BenchmarkId, Float64Array>,
): Record<BenchmarkId, Float64Array> {
  return Object.fromEntries(
    BENCHMARKS.map((id) => [id, capWeightedIndex(data, BENCHMARK_MEMBERS[id], before?.[id])]),
  ) as Record<BenchmarkId, Float64Array>;
}

/**
 * A market-cap-weighted total index (base 1000) of the stocks `include` selects: each day's
 * return is the cap-weighted mean of its members' close-to-close returns, weighted by the
 * previous day's market cap. Membership is point in time: a stock counts on day d by its market
 * and sector on d (StockInfo.history), so a KOSDAQ -> KOSPI transfer moves the stock's returns
 * from the transfer day on, and never rewrites the index's past. Computed from the data the
 * strategies trade, never random. With `prefix` (this index over the first days), the days after
 * it continue from its last level.
 */
export function capWeightedIndex(data: MarketData, include: Membership, prefix?: Float64Array): Float64Array {
  const D = data.dates.length;
  const S = data.codes.length;
  // stocks without a history keep their membership on every day; the others are re-read per day
  const members = Uint8Array.from(data.stocks, (info) => (include(info) ? 1 : 0));
  const reclassified = data.stocks.flatMap((info, s) => ((info.history?.length ?? 0) > 0 ? [s] : []));
  const index = new Float64Array(D);
  const from = prefix ? Math.min(prefix.length, D) : 0;
  if (prefix) {
    index.set(prefix.subarray(0, from));
  }
  let level = from > 0 ? index[from - 1] : 1000;
  for (let d = from; d < D; d++) {
    if (d > 0) {
      const date = data.dates[d];
      for (const s of reclassified) {
        members[s] = include(classificationOn(data.stocks[s], date)) ? 1 : 0;
      }
      let weighted = 0;
      let weights = 0;
      const prev = (d - 1) * S;
      const cur = d * S;
      for (let s = 0; s < S; s++) {
        const w = data.marketCap[prev + s];
        const c0 = data.close[prev + s];
        const c1 = data.close[cur + s];
        if (members[s] === 1 && w > 0 && c0 > 0 && c1 > 0) {
          weighted += w * (c1 / c0 - 1);
          weights += w;
        }
      }
      if (weights > 0) {
        level *= 1 + weighted / weights;
      }
    }
    index[d] = level;
  }
  return index;
}
