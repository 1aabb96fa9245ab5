import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The statements' optional figures (issue 16, factor breadth), all NULLABLE: NULL = not reported,
 * and a factor that needs it is then NaN for the stock (never computed from 0). Flows are the
 * quarter's alone like the other flows (the loader sums four quarters into TTM); stocks are at the
 * quarter's end. Definitions (services/backtest/src/datasets/CSV_FORMATS.md, the OpenDART
 * accounts in libs/market-providers REFERENCE.md §2.9):
 * - gross_profit: 매출총이익, revenue - cost of sales (flow, may be negative);
 * - operating_cash_flow: 영업활동현금흐름 (flow, may be negative);
 * - depreciation_amortization: 감가상각비 + 무형자산상각비 (flow, >= 0), for EBITDA;
 * - interest_expense: 이자비용 (flow, >= 0), for interest coverage;
 * - dividends_paid: 배당금의 지급, cash dividends paid (flow, >= 0), for the dividend yield;
 * - current_assets, current_liabilities: 유동자산, 유동부채 (stock, >= 0);
 * - cash_and_equivalents: 현금및현금성자산 (stock, >= 0);
 * - total_borrowings: interest-bearing debt, 단기·장기차입금 + 사채 + 유동성장기부채 (stock, >= 0), for EV.
 */
const STATEMENT_FIELD_COLUMNS = [
  ['gross_profit', false],
  ['operating_cash_flow', false],
  ['depreciation_amortization', true],
  ['interest_expense', true],
  ['dividends_paid', true],
  ['current_assets', true],
  ['current_liabilities', true],
  ['cash_and_equivalents', true],
  ['total_borrowings', true],
] as const;

export class StatementFields1765700000000 implements MigrationInterface {
  name = 'StatementFields1765700000000';

  async up(q: QueryRunner): Promise<void> {
    const columns = STATEMENT_FIELD_COLUMNS.map(
      ([column, nonNegative]) =>
        `ADD COLUMN ${column} double precision CHECK (${column} ${nonNegative ? '>= 0' : "> '-Infinity'"} AND ${column} < 'Infinity')`,
    );
    await q.query(`ALTER TABLE market.financial_statements ${columns.join(', ')}`);
  }

  async down(q: QueryRunner): Promise<void> {
    const columns = STATEMENT_FIELD_COLUMNS.map(([column]) => `DROP COLUMN ${column}`);
    await q.query(`ALTER TABLE market.financial_statements ${columns.join(', ')}`);
  }
}
