import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Linked broker accounts: the credentials sealed (envelope encryption), never in clear. */
export class BrokerAccounts1765000000000 implements MigrationInterface {
  name = 'BrokerAccounts1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE trading.broker_accounts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL,
        broker text NOT NULL CONSTRAINT ck_broker_accounts_broker CHECK (broker IN ('kiwoom-mock', 'kiwoom')),
        account_no text NOT NULL,
        -- a hash of the app key: accounts sharing an app key share its token and rate limit
        app_key_id text NOT NULL,
        credentials jsonb NOT NULL,
        kek_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        verified_at timestamptz NOT NULL,
        CONSTRAINT uq_broker_accounts_owner_account UNIQUE (owner_id, broker, account_no)
      )`);
    await q.query(`CREATE INDEX ix_broker_accounts_kek ON trading.broker_accounts (kek_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE trading.broker_accounts`);
  }
}
