import type { TradingConfig } from '../config.js';
import { ingestEnabled } from '../jobs/ingest.job.js';
import { JOB_NAMES, type JobName } from './occurrence.js';

type CronConfig = Pick<
  TradingConfig,
  | 'TRADING_INGEST_CRON'
  | 'TRADING_SELECT_CRON'
  | 'TRADING_EXECUTE_CRON'
  | 'TRADING_RECONCILE_CRON'
  | 'TRADING_SERVICE_EMAIL'
>;

/** The cron of a job, in TRADING_TIMEZONE. */
export function cronOf(config: CronConfig, job: JobName): string {
  switch (job) {
    case 'ingest':
      return config.TRADING_INGEST_CRON;
    case 'select':
      return config.TRADING_SELECT_CRON;
    case 'execute':
      return config.TRADING_EXECUTE_CRON;
    case 'reconcile':
      return config.TRADING_RECONCILE_CRON;
  }
}

/** The jobs this deployment schedules: the ingest only with a service account to trigger it with. */
export function scheduledJobs(config: CronConfig): readonly JobName[] {
  return JOB_NAMES.filter((job) => job !== 'ingest' || ingestEnabled(config));
}
