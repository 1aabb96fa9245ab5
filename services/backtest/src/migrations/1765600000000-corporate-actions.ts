import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Corporate actions: splits, reverse splits, bonus and rights issues, one row per stock and
 * ex-date (the first trading day on the new price basis), with the factors the strategy engine
 * adjusts by (libs/strategy-engine README, "Corporate actions"): price_factor = the previous close
 * / the ex-date's base price, share_ratio = the shares a holder has per old share. Loaded by the
 * import path (a `corporate_actions` CSV, CSV_FORMATS.md) and derived by the daily ingest from
 * KRX's base prices and listed shares; datasets may now be of that kind.
 */
export class CorporateActions1765600000000 implements MigrationInterface {
  name = 'CorporateActions1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE market.corporate_actions (
        code text NOT NULL REFERENCES market.securities (code) ON DELETE CASCADE,
        ex_date date NOT NULL,
        kind text NOT NULL CHECK (kind IN ('split', 'reverse_split', 'bonus_issue', 'rights_issue')),
        price_factor double precision NOT NULL CHECK (price_factor > 0 AND price_factor < 'Infinity'),
        share_ratio double precision NOT NULL CHECK (share_ratio > 0 AND share_ratio < 'Infinity'),
        PRIMARY KEY (code, ex_date),
        CHECK ((kind = 'rights_issue') = (share_ratio = 1)),
        CHECK (kind <> 'reverse_split' OR share_ratio < 1),
        CHECK (kind NOT IN ('split', 'bonus_issue') OR share_ratio > 1)
      )`);
    await q.query(`CREATE INDEX ix_corporate_actions_ex_date ON market.corporate_actions (ex_date)`);
    await q.query(`ALTER TABLE backtest.datasets DROP CONSTRAINT datasets_kind_check`);
    await q.query(
      `ALTER TABLE backtest.datasets ADD CONSTRAINT datasets_kind_check
         CHECK (kind IN ('securities', 'bars', 'statements', 'classifications', 'corporate_actions'))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM backtest.datasets WHERE kind = 'corporate_actions'`);
    await q.query(`ALTER TABLE backtest.datasets DROP CONSTRAINT datasets_kind_check`);
    await q.query(
      `ALTER TABLE backtest.datasets ADD CONSTRAINT datasets_kind_check CHECK (kind IN ('securities', 'bars', 'statements', 'classifications'))`,
    );
    await q.query(`DROP TABLE market.corporate_actions`);
  }
}
