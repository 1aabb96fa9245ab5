import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Point in time market and sector: from `valid_from` on (until the code's next row), the stock is
 * in `market` and `sector` (KOSDAQ -> KOSPI transfers, reclassifications). market.securities keeps
 * the current values; the engine's universes read these as of each day (StockInfo.history).
 * Imported as the optional `classifications` dataset kind, so that kind joins the datasets' check.
 */
export class SecurityClassifications1765500000000 implements MigrationInterface {
  name = 'SecurityClassifications1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE market.security_classifications (
        code text NOT NULL REFERENCES market.securities (code) ON DELETE CASCADE,
        valid_from date NOT NULL,
        market text NOT NULL CHECK (market IN ('KOSPI', 'KOSDAQ')),
        sector text NOT NULL,
        PRIMARY KEY (code, valid_from)
      )`);
    await q.query(`ALTER TABLE backtest.datasets DROP CONSTRAINT datasets_kind_check`);
    await q.query(
      `ALTER TABLE backtest.datasets ADD CONSTRAINT datasets_kind_check
         CHECK (kind IN ('securities', 'bars', 'statements', 'classifications'))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM backtest.datasets WHERE kind = 'classifications'`);
    await q.query(`ALTER TABLE backtest.datasets DROP CONSTRAINT datasets_kind_check`);
    await q.query(
      `ALTER TABLE backtest.datasets ADD CONSTRAINT datasets_kind_check CHECK (kind IN ('securities', 'bars', 'statements'))`,
    );
    await q.query(`DROP TABLE market.security_classifications`);
  }
}
