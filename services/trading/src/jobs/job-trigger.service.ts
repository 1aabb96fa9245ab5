import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, DomainError } from '@stocklab/platform';
import { isIsoDate } from '../calendar/trading-calendar.js';
import type { TradingConfig } from '../config.js';
import { cronOf, scheduledJobs } from '../scheduler/job-schedule.js';
import { occurrenceOn, type JobName } from '../scheduler/occurrence.js';
import { SchedulerService } from '../scheduler/scheduler.service.js';
import { TradingClock } from '../scheduler/trading-clock.js';
import { JobRunner, type RunOutcome } from './job-runner.service.js';

/**
 * The API trigger. On the leader the run uses the leader's epoch and term; on a follower it runs
 * under the epoch current at claim time (it does not take a new epoch, which would fence the
 * leader out): the unique run key still allows one run per occurrence, and if a new leader is
 * elected meanwhile, the run is fenced at its next write and the new leader resumes it.
 */
@Injectable()
export class JobTriggerService {
  constructor(
    @Inject(CONFIG) private readonly config: TradingConfig,
    private readonly runner: JobRunner,
    private readonly scheduler: SchedulerService,
    private readonly clock: TradingClock,
  ) {}

  async trigger(job: JobName, date: string | undefined, retryFailed = false): Promise<RunOutcome> {
    if (date !== undefined && !isIsoDate(date)) {
      throw new DomainError(400, 'INVALID_DATE', `${date} is not a calendar date`);
    }
    if (!scheduledJobs(this.config).includes(job)) {
      throw new DomainError(
        409,
        'JOB_NOT_CONFIGURED',
        `the ${job} job is off in this deployment (the ingest needs TRADING_SERVICE_EMAIL and TRADING_SERVICE_PASSWORD)`,
      );
    }
    const today = this.clock.tradingDate();
    const tradingDate = date ?? today;
    const cron = cronOf(this.config, job);
    const occurrence = occurrenceOn(
      job,
      cron,
      this.config.TRADING_TIMEZONE,
      tradingDate,
      tradingDate === today ? this.clock.clockDay() : tradingDate,
    );
    const epoch = this.scheduler.leadingEpoch;
    return this.runner.run(occurrence, 'api', this.scheduler.identity, epoch, undefined, retryFailed);
  }
}
