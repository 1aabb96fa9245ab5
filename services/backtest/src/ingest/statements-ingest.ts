import { Readable } from 'node:stream';
import type {
  FiledStatement,
  Filing,
  FiscalQuarter,
  FundamentalsProvider,
  StatementAccount,
  StatementBasis,
} from '@stocklab/market-providers';
import type pg from 'pg';
import { CSV_FORMATS, STATEMENT_OPTIONAL_COLUMNS } from '../market/market-csv.js';
import { loadMarketCsv } from '../market/market-loader.js';

/** Advisory lock (one key) serialising statement ingests: two runs over the same filings would race on their rows. */
const STATEMENTS_LOCK_KEY = 7_250_311;

/** The report a periodic filing is, from its name: `[기재정정]분기보고서 (2025.03)` and the like. */
const REPORT_NAME = /^(?:\[[^\]]+\])?\s*(사업보고서|반기보고서|분기보고서)\s*\((\d{4})\.(\d{2})\)/;

/**
 * Where a field's account is: `IS` the income statement (IS or CIS), `BS` the balance sheet, `CF`
 * the cash-flow statement, whose rows are year to date in every report (REFERENCE.md §2.1).
 */
type Statement = 'IS' | 'BS' | 'CF';

interface FieldSpec {
  in: Statement;
  /** XBRL ids, matched first; then the names (spaces removed) */
  ids: readonly string[];
  names: readonly string[];
  /** an optional column: NULL when the report lacks it (a required one skips the filing) */
  optional?: true;
  /** every matching row added up (borrowings spread over several lines, depreciation + amortisation) */
  sum?: true;
  /** an outflow reported negative (dividends paid): stored as its size */
  magnitude?: true;
}

/**
 * The fields of market.financial_statements and the accounts they come from (XBRL id first, then
 * the name), the optional ones as libs/market-providers REFERENCE.md §2.9 records them.
 */
const FIELDS = {
  revenue: { in: 'IS', ids: ['ifrs-full_Revenue'], names: ['매출액', '수익(매출액)', '영업수익', '매출'] },
  operating_income: {
    in: 'IS',
    ids: ['dart_OperatingIncomeLoss', 'ifrs-full_ProfitLossFromOperatingActivities'],
    names: ['영업이익(손실)', '영업이익', '영업손익'],
  },
  net_income: { in: 'IS', ids: ['ifrs-full_ProfitLoss'], names: ['당기순이익(손실)', '당기순이익', '당기순손익'] },
  total_equity: { in: 'BS', ids: ['ifrs-full_Equity'], names: ['자본총계'] },
  total_liabilities: { in: 'BS', ids: ['ifrs-full_Liabilities'], names: ['부채총계'] },
  gross_profit: { in: 'IS', ids: ['ifrs-full_GrossProfit'], names: ['매출총이익', '매출총이익(손실)'], optional: true },
  operating_cash_flow: {
    in: 'CF',
    ids: ['ifrs-full_CashFlowsFromUsedInOperatingActivities'],
    names: ['영업활동현금흐름', '영업활동으로인한현금흐름'],
    optional: true,
  },
  depreciation_amortization: {
    in: 'CF',
    ids: [
      'ifrs-full_AdjustmentsForDepreciationAndAmortisationExpense',
      'ifrs-full_AdjustmentsForDepreciationExpense',
      'ifrs-full_AdjustmentsForAmortisationExpense',
    ],
    names: ['감가상각비', '무형자산상각비', '감가상각비에대한조정', '무형자산상각비에대한조정'],
    optional: true,
    sum: true,
  },
  interest_expense: {
    in: 'CF',
    ids: ['dart_AdjustmentsForInterestExpenses', 'ifrs-full_AdjustmentsForInterestExpense'],
    names: ['이자비용', '이자비용조정'],
    optional: true,
  },
  dividends_paid: {
    in: 'CF',
    ids: ['ifrs-full_DividendsPaidClassifiedAsFinancingActivities'],
    names: ['배당금의지급', '배당금지급'],
    optional: true,
    magnitude: true,
  },
  current_assets: { in: 'BS', ids: ['ifrs-full_CurrentAssets'], names: ['유동자산'], optional: true },
  current_liabilities: { in: 'BS', ids: ['ifrs-full_CurrentLiabilities'], names: ['유동부채'], optional: true },
  cash_and_equivalents: {
    in: 'BS',
    ids: ['ifrs-full_CashAndCashEquivalents'],
    names: ['현금및현금성자산'],
    optional: true,
  },
  total_borrowings: {
    in: 'BS',
    ids: [
      'ifrs-full_ShorttermBorrowings',
      'ifrs-full_CurrentPortionOfLongtermBorrowings',
      'ifrs-full_LongtermBorrowings',
      'dart_LongTermBorrowingsGross',
      'ifrs-full_NoncurrentPortionOfNoncurrentBondsIssued',
      'dart_BondsIssued',
      'dart_CurrentPortionOfBonds',
    ],
    names: ['단기차입금', '장기차입금', '유동성장기차입금', '유동성장기부채', '사채', '유동성사채'],
    optional: true,
    sum: true,
  },
} as const satisfies Record<string, FieldSpec>;
type Field = keyof typeof FIELDS;
/** A quarter's figures: the optional ones NULL when the report does not give them. */
export type StatementValues = {
  [F in Field]: (typeof FIELDS)[F] extends { optional: true } ? number | null : number;
};
/** The columns in the statements CSV's order (CSV_FORMATS.statements: the required, then the optional). */
const FIELD_NAMES = [...CSV_FORMATS.statements.columns.slice(3), ...CSV_FORMATS.statements.optionalColumns] as Field[];
const INCOME_STATEMENTS = new Set(['IS', 'CIS']);
/** An XBRL standard account id (a company's own lines have `-표준계정코드 미사용-` or an entity id). */
const STANDARD_ID = /^(ifrs-full|ifrs|dart)_/;
/** The optional columns that cannot be negative (the import refuses a negative one). */
const CSV_FORMATS_NON_NEGATIVE: ReadonlySet<string> = new Set(
  STATEMENT_OPTIONAL_COLUMNS.filter((c) => c.nonNegative).map((c) => c.column),
);

export interface StatementRow {
  code: string;
  /** yyyyQn */
  fiscalPeriod: string;
  /** yyyy-mm-dd: the filing's receipt date */
  reportDate: string;
  values: StatementValues;
  basis: StatementBasis;
  receiptNo: string;
}

export interface SkippedFiling {
  receiptNo: string;
  code: string | null;
  report: string;
  reason: string;
}

export interface StatementsIngestResult {
  /** yyyy-mm-dd, inclusive */
  from: string;
  to: string;
  /** periodic filings received in the range */
  filings: number;
  /** statements written (new or changed) */
  rows: StatementRow[];
  skipped: SkippedFiling[];
  inserted: number;
  updated: number;
  unchanged: number;
  dataVersion: string | null;
  changed: boolean;
}

export interface StatementsIngestDeps {
  pool: pg.Pool;
  provider: FundamentalsProvider;
  onNewVersion?: (dataVersion: number) => Promise<void>;
  log?: (message: string) => void;
}

/** A filing's report as a calendar quarter, or why it is not one this table can hold. */
export function reportPeriod(reportName: string): { year: number; quarter: FiscalQuarter } | string {
  const m = REPORT_NAME.exec(reportName.trim());
  if (!m) {
    return 'not a periodic report';
  }
  const [, kind, year, month] = m;
  const expected: Record<string, FiscalQuarter | undefined> =
    kind === '사업보고서' ? { '12': 4 } : kind === '반기보고서' ? { '06': 2 } : { '03': 1, '09': 3 };
  const quarter = expected[month ?? ''];
  if (quarter === undefined) {
    // a fiscal year that does not end in December: its quarters are not calendar quarters
    return `a fiscal year not ending in December (${kind} ${year}.${month})`;
  }
  return { year: Number(year), quarter };
}

/** The rows of a field's statement that carry it: the first by id, else by name; all of them for a sum. */
function accounts(statement: FiledStatement, field: Field): StatementAccount[] {
  const spec: FieldSpec = FIELDS[field];
  const rows = statement.accounts.filter(
    (a) => a.amount !== null && (spec.in === 'IS' ? INCOME_STATEMENTS.has(a.statement) : a.statement === spec.in),
  );
  const byId = rows.filter((a) => spec.ids.includes(a.accountId));
  const byName = rows.filter((a) => spec.names.includes(a.accountName.replace(/\s/g, '')));
  if (spec.sum) {
    // a company's own line (no standard id) counts by its name, a standard one by its id
    return rows.filter((a) => byId.includes(a) || (byName.includes(a) && !STANDARD_ID.test(a.accountId)));
  }
  const first = byId[0] ?? byName[0];
  return first ? [first] : [];
}

/** The report's figure of a field as stated (undefined when absent): year to date for CF and Q4 flows. */
function stated(statement: FiledStatement, field: Field, cumulative: boolean): number | undefined {
  const rows = accounts(statement, field);
  if (rows.length === 0) {
    return undefined;
  }
  let total = 0;
  for (const row of rows) {
    const value = cumulative && FIELDS[field].in === 'IS' ? row.cumulativeAmount : row.amount;
    if (value === null) {
      return undefined;
    }
    total += value;
  }
  return total;
}

/**
 * The quarter's figures from a report (CSV_FORMATS.md: flows for the quarter alone, stocks at its
 * end). Income-statement rows of Q1-Q3 reports give the quarter's three months; the annual report
 * gives the year, so Q4 is the year minus the first nine months, which the Q3 report of the same
 * basis states year to date. Cash-flow rows are year to date in every report (REFERENCE.md §2.1),
 * so each quarter is its report's figure minus the previous quarter's report's (Q1 as stated).
 * `previous` is the report of the quarter before (of the same year and basis; null for Q1 or when
 * it is not filed: then the cash flows of Q2-Q4 are unknown, NULL).
 */
export function quarterValues(
  report: FiledStatement,
  previous: FiledStatement | null,
): { values: StatementValues } | { missing: string } {
  const values = {} as Record<Field, number | null>;
  for (const field of FIELD_NAMES) {
    const spec: FieldSpec = FIELDS[field];
    const own = stated(report, field, false);
    let value: number | undefined = own;
    if (own !== undefined && report.quarter > 1 && (spec.in === 'CF' || (spec.in === 'IS' && report.quarter === 4))) {
      const before = previous ? stated(previous, field, true) : undefined;
      value = before === undefined ? undefined : own - before;
    }
    if (value === undefined) {
      if (spec.optional) {
        values[field] = null;
        continue;
      }
      return own === undefined
        ? { missing: `no ${field} in the ${report.basis} statement` }
        : { missing: `no nine-month ${field} in a Q3 report of ${report.year} to take from the year` };
    }
    values[field] = spec.magnitude ? Math.abs(value) : value;
  }
  if ((values.revenue as number) < 0 || (values.total_liabilities as number) < 0) {
    return { missing: 'negative revenue or liabilities' };
  }
  for (const field of FIELD_NAMES) {
    const column = CSV_FORMATS_NON_NEGATIVE.has(field);
    const v = values[field];
    if (column && v !== null && v < 0) {
      // a negative expense or balance (a reversal, a restatement): not the figure the column holds
      values[field] = null;
    }
  }
  return { values: values as StatementValues };
}

const iso = (ymd: string): string => `${ymd.slice(0, 4)}-${ymd.slice(4, 6)}-${ymd.slice(6, 8)}`;
const ymd = (isoDate: string): string => isoDate.replaceAll('-', '');

/**
 * Financial statements from disclosures (OpenDART), point in time: the periodic reports filed in a
 * date range, each turned into its calendar quarter's row of market.financial_statements with the
 * filing's receipt date as report_date, and loaded through the import path (the `statements`
 * format, one transaction, a new data version only when something changed). Consolidated
 * statements where the company has them, separate ones otherwise. An amended report that changes
 * figures moves report_date to the amendment's date (never earlier figures under a later truth).
 * Running a range again changes nothing; a provider failure leaves everything as it was.
 */
export class StatementsIngest {
  constructor(private readonly deps: StatementsIngestDeps) {}

  async ingest(from: string, to: string, signal?: AbortSignal): Promise<StatementsIngestResult> {
    const client = await this.deps.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [STATEMENTS_LOCK_KEY]);
      try {
        return await this.run(client, from, to, signal);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [STATEMENTS_LOCK_KEY]).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }

  private async run(
    client: pg.PoolClient,
    from: string,
    to: string,
    signal: AbortSignal | undefined,
  ): Promise<StatementsIngestResult> {
    const opts = signal ? { signal } : {};
    const filings = (await this.deps.provider.filings(ymd(from), ymd(to), { periodicOnly: true, ...opts })).sort(
      (a, b) => a.receiptNo.localeCompare(b.receiptNo),
    );
    const codes = [...new Set(filings.flatMap((f) => (f.stockCode ? [f.stockCode] : [])))];
    const { rows: listed } = await client.query<{ code: string }>(
      `SELECT code FROM market.securities WHERE code = ANY($1::text[])`,
      [codes],
    );
    const known = new Set(listed.map((r) => r.code));
    const skipped: SkippedFiling[] = [];
    const latest = new Map<string, StatementRow>();
    for (const filing of filings) {
      const row = await this.rowOf(filing, known, skipped, opts);
      if (row) {
        // the later filing of a quarter (an amendment) wins
        latest.set(`${row.code}:${row.fiscalPeriod}`, row);
      }
    }
    const rows = await this.datedAgainstStored(client, [...latest.values()]);
    const result: StatementsIngestResult = {
      from,
      to,
      filings: filings.length,
      rows,
      skipped,
      inserted: 0,
      updated: 0,
      unchanged: 0,
      dataVersion: null,
      changed: false,
    };
    if (rows.length === 0) {
      this.deps.log?.(`statements ${from}..${to}: ${filings.length} periodic filings, nothing to write`);
      return result;
    }
    const outcome = await loadMarketCsv(client, 'statements', () => Readable.from([toCsv(rows)]));
    if (!outcome.succeeded) {
      const first = outcome.errors[0];
      throw new Error(`the statements import refused the filings' rows (line ${first?.line}: ${first?.message})`);
    }
    this.deps.log?.(
      `statements ${from}..${to}: ${rows.length} rows, ${outcome.inserted} inserted, ${outcome.updated} updated, ` +
        `data version ${outcome.dataVersion}${outcome.changed ? '' : ' (unchanged)'}`,
    );
    if (outcome.changed && this.deps.onNewVersion) {
      await this.deps.onNewVersion(outcome.dataVersion).catch(() => undefined);
    }
    return {
      ...result,
      inserted: outcome.inserted,
      updated: outcome.updated,
      unchanged: outcome.unchanged,
      dataVersion: String(outcome.dataVersion),
      changed: outcome.changed,
    };
  }

  private async rowOf(
    filing: Filing,
    known: ReadonlySet<string>,
    skipped: SkippedFiling[],
    opts: { signal?: AbortSignal },
  ): Promise<StatementRow | undefined> {
    const skip = (reason: string): undefined => {
      skipped.push({ receiptNo: filing.receiptNo, code: filing.stockCode, report: filing.reportName, reason });
      return undefined;
    };
    if (!filing.stockCode || !known.has(filing.stockCode)) {
      return skip('not a listed security of the market data');
    }
    const period = reportPeriod(filing.reportName);
    if (typeof period === 'string') {
      return skip(period);
    }
    let report: FiledStatement | null = null;
    for (const basis of ['CFS', 'OFS'] as const) {
      report = await this.deps.provider.statement(filing.corpCode, period.year, period.quarter, basis, opts);
      if (report) {
        break;
      }
    }
    if (!report) {
      return skip('OpenDART has no statement of the report yet');
    }
    // the quarter before's report (same year and basis): Q4's income statement and Q2-Q4's cash flows are net of it
    const previous =
      period.quarter > 1
        ? await this.deps.provider.statement(
            filing.corpCode,
            period.year,
            (period.quarter - 1) as FiscalQuarter,
            report.basis,
            opts,
          )
        : null;
    const figures = quarterValues(report, previous);
    if ('missing' in figures) {
      return skip(figures.missing);
    }
    return {
      code: filing.stockCode,
      fiscalPeriod: `${period.year}Q${period.quarter}`,
      // the later of the search's date and the statement's own: an amendment answers with its own receipt
      reportDate: iso(report.filingDate > filing.receiptDate ? report.filingDate : filing.receiptDate),
      values: figures.values,
      basis: report.basis,
      receiptNo: report.receiptNo,
    };
  }

  /** Stored rows with the same figures keep their date; changed figures are dated no earlier than the stored ones. */
  private async datedAgainstStored(client: pg.PoolClient, rows: StatementRow[]): Promise<StatementRow[]> {
    if (rows.length === 0) {
      return rows;
    }
    const { rows: stored } = await client.query<
      { code: string; fiscal_period: string; report_date: string } & Record<Field, number | null>
    >(
      `SELECT code, fiscal_period, to_char(report_date, 'YYYY-MM-DD') AS report_date, ${FIELD_NAMES.join(', ')}
         FROM market.financial_statements
        WHERE (code, fiscal_period) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [rows.map((r) => r.code), rows.map((r) => r.fiscalPeriod)],
    );
    const byKey = new Map(stored.map((s) => [`${s.code}:${s.fiscal_period}`, s]));
    return rows.map((row) => {
      const before = byKey.get(`${row.code}:${row.fiscalPeriod}`);
      if (!before) {
        return row;
      }
      const same = FIELD_NAMES.every((f) => (before[f] === null ? null : Number(before[f])) === row.values[f]);
      const reportDate = same
        ? before.report_date
        : before.report_date > row.reportDate
          ? before.report_date
          : row.reportDate;
      return { ...row, reportDate };
    });
  }
}

function toCsv(rows: StatementRow[]): string {
  const lines = [`code,fiscal_period,report_date,${FIELD_NAMES.join(',')}`];
  for (const r of rows) {
    lines.push([r.code, r.fiscalPeriod, r.reportDate, ...FIELD_NAMES.map((f) => String(r.values[f] ?? ''))].join(','));
  }
  return `${lines.join('\n')}\n`;
}
