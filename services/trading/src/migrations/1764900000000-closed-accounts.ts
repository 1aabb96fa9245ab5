import type { MigrationInterface, QueryRunner } from 'typeorm';

/** An account whose user deleted it: no new activation, its strategies wound down (account.deleted). */
export class ClosedAccounts1764900000000 implements MigrationInterface {
  name = 'ClosedAccounts1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE trading.accounts ADD COLUMN closed_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE trading.accounts DROP COLUMN closed_at`);
  }
}
