import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a rotation answered, kept for the grace period: encrypted with a key only the rotated
 * token's holder can derive (the token itself), and the successor's hash, so that the grace ends
 * as soon as the successor is used.
 */
export class RefreshGrace1765000000000 implements MigrationInterface {
  name = 'RefreshGrace1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE auth.refresh_tokens ADD COLUMN grace_answer bytea, ADD COLUMN successor_hash bytea`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE auth.refresh_tokens DROP COLUMN grace_answer, DROP COLUMN successor_hash`);
  }
}
