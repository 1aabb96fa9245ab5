import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Lets a client retry an activation whose answer it never got without allocating capital twice. */
export class AddActivationIdempotencyKey1764400000000 implements MigrationInterface {
  name = 'AddActivationIdempotencyKey1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE trading.auto_strategies ADD COLUMN idempotency_key text, ADD COLUMN request_hash bytea`);
    await q.query(
      `CREATE UNIQUE INDEX uq_auto_strategies_idempotency_key ON trading.auto_strategies (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX trading.uq_auto_strategies_idempotency_key`);
    await q.query(`ALTER TABLE trading.auto_strategies DROP COLUMN idempotency_key, DROP COLUMN request_hash`);
  }
}
