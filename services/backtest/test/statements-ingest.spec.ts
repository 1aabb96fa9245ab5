import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { OpenDartDouble, type FiledStatement, type FiscalQuarter } from '@stocklab/market-providers';
import { assertErrorBody } from '@stocklab/test-support';
import pg from 'pg';
import { quarterValues, reportPeriod } from '../src/ingest/statements-ingest.js';
import { startInProcessBacktest, type InProcessBacktest } from './support.js';

const KEY = 'd'.repeat(40);
const B = 1_000_000_000;

/** market.financial_statements, in a fixed order, as numbers */
async function statements(pool: pg.Pool): Promise<unknown[]> {
  const { rows } = await pool.query<Record<string, unknown>>(
    `SELECT code, fiscal_period, to_char(report_date, 'YYYY-MM-DD') AS report_date, revenue::float8 AS revenue,
            operating_income::float8 AS operating_income, net_income::float8 AS net_income,
            total_equity::float8 AS total_equity, total_liabilities::float8 AS total_liabilities,
            gross_profit, operating_cash_flow, depreciation_amortization, interest_expense, dividends_paid,
            current_assets, current_liabilities, cash_and_equivalents, total_borrowings
       FROM market.financial_statements ORDER BY code, fiscal_period`,
  );
  return rows;
}

describe('report names as calendar quarters', () => {
  it('reads the period of quarterly, half-year and annual reports, amended or not', () => {
    assert.deepEqual(reportPeriod('분기보고서 (2025.03)'), { year: 2025, quarter: 1 });
    assert.deepEqual(reportPeriod('반기보고서 (2024.06)'), { year: 2024, quarter: 2 });
    assert.deepEqual(reportPeriod('분기보고서 (2024.09)'), { year: 2024, quarter: 3 });
    assert.deepEqual(reportPeriod('[기재정정]사업보고서 (2024.12)'), { year: 2024, quarter: 4 });
  });

  it('refuses what is not a calendar quarter of a December fiscal year', () => {
    assert.match(reportPeriod('사업보고서 (2024.06)') as string, /not ending in December/);
    assert.match(reportPeriod('분기보고서 (2024.06)') as string, /not ending in December/);
    assert.equal(reportPeriod('주요사항보고서(주식분할결정)'), 'not a periodic report');
  });
});

/**
 * The statements ingest (in-process, real PostgreSQL and Redis, the OpenDART double serving the
 * scripted filings of March-May 2025): quarter figures from the reports, Q4 as the year minus the
 * Q3 report's nine months, dated by the filing; idempotent; an outage changes nothing.
 */
describe("a quarter's figures from its report and the one before", () => {
  const report = (quarter: FiscalQuarter, rows: [string, string, number | null, number | null][]): FiledStatement => ({
    corpCode: '00900001',
    year: 2024,
    quarter,
    reportCode: '11014',
    basis: 'CFS',
    receiptNo: '20241114002642',
    filingDate: '20241114',
    accounts: rows.map(([statement, accountId, amount, cumulativeAmount]) => ({
      statement,
      accountId,
      accountName: '-',
      amount,
      cumulativeAmount,
      currency: 'KRW',
    })),
  });
  const required: [string, string, number, number][] = [
    ['IS', 'ifrs-full_Revenue', 700, 2100],
    ['IS', 'dart_OperatingIncomeLoss', 70, 200],
    ['IS', 'ifrs-full_ProfitLoss', 50, 150],
    ['BS', 'ifrs-full_Equity', 900, 900],
    ['BS', 'ifrs-full_Liabilities', 400, 400],
  ];
  // Q3: cash-flow rows year to date (nine months), the Q2 report's six months before them
  const q3 = report(3, [
    ...required,
    ['IS', 'ifrs-full_GrossProfit', 300, 850],
    ['CF', 'ifrs-full_CashFlowsFromUsedInOperatingActivities', 470, null],
    ['CF', 'ifrs-full_AdjustmentsForDepreciationExpense', 90, null],
    ['CF', 'dart_AdjustmentsForInterestExpenses', 20, null],
    ['CF', 'ifrs-full_DividendsPaidClassifiedAsFinancingActivities', -30, null],
    ['BS', 'ifrs-full_ShorttermBorrowings', 100, null],
    ['BS', '-표준계정코드 미사용-', 40, null],
  ]);
  const ownLine = q3.accounts.at(-1);
  if (ownLine) {
    ownLine.accountName = '유동성 장기부채'; // a company's own line, counted by its name
  }
  const q2 = report(2, [
    ...required,
    ['CF', 'ifrs-full_CashFlowsFromUsedInOperatingActivities', 280, null],
    ['CF', 'ifrs-full_AdjustmentsForDepreciationExpense', 60, null],
    ['CF', 'dart_AdjustmentsForInterestExpenses', 25, null],
    ['CF', 'ifrs-full_DividendsPaidClassifiedAsFinancingActivities', -30, null],
  ]);

  it('de-cumulates the cash flows of a second or third quarter by the report before; income rows are the quarter', () => {
    const figures = quarterValues(q3, q2);
    assert.ok('values' in figures);
    assert.deepEqual(figures.values, {
      revenue: 700,
      operating_income: 70,
      net_income: 50,
      total_equity: 900,
      total_liabilities: 400,
      gross_profit: 300, // the quarter's own IS row
      operating_cash_flow: 470 - 280,
      depreciation_amortization: 90 - 60,
      interest_expense: null, // 20 - 25 < 0: a restatement, not an expense
      dividends_paid: 0, // none paid in the quarter (-30 - -30)
      current_assets: null,
      current_liabilities: null,
      cash_and_equivalents: null,
      total_borrowings: 100 + 40,
    });
  });

  it('leaves the cash flows NULL without the report before, and never skips a filing for an optional figure', () => {
    const figures = quarterValues(q3, null);
    assert.ok('values' in figures);
    assert.equal(figures.values.operating_cash_flow, null);
    assert.equal(figures.values.dividends_paid, null);
    assert.equal(figures.values.gross_profit, 300);
    assert.equal(figures.values.revenue, 700);
  });
});

describe('statements ingest from OpenDART (in-process, double)', () => {
  let double: OpenDartDouble;
  let svc: InProcessBacktest;
  let pool: pg.Pool;
  let admin: string;
  let user: string;

  const trigger = (body: unknown, token = admin) =>
    svc
      .http()
      .post('/api/backtest/market/statements/ingest')
      .set({ authorization: `Bearer ${token}` })
      .send(body as object);

  beforeAll(async () => {
    double = await OpenDartDouble.start();
    double.addKey(KEY);
    svc = await startInProcessBacktest({
      BACKTEST_CONCURRENCY: '0',
      IMPORT_CONCURRENCY: '0',
      OPENDART_API_KEY: KEY,
      OPENDART_API_URL: double.url,
      OPENDART_REQUESTS_PER_SECOND: '50',
      KRX_RETRY_ATTEMPTS: '2',
      KRX_RETRY_BASE_MS: '10',
    });
    pool = new pg.Pool({ connectionString: svc.db.url, max: 2 });
    admin = await svc.tokenFor(randomUUID(), ['user', 'admin']);
    user = await svc.tokenFor(randomUUID());
    // 한빛전자 and 누리화학 are in the market data; 가람바이오 (222210) is not
    await pool.query(
      `INSERT INTO market.securities (code, name, market, sector, listed_on)
       VALUES ('111110', '한빛전자', 'KOSPI', '전기전자', '2000-01-04'), ('111120', '누리화학', 'KOSPI', '화학', '2001-06-01')`,
    );
  });

  afterAll(async () => {
    await pool?.end();
    await svc?.close();
    await double?.close();
  });

  it('refuses bad input with 400 (401/403 without an admin token) and asks OpenDART nothing', async () => {
    for (const body of [
      {},
      { from: '2025-03-01' },
      { from: '2025-3-1', to: '2025-05-31' },
      { from: '2025-05-31', to: '2025-03-01' },
      { from: '2014-12-01', to: '2015-01-31' },
      { from: '2025-01-01', to: '2999-01-01' },
      { from: '2023-01-01', to: '2025-01-01' },
      { from: '2025-03-01', to: '2025-05-31', extra: true },
    ]) {
      const res = await trigger(body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`);
      assertErrorBody(res.body);
    }
    assert.equal((await trigger({ from: '2025-03-01', to: '2025-05-31' }, user)).status, 403);
    assert.equal(
      (await svc.http().post('/api/backtest/market/statements/ingest').send({ from: '2025-03-01', to: '2025-05-31' }))
        .status,
      401,
    );
    assert.equal(double.faults.count('/api/'), 0);
    assert.deepEqual(await statements(pool), []);
  });

  it('an outage is a 503 and changes nothing', async () => {
    double.inject('http-503', { times: Infinity });
    const res = await trigger({ from: '2025-03-01', to: '2025-05-31' });
    double.faults.clear();
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assertErrorBody(res.body);
    assert.equal(res.body.code, 'STATEMENTS_INGEST_FAILED');
    assert.deepEqual(await statements(pool), []);
  });

  it("writes each quarter's own figures dated by the filing, Q4 as the year minus nine months; skips what it cannot place", async () => {
    const version = async () => Number((await pool.query(`SELECT version FROM market.data_version`)).rows[0].version);
    const before = await version();
    const res = await trigger({ from: '2025-03-01', to: '2025-05-31' }).expect(200);
    assert.equal(res.body.filings, 5, 'the five periodic filings of the range (not the split or delisting notices)');
    assert.equal(res.body.inserted, 2);
    assert.equal(res.body.changed, true);
    assert.equal(await version(), before + 1);
    // hand-computed from the scripted reports (KRW): 2024 annual minus the Q3 report's nine months
    assert.deepEqual(await statements(pool), [
      {
        code: '111110',
        fiscal_period: '2024Q4',
        report_date: '2025-03-11',
        revenue: 300_870_903_000_000 - 225_082_634_000_000,
        operating_income: 32_725_961_000_000 - 26_232_569_000_000,
        net_income: 34_451_351_000_000 - 26_696_777_000_000,
        total_equity: 514_531_948_000_000 - 112_339_878_000_000,
        total_liabilities: 112_339_878_000_000,
        // the optional accounts (KRW billions x 1e9): IS as above, CF the year less the Q3 report's
        // nine months year to date, BS at the year end
        gross_profit: (120_000 - 89_000) * B,
        operating_cash_flow: (72_900 - 47_000) * B,
        depreciation_amortization: (38_600 + 2_900 - (28_000 + 2_100)) * B, // depreciation + amortisation
        interest_expense: (850 - 630) * B,
        dividends_paid: (9_800 - 7_350) * B, // an outflow in the cash-flow statement, stored as its size
        current_assets: 227_000 * B,
        current_liabilities: 76_000 * B,
        cash_and_equivalents: 53_700 * B,
        total_borrowings: (13_100 + 3_700 + 14) * B, // short- and long-term borrowings and bonds
      },
      {
        code: '111110',
        fiscal_period: '2025Q1',
        report_date: '2025-05-15',
        revenue: 79_140_500_000_000,
        operating_income: 6_685_300_000_000,
        net_income: 8_224_900_000_000,
        total_equity: 410_000_000_000_000,
        total_liabilities: 110_000_000_000_000,
        // a first quarter: the cash flows as stated (the year to date is the quarter)
        gross_profit: 29_500 * B,
        operating_cash_flow: 12_000 * B,
        depreciation_amortization: (9_800 + 750) * B,
        interest_expense: 190 * B,
        dividends_paid: 2_450 * B,
        current_assets: 230_000 * B,
        current_liabilities: 78_000 * B,
        cash_and_equivalents: 50_000 * B,
        total_borrowings: (12_000 + 3_500) * B,
      },
    ]);
    const reasons = (res.body.skipped as Array<{ receiptNo: string; reason: string }>).map(
      (s) => `${s.receiptNo} ${s.reason}`,
    );
    assert.deepEqual(reasons, [
      // 누리화학 has no Q3 2024 report to take the year's first nine months from (and its amendment neither)
      '20250318000789 no nine-month revenue in a Q3 report of 2024 to take from the year',
      '20250320001011 not a listed security of the market data',
      '20250402000222 no nine-month revenue in a Q3 report of 2024 to take from the year',
    ]);
  });

  it('reading the range again changes nothing; changed figures are never dated earlier than the stored ones', async () => {
    const again = await trigger({ from: '2025-03-01', to: '2025-05-31' }).expect(200);
    assert.equal(again.body.unchanged, 2);
    assert.equal(again.body.changed, false);
    // as if the stored Q4 came from a later filing with other figures: the report's figures come
    // back, but not from before the date they were stored under
    await pool.query(
      `UPDATE market.financial_statements SET revenue = 1, report_date = '2025-04-01' WHERE fiscal_period = '2024Q4'`,
    );
    const fixed = await trigger({ from: '2025-03-11', to: '2025-03-11' }).expect(200);
    assert.equal(fixed.body.updated, 1);
    const { rows } = await pool.query(
      `SELECT revenue::float8 AS revenue, to_char(report_date, 'YYYY-MM-DD') AS d FROM market.financial_statements WHERE fiscal_period = '2024Q4'`,
    );
    assert.deepEqual(rows, [{ revenue: 300_870_903_000_000 - 225_082_634_000_000, d: '2025-04-01' }]);
  });
});
