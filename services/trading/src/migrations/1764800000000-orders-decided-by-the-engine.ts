import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Live trading decides with the engine's StrategyDecider and its orders fill on the day's bar:
 * - a strategy keeps what the decider needs between days: the picks of its latest rebalance not
 *   bought yet (wanted), the signal day it last decided on, and per position a sell at the open
 *   decided but not filled yet (pending_sell);
 * - an order has the engine's kind (market sell, limit buy, stop sell, target sell) and level; it
 *   is accepted before the open and filled (or expired) once the day's bar exists, with the
 *   strategy's commission and tax booked;
 * - prices are numeric without a scale, so a price computed in JavaScript comes back as the very
 *   same double (a stop level derived from a rounded entry price could differ from the backtest's);
 * - the database refuses a strategy cash below zero.
 */
export class OrdersDecidedByTheEngine1764800000000 implements MigrationInterface {
  name = 'OrdersDecidedByTheEngine1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE trading.auto_strategies
        ADD COLUMN wanted jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN last_signal_date date,
        ADD CONSTRAINT ck_auto_strategies_cash CHECK (cash >= 0)`);
    await q.query(`
      ALTER TABLE trading.positions
        ALTER COLUMN entry_price TYPE numeric,
        ADD COLUMN pending_sell text CONSTRAINT ck_positions_pending_sell
          CHECK (pending_sell IN ('rebalance', 'sell_condition', 'max_holding', 'liquidation', 'manual'))`);
    await q.query(`
      ALTER TABLE trading.order_intents
        DROP CONSTRAINT ck_order_intents_status,
        DROP CONSTRAINT ck_order_intents_type,
        DROP CONSTRAINT ck_order_intents_price_source,
        ALTER COLUMN reference_price TYPE numeric,
        ALTER COLUMN fill_price TYPE numeric,
        ADD COLUMN kind text,
        ADD COLUMN level numeric,
        ADD COLUMN commission bigint,
        ADD COLUMN tax bigint,
        ADD COLUMN booked_at timestamptz`);
    await q.query(
      `UPDATE trading.order_intents SET kind = CASE WHEN side = 'buy' THEN 'limit_buy' ELSE 'market_sell' END`,
    );
    await q.query(`
      ALTER TABLE trading.order_intents
        ALTER COLUMN kind SET NOT NULL,
        ADD CONSTRAINT ck_order_intents_kind CHECK (kind IN ('market_sell', 'limit_buy', 'stop_sell', 'target_sell')),
        ADD CONSTRAINT ck_order_intents_type CHECK (order_type IN ('market', 'limit', 'stop')),
        ADD CONSTRAINT ck_order_intents_status
          CHECK (status IN ('pending', 'sent', 'accepted', 'filled', 'expired', 'rejected')),
        ADD CONSTRAINT ck_order_intents_price_source CHECK (fill_price_source IN ('open', 'level', 'latest_close'))`);
    await q.query(`
      ALTER TABLE trading.job_runs
        DROP CONSTRAINT ck_job_runs_status,
        ADD CONSTRAINT ck_job_runs_status CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'waiting'))`);
    await q.query(
      `CREATE INDEX ix_order_intents_open ON trading.order_intents (trading_date) WHERE status IN ('pending', 'sent', 'accepted')`,
    );
    await q.query(`
      ALTER TABLE trading.paper_orders
        DROP CONSTRAINT ck_paper_orders_status,
        DROP CONSTRAINT ck_paper_orders_type,
        DROP CONSTRAINT ck_paper_orders_price_source,
        ALTER COLUMN limit_price TYPE numeric,
        ALTER COLUMN fill_price TYPE numeric,
        ADD COLUMN kind text NOT NULL DEFAULT 'market_sell'
          CONSTRAINT ck_paper_orders_kind CHECK (kind IN ('market_sell', 'limit_buy', 'stop_sell', 'target_sell')),
        ADD COLUMN matched_at timestamptz,
        ADD CONSTRAINT ck_paper_orders_type CHECK (order_type IN ('market', 'limit', 'stop')),
        ADD CONSTRAINT ck_paper_orders_status CHECK (status IN ('accepted', 'filled', 'expired', 'rejected')),
        ADD CONSTRAINT ck_paper_orders_price_source CHECK (fill_price_source IN ('open', 'level', 'latest_close'))`);
    await q.query(
      `CREATE INDEX ix_paper_orders_open ON trading.paper_orders (account_id, code) WHERE status = 'accepted'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX trading.ix_paper_orders_open`);
    await q.query(`DROP INDEX trading.ix_order_intents_open`);
    await q.query(`
      ALTER TABLE trading.job_runs
        DROP CONSTRAINT ck_job_runs_status,
        ADD CONSTRAINT ck_job_runs_status CHECK (status IN ('running', 'succeeded', 'failed', 'skipped'))`);
    await q.query(`
      ALTER TABLE trading.paper_orders
        DROP CONSTRAINT ck_paper_orders_status,
        DROP CONSTRAINT ck_paper_orders_type,
        DROP CONSTRAINT ck_paper_orders_price_source,
        DROP COLUMN kind,
        DROP COLUMN matched_at`);
    await q.query(`
      ALTER TABLE trading.order_intents
        DROP CONSTRAINT ck_order_intents_kind,
        DROP CONSTRAINT ck_order_intents_status,
        DROP CONSTRAINT ck_order_intents_type,
        DROP CONSTRAINT ck_order_intents_price_source,
        DROP COLUMN kind,
        DROP COLUMN level,
        DROP COLUMN commission,
        DROP COLUMN tax,
        DROP COLUMN booked_at`);
    await q.query(`ALTER TABLE trading.positions DROP COLUMN pending_sell`);
    await q.query(`
      ALTER TABLE trading.auto_strategies
        DROP CONSTRAINT ck_auto_strategies_cash,
        DROP COLUMN wanted,
        DROP COLUMN last_signal_date`);
  }
}
