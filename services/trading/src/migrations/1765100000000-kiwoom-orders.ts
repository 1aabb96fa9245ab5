import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Orders at a broker without a client order id: a strategy trades on the paper broker or on one
 * linked account; an intent sent there records each attempt (`sending`, its number and instant)
 * before the call and the broker's order number after it, so that a successor looks the order up
 * instead of sending it again; an order that cannot be told apart waits for a person
 * (`needs_review`); partial fills record what filled. The day-end reconciliation keeps what it
 * found per account and day.
 */
export class KiwoomOrders1765100000000 implements MigrationInterface {
  name = 'KiwoomOrders1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE trading.auto_strategies
        ADD COLUMN broker_account_id uuid
          CONSTRAINT fk_auto_strategies_broker_account REFERENCES trading.broker_accounts (id) ON DELETE RESTRICT`);
    await q.query(
      `CREATE INDEX ix_auto_strategies_broker_account ON trading.auto_strategies (broker_account_id) WHERE broker_account_id IS NOT NULL`,
    );
    await q.query(`DROP INDEX trading.ix_order_intents_open`);
    await q.query(`
      ALTER TABLE trading.order_intents
        DROP CONSTRAINT ck_order_intents_status,
        DROP CONSTRAINT ck_order_intents_price_source,
        ADD COLUMN broker_account_id uuid,
        ADD COLUMN attempt integer NOT NULL DEFAULT 0,
        ADD COLUMN attempt_sent_at timestamptz,
        ADD COLUMN filled_quantity bigint,
        ADD COLUMN review_reason text,
        ADD CONSTRAINT ck_order_intents_status
          CHECK (status IN ('pending', 'sending', 'sent', 'accepted', 'filled', 'expired', 'rejected', 'needs_review')),
        ADD CONSTRAINT ck_order_intents_price_source
          CHECK (fill_price_source IN ('open', 'level', 'latest_close', 'broker')),
        ADD CONSTRAINT ck_order_intents_sending CHECK (status <> 'sending' OR (attempt > 0 AND attempt_sent_at IS NOT NULL))`);
    await q.query(
      `CREATE INDEX ix_order_intents_open ON trading.order_intents (trading_date)
        WHERE status IN ('pending', 'sending', 'sent', 'accepted', 'needs_review')`,
    );
    // one broker order number binds one intent per account: an adopted order cannot be adopted twice
    await q.query(
      `CREATE UNIQUE INDEX uq_order_intents_broker_order ON trading.order_intents (broker_account_id, trading_date, broker_order_id)
        WHERE broker_account_id IS NOT NULL AND broker_order_id IS NOT NULL`,
    );
    await q.query(`
      CREATE TABLE trading.broker_reconciliations (
        id bigserial PRIMARY KEY,
        broker_account_id uuid NOT NULL
          CONSTRAINT fk_broker_reconciliations_account REFERENCES trading.broker_accounts (id) ON DELETE CASCADE,
        trading_date date NOT NULL,
        platform_cash bigint NOT NULL,
        broker_cash bigint NOT NULL,
        drifts jsonb NOT NULL,
        drift_count integer NOT NULL,
        run_key text NOT NULL,
        checked_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_broker_reconciliations_day UNIQUE (broker_account_id, trading_date)
      )`);
    await q.query(`
      ALTER TABLE trading.job_runs
        DROP CONSTRAINT ck_job_runs_job,
        ADD CONSTRAINT ck_job_runs_job CHECK (job IN ('select', 'execute', 'reconcile'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM trading.job_runs WHERE job = 'reconcile'`);
    await q.query(`
      ALTER TABLE trading.job_runs
        DROP CONSTRAINT ck_job_runs_job,
        ADD CONSTRAINT ck_job_runs_job CHECK (job IN ('select', 'execute'))`);
    await q.query(`DROP TABLE trading.broker_reconciliations`);
    await q.query(`DROP INDEX trading.uq_order_intents_broker_order`);
    await q.query(`DROP INDEX trading.ix_order_intents_open`);
    await q.query(`UPDATE trading.order_intents SET status = 'sent' WHERE status IN ('sending', 'needs_review')`);
    await q.query(`UPDATE trading.order_intents SET fill_price_source = 'level' WHERE fill_price_source = 'broker'`);
    await q.query(`
      ALTER TABLE trading.order_intents
        DROP CONSTRAINT ck_order_intents_sending,
        DROP CONSTRAINT ck_order_intents_status,
        DROP CONSTRAINT ck_order_intents_price_source,
        DROP COLUMN review_reason,
        DROP COLUMN filled_quantity,
        DROP COLUMN attempt_sent_at,
        DROP COLUMN attempt,
        DROP COLUMN broker_account_id,
        ADD CONSTRAINT ck_order_intents_status
          CHECK (status IN ('pending', 'sent', 'accepted', 'filled', 'expired', 'rejected')),
        ADD CONSTRAINT ck_order_intents_price_source CHECK (fill_price_source IN ('open', 'level', 'latest_close'))`);
    await q.query(
      `CREATE INDEX ix_order_intents_open ON trading.order_intents (trading_date) WHERE status IN ('pending', 'sent', 'accepted')`,
    );
    await q.query(`DROP INDEX trading.ix_auto_strategies_broker_account`);
    await q.query(`ALTER TABLE trading.auto_strategies DROP COLUMN broker_account_id`);
  }
}
