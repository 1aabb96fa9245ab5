import { Injectable, Logger } from '@nestjs/common';
import { DomainError, isDependencyUnavailable } from '@stocklab/platform';
import { CalendarService } from '../calendar/calendar.service.js';
import { FencingError, FencingService } from '../fencing/fencing.service.js';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import type { JobName, Occurrence } from '../scheduler/occurrence.js';
import { MarketDataNotReadyError } from './data-freshness.js';
import { ExecuteJob } from './execute.job.js';
import { IngestJob } from './ingest.job.js';
import type { JobBody, JobContext } from './job-context.js';
import { JobRunsService, type JobRun, type RunTrigger } from './job-runs.service.js';
import { ReconcileJob } from './reconcile.job.js';
import { SelectJob } from './select.job.js';

/**
 * What a run that threw is left as. Market data not there yet, or PostgreSQL or Redis away for a
 * moment (a failover, a restart), is not a failure of the run: it waits, and the catch-up sweep
 * runs it again, the same run resuming its plan and orders, until its grace window closes. Any
 * other error fails it, for a person to look at (retryFailed).
 */
function outcomeOfError(error: unknown): { status: 'waiting' | 'failed'; reason: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof MarketDataNotReadyError) {
    return { status: 'waiting', reason: message };
  }
  if (isDependencyUnavailable(error)) {
    return { status: 'waiting', reason: `DEPENDENCY_UNAVAILABLE: ${message}` };
  }
  return { status: 'failed', reason: message };
}

export interface RunOutcome {
  run: JobRun;
  /** true when this call ran (or resumed) the occurrence; false: it already ran or runs elsewhere */
  ran: boolean;
}

const NEVER = new AbortController().signal;

/** Claims an occurrence under a fencing epoch and runs its job; one run per run key, ever. */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger(JobRunner.name);
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly bodies: Record<JobName, JobBody>;

  constructor(
    private readonly runs: JobRunsService,
    private readonly fencing: FencingService,
    private readonly calendar: CalendarService,
    private readonly metrics: TradingMetrics,
    select: SelectJob,
    execute: ExecuteJob,
    reconcile: ReconcileJob,
    ingest: IngestJob,
  ) {
    this.bodies = { select, execute, reconcile, ingest };
  }

  /** Waits for the runs in progress in this process (they stop at their next check once aborted). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight]);
    }
  }

  /**
   * Runs `occurrence` unless it already ran. `epoch` undefined = the current epoch (API trigger on
   * a follower). Throws DomainError 409 NOT_A_TRADING_DAY on weekends and holidays.
   */
  async run(
    occurrence: Occurrence,
    trigger: RunTrigger,
    runner: string,
    epoch: number | undefined,
    signal: AbortSignal = NEVER,
    retryFailed = false,
  ): Promise<RunOutcome> {
    const reason = await this.calendar.nonTradingReason(occurrence.tradingDate);
    if (reason) {
      this.logger.log({ runKey: occurrence.runKey, reason }, `not a trading day: ${occurrence.job} not run`);
      throw new DomainError(409, 'NOT_A_TRADING_DAY', `${occurrence.tradingDate} is not a trading day (${reason})`);
    }
    const work = this.claimAndRun(occurrence, trigger, runner, epoch, signal, retryFailed);
    this.inFlight.add(work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(work);
    }
  }

  private async claimAndRun(
    occurrence: Occurrence,
    trigger: RunTrigger,
    runner: string,
    epoch: number | undefined,
    signal: AbortSignal,
    retryFailed: boolean,
  ): Promise<RunOutcome> {
    const claim = await this.runs.claim(occurrence, epoch, trigger, runner, retryFailed);
    if (!claim.claimed) {
      return { run: claim.run, ran: false };
    }
    const run = claim.run;
    const log = { runKey: run.runKey, epoch: run.epoch, trigger, attempt: run.attempts };
    this.logger.log(log, claim.resumed ? `resuming ${run.job} run` : `running ${run.job}`);
    const context: JobContext = {
      run,
      epoch: run.epoch,
      signal,
      fenced: (work) =>
        this.fencing.transaction(run.epoch, async (m) => {
          await this.runs.heartbeat(m, run.id);
          return work(m);
        }),
    };
    try {
      const summary = await this.bodies[run.job].run(context);
      await this.runs.finish(run.id, run.epoch, 'succeeded', summary);
      this.metrics.runs.inc({ job: run.job, status: 'succeeded', trigger });
      this.logger.log({ ...log, summary }, `${run.job} succeeded`);
    } catch (error) {
      if (error instanceof FencingError || signal.aborted) {
        // left `running`: the leader of the newer epoch resumes it under the same run key
        this.logger.warn({ ...log, error: String(error) }, `${run.job} stopped: no longer the leader`);
      } else {
        const { status, reason } = outcomeOfError(error);
        if (status === 'waiting') {
          this.logger.warn({ ...log, error: String(error) }, `${run.job} waiting: ${reason}`);
        } else {
          this.logger.error({ ...log, error: String(error) }, `${run.job} failed`);
        }
        this.metrics.runs.inc({ job: run.job, status, trigger });
        await this.runs
          .finish(run.id, run.epoch, status, {}, reason)
          .catch((e: unknown) => this.logger.warn({ ...log, error: String(e) }, 'could not record the failure'));
      }
    }
    return { run: (await this.runs.get(run.id)) ?? run, ran: true };
  }
}
