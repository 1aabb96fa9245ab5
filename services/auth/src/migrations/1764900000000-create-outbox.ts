import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events written in the transaction of the change they report (a deleted account), published to
 * the Redis event stream by the outbox relay and marked published: the other services learn of
 * every committed change, at least once, whatever fails in between.
 */
export class CreateOutbox1764900000000 implements MigrationInterface {
  name = 'CreateOutbox1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE auth.outbox (
        id bigserial PRIMARY KEY,
        stream text NOT NULL,
        event jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      )`);
    await q.query(`CREATE INDEX ix_outbox_unpublished ON auth.outbox (id) WHERE published_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE auth.outbox`);
  }
}
