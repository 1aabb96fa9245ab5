import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The backtest service owns two schemas: `market` (securities, daily bars, statements, the
 * trading calendar) and `backtest` (datasets, strategies, backtests and their results).
 */
export class CreateMarketAndBacktestTables1764150000000 implements MigrationInterface {
  name = 'CreateMarketAndBacktestTables1764150000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS market`);
    await q.query(`
      CREATE TABLE market.securities (
        code text PRIMARY KEY CHECK (code ~ '^[0-9A-Z]{6}$'),
        name text NOT NULL,
        market text NOT NULL CHECK (market IN ('KOSPI', 'KOSDAQ')),
        sector text NOT NULL,
        listed_on date NOT NULL,
        delisted_on date,
        synthetic boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE market.daily_bars (
        code text NOT NULL REFERENCES market.securities (code) ON DELETE CASCADE,
        date date NOT NULL,
        open double precision NOT NULL,
        high double precision NOT NULL,
        low double precision NOT NULL,
        close double precision NOT NULL,
        volume bigint NOT NULL,
        trading_value double precision NOT NULL,
        market_cap double precision NOT NULL,
        shares_outstanding bigint NOT NULL,
        PRIMARY KEY (code, date)
      )`);
    await q.query(`CREATE INDEX ix_daily_bars_date ON market.daily_bars (date)`);
    await q.query(`
      CREATE TABLE market.financial_statements (
        code text NOT NULL REFERENCES market.securities (code) ON DELETE CASCADE,
        fiscal_period text NOT NULL CHECK (fiscal_period ~ '^[0-9]{4}Q[1-4]$'),
        report_date date NOT NULL,
        revenue double precision NOT NULL,
        operating_income double precision NOT NULL,
        net_income double precision NOT NULL,
        total_equity double precision NOT NULL,
        total_liabilities double precision NOT NULL,
        PRIMARY KEY (code, fiscal_period)
      )`);
    await q.query(`CREATE INDEX ix_financial_statements_report_date ON market.financial_statements (report_date)`);
    await q.query(`CREATE TABLE market.trading_days (date date PRIMARY KEY)`);
    // bumped by every import that changes market data: per-process caches of loaded data compare it
    await q.query(
      `CREATE TABLE market.data_version (id int PRIMARY KEY CHECK (id = 1), version bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await q.query(`INSERT INTO market.data_version (id, version) VALUES (1, 0)`);

    await q.query(`
      CREATE TABLE backtest.datasets (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('securities', 'bars', 'statements')),
        status text NOT NULL CHECK (status IN ('queued', 'validating', 'loading', 'succeeded', 'failed')),
        file_name text NOT NULL,
        object_key text NOT NULL,
        size_bytes bigint NOT NULL,
        sha256 text NOT NULL,
        rows_total integer,
        rows_inserted integer,
        rows_updated integer,
        rows_unchanged integer,
        errors jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
      )`);
    await q.query(`CREATE INDEX ix_datasets_owner ON backtest.datasets (owner_id, created_at DESC)`);
    await q.query(`
      CREATE TABLE backtest.strategies (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        definition jsonb NOT NULL,
        schema_version integer NOT NULL,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX ix_strategies_owner ON backtest.strategies (owner_id, created_at DESC, id)`);
    await q.query(`
      CREATE TABLE backtest.backtests (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL,
        strategy_id uuid REFERENCES backtest.strategies (id) ON DELETE SET NULL,
        definition jsonb NOT NULL,
        from_date date NOT NULL,
        to_date date NOT NULL,
        status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        progress real NOT NULL DEFAULT 0,
        metrics jsonb,
        summary jsonb,
        error text,
        attempts integer NOT NULL DEFAULT 0,
        worker text,
        export_key text,
        data_version bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        CHECK (from_date <= to_date)
      )`);
    await q.query(`CREATE INDEX ix_backtests_owner ON backtest.backtests (owner_id, created_at DESC, id)`);
    await q.query(
      `CREATE INDEX ix_backtests_active ON backtest.backtests (owner_id) WHERE status IN ('queued', 'running')`,
    );
    await q.query(`
      CREATE TABLE backtest.backtest_equity (
        backtest_id uuid NOT NULL REFERENCES backtest.backtests (id) ON DELETE CASCADE,
        day date NOT NULL,
        value double precision NOT NULL,
        cash double precision NOT NULL,
        invested double precision NOT NULL,
        daily_return double precision NOT NULL,
        drawdown double precision NOT NULL,
        benchmark double precision,
        PRIMARY KEY (backtest_id, day)
      )`);
    await q.query(`
      CREATE TABLE backtest.backtest_trades (
        backtest_id uuid NOT NULL REFERENCES backtest.backtests (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        day date NOT NULL,
        code text NOT NULL,
        side text NOT NULL CHECK (side IN ('buy', 'sell')),
        quantity integer NOT NULL,
        price double precision NOT NULL,
        fees double precision NOT NULL,
        tax double precision NOT NULL,
        pnl double precision,
        holding_days integer,
        reason text NOT NULL,
        PRIMARY KEY (backtest_id, seq)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `DROP TABLE backtest.backtest_trades, backtest.backtest_equity, backtest.backtests, backtest.strategies, backtest.datasets`,
    );
    await q.query(`DROP SCHEMA market CASCADE`);
  }
}
