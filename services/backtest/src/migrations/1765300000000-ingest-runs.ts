import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The daily market ingest's record of runs (src/ingest): one row per attempt at a trading date,
 * numbered per date. At most one attempt of a date is `running` and at most one `succeeded` (both
 * unique indexes), so that however many replicas or CronJobs trigger a date, its data is loaded
 * once; a succeeded date is final (a re-run answers it), a `no_trading` or `failed` one may be
 * tried again. `details` keeps what the provider said about the day (rows per market, codes that
 * appeared or disappeared, market transfers).
 */
export class IngestRuns1765300000000 implements MigrationInterface {
  name = 'IngestRuns1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE market.ingest_runs (
        id bigserial PRIMARY KEY,
        date date NOT NULL,
        attempt integer NOT NULL CHECK (attempt >= 1),
        status text NOT NULL CHECK (status IN ('running', 'succeeded', 'no_trading', 'failed')),
        provider text NOT NULL,
        trigger text NOT NULL,
        rows integer,
        data_version bigint,
        changed boolean,
        error text,
        details jsonb NOT NULL DEFAULT '{}',
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        UNIQUE (date, attempt),
        CHECK ((status = 'running') = (finished_at IS NULL)),
        CHECK (status <> 'failed' OR error IS NOT NULL)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX uq_ingest_runs_succeeded ON market.ingest_runs (date) WHERE status = 'succeeded'`,
    );
    await q.query(`CREATE UNIQUE INDEX uq_ingest_runs_running ON market.ingest_runs (date) WHERE status = 'running'`);
    await q.query(`CREATE INDEX ix_ingest_runs_started ON market.ingest_runs (started_at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE market.ingest_runs`);
  }
}
