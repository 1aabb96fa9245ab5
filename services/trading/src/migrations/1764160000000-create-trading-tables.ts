import type { MigrationInterface, QueryRunner } from 'typeorm';

/** KRX closing days of 2026 and 2027 (weekends are closed anyway; listed when they fall on one). */
export const SEEDED_HOLIDAYS: ReadonlyArray<readonly [string, string]> = [
  ['2026-01-01', "New Year's Day"],
  ['2026-02-16', 'Seollal'],
  ['2026-02-17', 'Seollal'],
  ['2026-02-18', 'Seollal'],
  ['2026-03-01', 'Independence Movement Day'],
  ['2026-03-02', 'Substitute holiday (Independence Movement Day)'],
  ['2026-05-01', 'Labor Day'],
  ['2026-05-05', "Children's Day"],
  ['2026-05-24', "Buddha's Birthday"],
  ['2026-05-25', "Substitute holiday (Buddha's Birthday)"],
  ['2026-06-03', 'Local elections'],
  ['2026-06-06', 'Memorial Day'],
  ['2026-08-15', 'Liberation Day'],
  ['2026-08-17', 'Substitute holiday (Liberation Day)'],
  ['2026-09-24', 'Chuseok'],
  ['2026-09-25', 'Chuseok'],
  ['2026-09-26', 'Chuseok'],
  ['2026-10-03', 'National Foundation Day'],
  ['2026-10-05', 'Substitute holiday (National Foundation Day)'],
  ['2026-10-09', 'Hangul Day'],
  ['2026-12-25', 'Christmas'],
  ['2026-12-31', 'Year-end closing'],
  ['2027-01-01', "New Year's Day"],
  ['2027-02-06', 'Seollal'],
  ['2027-02-07', 'Seollal'],
  ['2027-02-08', 'Seollal'],
  ['2027-02-09', 'Substitute holiday (Seollal)'],
  ['2027-03-01', 'Independence Movement Day'],
  ['2027-05-01', 'Labor Day'],
  ['2027-05-05', "Children's Day"],
  ['2027-05-13', "Buddha's Birthday"],
  ['2027-06-06', 'Memorial Day'],
  ['2027-08-15', 'Liberation Day'],
  ['2027-08-16', 'Substitute holiday (Liberation Day)'],
  ['2027-09-14', 'Chuseok'],
  ['2027-09-15', 'Chuseok'],
  ['2027-09-16', 'Chuseok'],
  ['2027-10-03', 'National Foundation Day'],
  ['2027-10-04', 'Substitute holiday (National Foundation Day)'],
  ['2027-10-09', 'Hangul Day'],
  ['2027-10-11', 'Substitute holiday (Hangul Day)'],
  ['2027-12-25', 'Christmas'],
  ['2027-12-27', 'Substitute holiday (Christmas)'],
  ['2027-12-31', 'Year-end closing'],
];

/**
 * The trading schema. KRW amounts are bigint (whole won), share counts bigint, prices numeric:
 * never floating point for money.
 */
export class CreateTradingTables1764160000000 implements MigrationInterface {
  name = 'CreateTradingTables1764160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE trading.leader_epochs (
        id int PRIMARY KEY CONSTRAINT ck_leader_epochs_single CHECK (id = 1),
        epoch bigint NOT NULL,
        holder text NOT NULL DEFAULT '',
        taken_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO trading.leader_epochs (id, epoch) VALUES (1, 0)`);
    await q.query(`
      CREATE TABLE trading.holidays (
        date date PRIMARY KEY,
        name text NOT NULL CONSTRAINT ck_holidays_name CHECK (length(name) BETWEEN 1 AND 100),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    for (const [date, name] of SEEDED_HOLIDAYS) {
      await q.query(`INSERT INTO trading.holidays (date, name) VALUES ($1, $2)`, [date, name]);
    }
    await q.query(`
      CREATE TABLE trading.job_runs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        run_key text NOT NULL,
        job text NOT NULL CONSTRAINT ck_job_runs_job CHECK (job IN ('select', 'execute')),
        trading_date date NOT NULL,
        scheduled_at timestamptz NOT NULL,
        epoch bigint NOT NULL,
        runner text NOT NULL,
        status text NOT NULL CONSTRAINT ck_job_runs_status CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
        trigger text NOT NULL CONSTRAINT ck_job_runs_trigger CHECK (trigger IN ('cron', 'catch-up', 'api')),
        attempts int NOT NULL DEFAULT 1,
        planned_at timestamptz,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        summary jsonb NOT NULL DEFAULT '{}',
        error text,
        CONSTRAINT uq_job_runs_run_key UNIQUE (run_key),
        CONSTRAINT uq_job_runs_job_date UNIQUE (job, trading_date)
      )`);
    await q.query(`CREATE INDEX ix_job_runs_started ON trading.job_runs (started_at DESC)`);
    await q.query(`CREATE INDEX ix_job_runs_running ON trading.job_runs (status) WHERE status = 'running'`);
    await q.query(`
      CREATE TABLE trading.accounts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL,
        cash bigint NOT NULL CONSTRAINT ck_accounts_cash CHECK (cash >= 0),
        initial_cash bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_accounts_user UNIQUE (user_id)
      )`);
    await q.query(`
      CREATE TABLE trading.auto_strategies (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL,
        account_id uuid NOT NULL CONSTRAINT fk_auto_strategies_account REFERENCES trading.accounts (id) ON DELETE CASCADE,
        source_strategy_id uuid NOT NULL,
        source_version int NOT NULL,
        name text NOT NULL CONSTRAINT ck_auto_strategies_name CHECK (length(name) BETWEEN 1 AND 100),
        rules jsonb NOT NULL,
        allocated_capital bigint NOT NULL CONSTRAINT ck_auto_strategies_capital CHECK (allocated_capital > 0),
        cash bigint NOT NULL,
        status text NOT NULL CONSTRAINT ck_auto_strategies_status CHECK (status IN ('active', 'liquidating', 'inactive')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deactivated_at timestamptz
      )`);
    await q.query(`CREATE INDEX ix_auto_strategies_owner ON trading.auto_strategies (owner_id, created_at DESC)`);
    await q.query(`CREATE INDEX ix_auto_strategies_status ON trading.auto_strategies (status)`);
    await q.query(`
      CREATE TABLE trading.picks (
        auto_strategy_id uuid NOT NULL CONSTRAINT fk_picks_strategy REFERENCES trading.auto_strategies (id) ON DELETE CASCADE,
        trading_date date NOT NULL,
        signal_date date NOT NULL,
        rank int NOT NULL,
        code text NOT NULL,
        weight numeric(12, 10) NOT NULL,
        reference_price numeric(18, 4) NOT NULL,
        run_key text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_picks PRIMARY KEY (auto_strategy_id, trading_date, code)
      )`);
    await q.query(`
      CREATE TABLE trading.positions (
        auto_strategy_id uuid NOT NULL CONSTRAINT fk_positions_strategy REFERENCES trading.auto_strategies (id) ON DELETE CASCADE,
        code text NOT NULL,
        quantity bigint NOT NULL CONSTRAINT ck_positions_quantity CHECK (quantity > 0),
        entry_price numeric(18, 4) NOT NULL,
        entry_date date NOT NULL,
        cost bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_positions PRIMARY KEY (auto_strategy_id, code)
      )`);
    await q.query(`
      CREATE TABLE trading.order_intents (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        client_order_id text NOT NULL,
        run_key text NOT NULL,
        seq int NOT NULL,
        auto_strategy_id uuid NOT NULL CONSTRAINT fk_order_intents_strategy REFERENCES trading.auto_strategies (id) ON DELETE CASCADE,
        account_id uuid NOT NULL,
        trading_date date NOT NULL,
        code text NOT NULL,
        side text NOT NULL CONSTRAINT ck_order_intents_side CHECK (side IN ('buy', 'sell')),
        order_type text NOT NULL DEFAULT 'market' CONSTRAINT ck_order_intents_type CHECK (order_type IN ('market', 'limit')),
        quantity bigint NOT NULL CONSTRAINT ck_order_intents_quantity CHECK (quantity > 0),
        reference_price numeric(18, 4),
        reason text NOT NULL,
        status text NOT NULL CONSTRAINT ck_order_intents_status CHECK (status IN ('pending', 'sent', 'filled', 'rejected')),
        epoch bigint NOT NULL,
        broker_order_id text,
        broker_result jsonb,
        reject_reason text,
        fill_price numeric(18, 4),
        fill_price_source text CONSTRAINT ck_order_intents_price_source CHECK (fill_price_source IN ('open', 'latest_close')),
        fill_price_date date,
        fill_amount bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        completed_at timestamptz,
        CONSTRAINT uq_order_intents_client_order_id UNIQUE (client_order_id),
        CONSTRAINT uq_order_intents_run_seq UNIQUE (run_key, seq)
      )`);
    await q.query(
      `CREATE INDEX ix_order_intents_strategy ON trading.order_intents (auto_strategy_id, created_at DESC)`,
    );
    await q.query(`
      CREATE TABLE trading.strategy_logs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        auto_strategy_id uuid NOT NULL CONSTRAINT fk_strategy_logs_strategy REFERENCES trading.auto_strategies (id) ON DELETE CASCADE,
        run_key text,
        level text NOT NULL CONSTRAINT ck_strategy_logs_level CHECK (level IN ('info', 'warn', 'error')),
        message text NOT NULL,
        details jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX ix_strategy_logs_strategy ON trading.strategy_logs (auto_strategy_id, id DESC)`);
    await q.query(`
      CREATE TABLE trading.daily_performance (
        auto_strategy_id uuid NOT NULL CONSTRAINT fk_daily_performance_strategy REFERENCES trading.auto_strategies (id) ON DELETE CASCADE,
        date date NOT NULL,
        value bigint NOT NULL,
        cash bigint NOT NULL,
        invested bigint NOT NULL,
        run_key text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_daily_performance PRIMARY KEY (auto_strategy_id, date)
      )`);
    // the paper broker's own books (a remote system in production: Kiwoom keeps these)
    await q.query(`
      CREATE TABLE trading.paper_accounts (
        account_id uuid PRIMARY KEY,
        cash bigint NOT NULL CONSTRAINT ck_paper_accounts_cash CHECK (cash >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE trading.paper_holdings (
        account_id uuid NOT NULL CONSTRAINT fk_paper_holdings_account REFERENCES trading.paper_accounts (account_id) ON DELETE CASCADE,
        code text NOT NULL,
        quantity bigint NOT NULL CONSTRAINT ck_paper_holdings_quantity CHECK (quantity > 0),
        CONSTRAINT pk_paper_holdings PRIMARY KEY (account_id, code)
      )`);
    await q.query(`
      CREATE TABLE trading.paper_orders (
        client_order_id text PRIMARY KEY,
        broker_order_id uuid NOT NULL DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL,
        code text NOT NULL,
        side text NOT NULL CONSTRAINT ck_paper_orders_side CHECK (side IN ('buy', 'sell')),
        order_type text NOT NULL CONSTRAINT ck_paper_orders_type CHECK (order_type IN ('market', 'limit')),
        quantity bigint NOT NULL,
        limit_price numeric(18, 4),
        status text NOT NULL CONSTRAINT ck_paper_orders_status CHECK (status IN ('filled', 'rejected')),
        reject_reason text,
        fill_price numeric(18, 4),
        fill_price_source text CONSTRAINT ck_paper_orders_price_source CHECK (fill_price_source IN ('open', 'latest_close')),
        fill_price_date date,
        amount bigint,
        trading_date date NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE trading.paper_order_requests (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        client_order_id text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        repeated boolean NOT NULL
      )`);
    await q.query(`CREATE INDEX ix_paper_order_requests_coid ON trading.paper_order_requests (client_order_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'paper_order_requests',
      'paper_orders',
      'paper_holdings',
      'paper_accounts',
      'daily_performance',
      'strategy_logs',
      'order_intents',
      'positions',
      'picks',
      'auto_strategies',
      'accounts',
      'job_runs',
      'holidays',
      'leader_epochs',
    ]) {
      await q.query(`DROP TABLE trading.${table}`);
    }
  }
}
