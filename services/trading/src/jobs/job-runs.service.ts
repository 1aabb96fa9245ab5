import { Inject, Injectable } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import { DataSource, type EntityManager } from 'typeorm';
import type { TradingConfig } from '../config.js';
import { FencingService } from '../fencing/fencing.service.js';
import type { JobName, Occurrence } from '../scheduler/occurrence.js';
import { returnedRows } from '../database/returning.js';

/** waiting: refused for stale market data; the catch-up sweep runs it again when the data arrives. */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'skipped' | 'waiting';
export type RunTrigger = 'cron' | 'catch-up' | 'api';

export interface JobRun {
  id: string;
  runKey: string;
  job: JobName;
  tradingDate: string;
  scheduledAt: string;
  epoch: number;
  runner: string;
  status: RunStatus;
  trigger: RunTrigger;
  attempts: number;
  plannedAt: string | null;
  startedAt: string;
  heartbeatAt: string;
  finishedAt: string | null;
  summary: Record<string, unknown>;
  error: string | null;
}

interface JobRunRow {
  id: string;
  run_key: string;
  job: JobName;
  trading_date: string;
  scheduled_at: Date;
  epoch: string;
  runner: string;
  status: RunStatus;
  trigger: RunTrigger;
  attempts: number;
  planned_at: Date | null;
  started_at: Date;
  heartbeat_at: Date;
  finished_at: Date | null;
  summary: Record<string, unknown>;
  error: string | null;
  stale: boolean;
}

const COLUMNS = `id, run_key, job, to_char(trading_date, 'YYYY-MM-DD') AS trading_date, scheduled_at, epoch, runner, status,
  trigger, attempts, planned_at, started_at, heartbeat_at, finished_at, summary, error`;

function toRun(r: JobRunRow): JobRun {
  return {
    id: r.id,
    runKey: r.run_key,
    job: r.job,
    tradingDate: r.trading_date,
    scheduledAt: r.scheduled_at.toISOString(),
    epoch: Number(r.epoch),
    runner: r.runner,
    status: r.status,
    trigger: r.trigger,
    attempts: r.attempts,
    plannedAt: r.planned_at?.toISOString() ?? null,
    startedAt: r.started_at.toISOString(),
    heartbeatAt: r.heartbeat_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
    summary: r.summary,
    error: r.error,
  };
}

export function occurrenceOfRun(run: JobRun): Occurrence {
  return { job: run.job, tradingDate: run.tradingDate, scheduledAt: new Date(run.scheduledAt), runKey: run.runKey };
}

export interface Claim {
  run: JobRun;
  /** true when this caller now owns the run (new, or resumed from an older epoch / a dead runner) */
  claimed: boolean;
  resumed: boolean;
}

/** The job_runs table: one row per occurrence, claimed under a fencing epoch. */
@Injectable()
export class JobRunsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly fencing: FencingService,
    @Inject(CONFIG) private readonly config: TradingConfig,
  ) {}

  /**
   * Claims an occurrence in one fenced transaction. The unique run key (and the unique job +
   * trading date) let exactly one claimer insert the row; the others get the existing run. A run
   * still `running` under an older epoch, or whose runner stopped heart-beating, is taken over.
   * `epoch` undefined: use the current epoch (an API trigger on a replica that does not lead).
   */
  async claim(
    occurrence: Occurrence,
    epoch: number | undefined,
    trigger: RunTrigger,
    runner: string,
    retryFailed = false,
  ): Promise<Claim> {
    return this.dataSource.transaction(async (m) => {
      let runEpoch: number;
      if (epoch === undefined) {
        const rows: Array<{ epoch: string }> = await m.query(
          `SELECT epoch FROM trading.leader_epochs WHERE id = 1 FOR SHARE`,
        );
        runEpoch = Number(rows[0]?.epoch ?? 0);
      } else {
        await this.fencing.check(m, epoch);
        runEpoch = epoch;
      }
      const inserted: JobRunRow[] = await m.query(
        `INSERT INTO trading.job_runs (run_key, job, trading_date, scheduled_at, epoch, runner, status, trigger)
         VALUES ($1, $2, $3, $4, $5, $6, 'running', $7)
         ON CONFLICT DO NOTHING
         RETURNING ${COLUMNS}, false AS stale`,
        [occurrence.runKey, occurrence.job, occurrence.tradingDate, occurrence.scheduledAt, runEpoch, runner, trigger],
      );
      if (inserted[0]) {
        return { run: toRun(inserted[0]), claimed: true, resumed: false };
      }
      const existing: JobRunRow[] = await m.query(
        `SELECT ${COLUMNS}, heartbeat_at < now() - make_interval(secs => $3) AS stale FROM trading.job_runs
          WHERE job = $1 AND trading_date = $2 FOR UPDATE`,
        [occurrence.job, occurrence.tradingDate, this.config.STALE_RUN_SECONDS],
      );
      const row = existing[0];
      if (!row) {
        throw new Error(`run ${occurrence.runKey} conflicted but cannot be found`);
      }
      if (row.status === 'running' && (Number(row.epoch) < runEpoch || row.stale)) {
        const resumed = returnedRows<JobRunRow>(
          await m.query(
            `UPDATE trading.job_runs SET epoch = $2, runner = $3, attempts = attempts + 1, heartbeat_at = now()
            WHERE id = $1 RETURNING ${COLUMNS}, false AS stale`,
            [row.id, runEpoch, runner],
          ),
        );
        return { run: toRun(resumed[0]), claimed: true, resumed: true };
      }
      if ((row.status === 'failed' || row.status === 'waiting') && retryFailed) {
        // an operator's re-run: the same run (its plan and intents) resumed under the current epoch
        const retried = returnedRows<JobRunRow>(
          await m.query(
            `UPDATE trading.job_runs SET status = 'running', epoch = $2, runner = $3, attempts = attempts + 1,
                    error = NULL, finished_at = NULL, heartbeat_at = now()
              WHERE id = $1 RETURNING ${COLUMNS}, false AS stale`,
            [row.id, runEpoch, runner],
          ),
        );
        return { run: toRun(retried[0]), claimed: true, resumed: true };
      }
      return { run: toRun(row), claimed: false, resumed: false };
    });
  }

  async heartbeat(m: EntityManager, runId: string): Promise<void> {
    await m.query(`UPDATE trading.job_runs SET heartbeat_at = now() WHERE id = $1`, [runId]);
  }

  async finish(
    runId: string,
    epoch: number,
    status: 'succeeded' | 'failed' | 'skipped' | 'waiting',
    summary: Record<string, unknown>,
    error?: string,
  ): Promise<void> {
    await this.fencing.transaction(epoch, (m) =>
      m.query(
        `UPDATE trading.job_runs SET status = $2, summary = $3, error = $4, finished_at = now(), heartbeat_at = now()
          WHERE id = $1 AND status = 'running'`,
        [runId, status, JSON.stringify(summary), error ?? null],
      ),
    );
  }

  /** A waiting run whose data never came within the grace window: failed, once. */
  async markMissed(runId: string, epoch: number, reason: string): Promise<boolean> {
    const updated = returnedRows<{ id: string }>(
      await this.fencing.transaction(epoch, (m) =>
        m.query(
          `UPDATE trading.job_runs SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status = 'waiting'
           RETURNING id`,
          [runId, reason],
        ),
      ),
    );
    return updated.length > 0;
  }

  async get(runId: string): Promise<JobRun | undefined> {
    const rows: JobRunRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, false AS stale FROM trading.job_runs WHERE id = $1`,
      [runId],
    );
    return rows[0] ? toRun(rows[0]) : undefined;
  }

  async findFor(job: JobName, tradingDate: string): Promise<JobRun | undefined> {
    const rows: JobRunRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, false AS stale FROM trading.job_runs WHERE job = $1 AND trading_date = $2`,
      [job, tradingDate],
    );
    return rows[0] ? toRun(rows[0]) : undefined;
  }

  /** Runs left `running` by an older epoch or by a runner that stopped heart-beating. */
  async resumable(epoch: number): Promise<JobRun[]> {
    const rows: JobRunRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, false AS stale FROM trading.job_runs
        WHERE status = 'running' AND (epoch < $1 OR heartbeat_at < now() - make_interval(secs => $2))
        ORDER BY trading_date, job DESC`,
      [epoch, this.config.STALE_RUN_SECONDS],
    );
    return rows.map(toRun);
  }

  /**
   * Runs still `waiting` from trading days before `tradingDate`: no leader's sweep saw their grace
   * window close (none led then), so nothing else would ever settle them.
   */
  async waitingBefore(tradingDate: string): Promise<JobRun[]> {
    const rows: JobRunRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, false AS stale FROM trading.job_runs
        WHERE status = 'waiting' AND trading_date < $1
        ORDER BY trading_date, job DESC`,
      [tradingDate],
    );
    return rows.map(toRun);
  }

  async latest(limit: number): Promise<JobRun[]> {
    const rows: JobRunRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, false AS stale FROM trading.job_runs ORDER BY started_at DESC LIMIT $1`,
      [limit],
    );
    return rows.map(toRun);
  }
}
