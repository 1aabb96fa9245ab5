import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The daily market ingest is a scheduled job like select and execute: one run per occurrence. */
export class IngestJob1765400000000 implements MigrationInterface {
  name = 'IngestJob1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE trading.job_runs
        DROP CONSTRAINT ck_job_runs_job,
        ADD CONSTRAINT ck_job_runs_job CHECK (job IN ('ingest', 'select', 'execute', 'reconcile'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM trading.job_runs WHERE job = 'ingest'`);
    await q.query(`
      ALTER TABLE trading.job_runs
        DROP CONSTRAINT ck_job_runs_job,
        ADD CONSTRAINT ck_job_runs_job CHECK (job IN ('select', 'execute', 'reconcile'))`);
  }
}
