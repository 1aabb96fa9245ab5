import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The durable record of revoked access tokens, from which Redis is restored after losing its data. */
export class CreateAccessRevocations1764400000000 implements MigrationInterface {
  name = 'CreateAccessRevocations1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE auth.access_revocations (
        kind text NOT NULL CHECK (kind IN ('jti', 'user')),
        subject text NOT NULL,
        revoked_before bigint,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (kind, subject),
        CHECK ((kind = 'user') = (revoked_before IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX ix_access_revocations_expires ON auth.access_revocations (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE auth.access_revocations`);
  }
}
