import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What each market data version changed, so that a process holding the previous version can
 * extend it instead of reloading the whole history (libs/market-data extend-market-data.ts):
 * `appended_after` set means the version only added trading days after that date, with their
 * bars (a daily increment); NULL means anything may have changed. Versions before this table
 * have no row, which reads as "anything may have changed". `stored_chain` is how the version's
 * snapshot was stored in object storage: 0 whole, n an increment n steps above a whole one (NULL:
 * not stored by the import job), so that the next import knows without reading the store.
 */
export class DataVersionLog1765100000000 implements MigrationInterface {
  name = 'DataVersionLog1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE market.data_version_log (
        version bigint PRIMARY KEY,
        appended_after date,
        stored_chain integer CHECK (stored_chain >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE market.data_version_log`);
  }
}
