import type { EntityManager } from 'typeorm';
import type { JobRun } from './job-runs.service.js';

/** What a job body gets: its claimed run and a way to write under the run's fencing epoch. */
export interface JobContext {
  run: JobRun;
  epoch: number;
  /** aborts when this replica's leadership term ends (never for API-triggered runs on followers) */
  signal: AbortSignal;
  /** a transaction that commits only while the run's epoch is current; also beats the run's heartbeat */
  fenced<T>(work: (m: EntityManager) => Promise<T>): Promise<T>;
}

export interface JobBody {
  run(context: JobContext): Promise<Record<string, unknown>>;
}

export async function strategyLog(
  m: EntityManager,
  strategyId: string,
  runKey: string | null,
  level: 'info' | 'warn' | 'error',
  message: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await m.query(
    `INSERT INTO trading.strategy_logs (auto_strategy_id, run_key, level, message, details) VALUES ($1, $2, $3, $4, $5)`,
    [strategyId, runKey, level, message, JSON.stringify(details)],
  );
}
