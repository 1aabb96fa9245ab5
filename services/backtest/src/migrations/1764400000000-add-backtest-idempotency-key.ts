import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Lets a client retry a submission whose answer it never got without running the backtest twice. */
export class AddBacktestIdempotencyKey1764400000000 implements MigrationInterface {
  name = 'AddBacktestIdempotencyKey1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE backtest.backtests ADD COLUMN idempotency_key text, ADD COLUMN request_hash bytea`);
    await q.query(
      `CREATE UNIQUE INDEX uq_backtests_idempotency_key ON backtest.backtests (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX backtest.uq_backtests_idempotency_key`);
    await q.query(`ALTER TABLE backtest.backtests DROP COLUMN idempotency_key, DROP COLUMN request_hash`);
  }
}
