import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { createLeaderElector, type LeaderElector, type StartedLeadingContext } from '@stocklab/leader-election';
import { CONFIG, HttpMetrics } from '@stocklab/platform';
import { CronJob, CronTime } from 'cron';
import { CalendarService } from '../calendar/calendar.service.js';
import { nonTradingReason, zonedParts } from '../calendar/trading-calendar.js';
import type { TradingConfig } from '../config.js';
import { TRADING_SCHEMA } from '../data-source.js';
import { FencingService } from '../fencing/fencing.service.js';
import { JobRunner } from '../jobs/job-runner.service.js';
import { JobRunsService, occurrenceOfRun, type JobRun } from '../jobs/job-runs.service.js';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import { cronOf, scheduledJobs } from './job-schedule.js';
import { catchUpDecision, occurrenceOn, type JobName, type Occurrence } from './occurrence.js';
import { REPLAY_POLL_MS, TradingClock } from './trading-clock.js';

interface Term {
  epoch: number;
  signal: AbortSignal;
}

export interface SchedulerStatus {
  leader: string | null;
  epoch: number;
  role: 'leader' | 'follower';
  identity: string;
  backend: 'kubernetes' | 'postgres';
  /** the epoch this replica leads with (null when following) */
  ownEpoch: number | null;
  tradingDate: string;
  lastRuns: JobRun[];
  nextOccurrences: Array<{ job: JobName; at: string; tradingDate: string }>;
}

/**
 * The leader-elected scheduler. The crons are registered disabled and run only while this
 * replica leads; becoming leader takes a fencing epoch from PostgreSQL, then a catch-up sweep
 * (at once and every CATCH_UP_INTERVAL_SECONDS) runs today's occurrences that were missed (within
 * the grace window) and resumes runs left behind by an older epoch.
 *
 * A replica that holds the Lease without an epoch runs nothing, so it must not keep the Lease:
 * the elector calls startedLeading again after a failure, and if no epoch was taken within
 * its start deadline (RenewDeadline) it resigns: steps down, releases the Lease for another
 * replica, and stands again after a back-off (LeaseDuration, doubling up to 4x). Likewise, a
 * leader whose epoch is found superseded (a fenced write refused, or the sweep's check) resigns.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(SchedulerService.name);
  private readonly elector: LeaderElector;
  private term: Term | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private replayTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private readonly reportedMisses = new Set<string>();
  private stopping: Promise<void> | undefined;
  private readonly jobs: readonly JobName[];

  constructor(
    @Inject(CONFIG) private readonly config: TradingConfig,
    private readonly registry: SchedulerRegistry,
    private readonly fencing: FencingService,
    private readonly runner: JobRunner,
    private readonly runs: JobRunsService,
    private readonly calendar: CalendarService,
    private readonly clock: TradingClock,
    private readonly metrics: TradingMetrics,
    http: HttpMetrics,
  ) {
    this.jobs = scheduledJobs(config);
    const log = this.logger;
    this.elector = createLeaderElector({
      env: process.env,
      mode: config.LEADER_ELECTION,
      leaseName: config.LEASE_NAME,
      namespace: config.POD_NAMESPACE,
      ...(config.TRADING_IDENTITY ? { identity: config.TRADING_IDENTITY } : {}),
      timings: {
        leaseDurationMs: Math.round(config.LEASE_DURATION_SECONDS * 1000),
        renewDeadlineMs: Math.round(config.RENEW_DEADLINE_SECONDS * 1000),
        retryPeriodMs: Math.round(config.RETRY_PERIOD_SECONDS * 1000),
      },
      databaseUrl: config.DATABASE_URL,
      schema: TRADING_SCHEMA,
      registry: http.registry,
      logger: {
        info: (msg, fields) => log.log(fields ?? {}, msg),
        warn: (msg, fields) => log.warn(fields ?? {}, msg),
        error: (msg, fields) => log.error(fields ?? {}, msg),
      },
      // throws when no epoch could be taken: the elector tries again, then resigns (see above)
      onStartedLeading: (ctx) => this.startedLeading(ctx),
      onStoppedLeading: () => this.stoppedLeading(),
      onNewLeader: (identity) => log.log({ leader: identity }, 'new leader observed'),
    });
    fencing.onSuperseded((epoch, current) => this.superseded(epoch, current));
  }

  get identity(): string {
    return this.elector.identity;
  }

  /** The epoch this replica leads with, if it leads. */
  get leadingEpoch(): number | undefined {
    return this.term && !this.term.signal.aborted ? this.term.epoch : undefined;
  }

  onApplicationBootstrap(): void {
    for (const job of this.jobs) {
      const cron = CronJob.from({
        cronTime: this.cronOf(job),
        timeZone: this.config.TRADING_TIMEZONE,
        start: false,
        onTick: () => void this.tick(job),
        name: `trading-${job}`,
      });
      this.registry.addCronJob(`trading-${job}`, cron);
    }
    // released at once on SIGTERM (before the HTTP drain), so a follower takes over within a RetryPeriod
    process.once('SIGTERM', () => void this.shutdown());
    this.elector.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.shutdown();
  }

  private shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopCrons();
      // steps down (aborting the run in progress at its next check, waiting for it) then releases the lease
      await this.elector.stop();
    })();
    return this.stopping;
  }

  private cronOf(job: JobName): string {
    return cronOf(this.config, job);
  }

  private async startedLeading({ identity, signal }: StartedLeadingContext): Promise<void> {
    const epoch = await this.fencing.takeEpoch(identity);
    if (signal.aborted) {
      return;
    }
    this.term = { epoch, signal };
    this.logger.log({ identity, epoch }, 'leading: fencing epoch taken, crons started');
    if (this.clock.replaying) {
      this.startReplayCrons();
    } else {
      for (const job of this.jobs) {
        this.registry.getCronJob(`trading-${job}`).start();
      }
    }
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.CATCH_UP_INTERVAL_SECONDS * 1000);
    this.sweepTimer.unref();
    signal.addEventListener('abort', () => this.stopCrons(), { once: true });
    void this.sweep();
  }

  /** Our epoch is no longer the current one: someone else took a newer one, so this term can write nothing. */
  private superseded(epoch: number, current: number): void {
    const term = this.term;
    if (!term || term.epoch !== epoch || term.signal.aborted) {
      return;
    }
    this.logger.error(
      { identity: this.identity, epoch, current },
      'fencing epoch superseded while leading: giving up the lease',
    );
    this.stopCrons();
    void this.elector.resign('superseded');
  }

  private async stoppedLeading(): Promise<void> {
    this.stopCrons();
    this.term = undefined;
    await this.sweeping;
    await this.runner.drain();
  }

  private stopCrons(): void {
    for (const job of this.jobs) {
      try {
        void this.registry.getCronJob(`trading-${job}`).stop();
      } catch {
        /* not registered yet */
      }
    }
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    clearInterval(this.replayTimer);
    this.replayTimer = undefined;
  }

  /**
   * The crons on the replayed clock: a job ticks when the replayed instant passes one of its
   * fire times (the wall-clock CronJobs would never see a replayed day). The tick is the one
   * the wall-clock crons call; what a jump skips over is the catch-up sweep's, as in production.
   */
  private startReplayCrons(): void {
    const tz = this.config.TRADING_TIMEZONE;
    const crons = this.jobs.map((job) => ({ job, time: new CronTime(this.cronOf(job), tz) }));
    let seen = this.clock.now();
    this.replayTimer = setInterval(() => {
      const now = this.clock.now();
      for (const { job, time } of crons) {
        if (now > seen && time.getNextDateFrom(seen, tz).toJSDate() <= now) {
          void this.tick(job);
        }
      }
      seen = now;
    }, REPLAY_POLL_MS);
    this.replayTimer.unref();
  }

  private async occurrenceNow(job: JobName, now: Date): Promise<Occurrence | undefined> {
    const tradingDate = this.clock.tradingDate(now);
    const reason = await this.calendar.nonTradingReason(tradingDate);
    if (reason) {
      this.logger.log({ job, tradingDate, reason }, `${job}: not a trading day, no run`);
      return undefined;
    }
    return occurrenceOn(job, this.cronOf(job), this.config.TRADING_TIMEZONE, tradingDate, this.clock.clockDay(now));
  }

  private async tick(job: JobName): Promise<void> {
    const term = this.term;
    if (!term || term.signal.aborted) {
      return;
    }
    try {
      const now = this.clock.now();
      const occurrence = await this.occurrenceNow(job, now);
      // a replayed clock that jumps past a fire time into the next day is not that day's fire time
      if (occurrence && occurrence.scheduledAt.getTime() <= now.getTime() + 1000) {
        await this.runner.run(occurrence, 'cron', this.identity, term.epoch, term.signal);
      }
    } catch (error) {
      this.logger.error({ job, error: String(error) }, 'cron tick failed');
    }
  }

  /** Catch-up: resume runs of older epochs, then run today's missed occurrences within the grace window. */
  sweep(): Promise<void> {
    this.sweeping ??= this.doSweep().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async doSweep(): Promise<void> {
    const term = this.term;
    if (!term || term.signal.aborted) {
      return;
    }
    try {
      // a leader whose epoch was superseded writes nothing: it resigns (see superseded)
      if (!(await this.fencing.stillCurrent(term.epoch))) {
        return;
      }
      for (const run of await this.runs.resumable(term.epoch)) {
        term.signal.throwIfAborted();
        await this.runner.run(occurrenceOfRun(run), run.trigger, this.identity, term.epoch, term.signal);
      }
      const now = this.clock.now();
      // an earlier day's waiting run, which today's jobs below never see: run again while its window
      // lasts (a cron near midnight), else reported missed (it closed while no leader swept)
      for (const run of await this.runs.waitingBefore(this.clock.tradingDate(now))) {
        term.signal.throwIfAborted();
        await this.retryWaiting(run, now, term);
      }
      for (const job of this.jobs) {
        term.signal.throwIfAborted();
        const occurrence = await this.occurrenceNow(job, now);
        if (!occurrence) {
          continue;
        }
        const existing = await this.runs.findFor(job, occurrence.tradingDate);
        if (existing?.status === 'waiting') {
          await this.retryWaiting(existing, now, term);
          continue;
        }
        if (existing) {
          continue;
        }
        const decision = catchUpDecision(occurrence, now, this.config.CATCH_UP_GRACE_MINUTES * 60_000);
        if (decision === 'run') {
          this.logger.warn({ runKey: occurrence.runKey }, `catch-up: ${job} was missed, running it now`);
          await this.runner.run(occurrence, 'catch-up', this.identity, term.epoch, term.signal);
        } else if (decision === 'missed' && !this.reportedMisses.has(occurrence.runKey)) {
          this.reportedMisses.add(occurrence.runKey);
          this.metrics.missedRuns.inc({ job });
          this.logger.error(
            { runKey: occurrence.runKey, graceMinutes: this.config.CATCH_UP_GRACE_MINUTES },
            `catch-up: ${job} missed beyond the grace window, skipped`,
          );
        }
      }
    } catch (error) {
      if (!term.signal.aborted) {
        this.logger.error({ error: String(error) }, 'catch-up sweep failed');
      }
    }
  }

  /**
   * A waiting run (its market data not there yet, or PostgreSQL or Redis away when it ran): run
   * again while its grace window lasts (it waits again if the cause is still there); past it, the
   * run is failed and reported missed, once. A run triggered through the API before its scheduled
   * time is not due yet: it is left waiting for its time (not sent early, not reported missed).
   */
  private async retryWaiting(run: JobRun, now: Date, term: { epoch: number; signal: AbortSignal }): Promise<void> {
    const occurrence = occurrenceOfRun(run);
    const decision = catchUpDecision(occurrence, now, this.config.CATCH_UP_GRACE_MINUTES * 60_000);
    if (decision === 'not-due') {
      return;
    }
    if (decision === 'run') {
      await this.runner.run(occurrence, 'catch-up', this.identity, term.epoch, term.signal, true);
      return;
    }
    const reason = `MISSED: still waiting when the ${this.config.CATCH_UP_GRACE_MINUTES}-minute grace window closed (${run.error ?? 'no reason recorded'})`;
    if (await this.runs.markMissed(run.id, term.epoch, reason)) {
      this.metrics.missedRuns.inc({ job: run.job });
      this.logger.error({ runKey: run.runKey }, `catch-up: ${run.job} missed, ${reason}`);
    }
  }

  async status(): Promise<SchedulerStatus> {
    // the term first: a term begun while the epoch was being read would otherwise show its own
    // epoch beside the one before it (epochs only grow, so read after, current >= own)
    const leading = this.leadingEpoch;
    const current = await this.fencing.current();
    return {
      leader: this.elector.currentLeader ?? null,
      epoch: current.epoch,
      role: leading !== undefined ? 'leader' : 'follower',
      identity: this.identity,
      backend: this.elector.backend,
      ownEpoch: leading ?? null,
      tradingDate: this.clock.tradingDate(),
      lastRuns: await this.runs.latest(10),
      nextOccurrences: await this.nextOccurrences(),
    };
  }

  private async nextOccurrences(): Promise<SchedulerStatus['nextOccurrences']> {
    const holidays = await this.calendar.holidaySet();
    const tz = this.config.TRADING_TIMEZONE;
    const out: SchedulerStatus['nextOccurrences'] = [];
    for (const job of this.jobs) {
      const time = new CronTime(this.cronOf(job), tz);
      let at = this.clock.now();
      for (let k = 0; k < 60; k += 1) {
        at = time.getNextDateFrom(at, tz).toJSDate();
        const tradingDate = this.config.TRADING_AS_OF_DATE ?? zonedParts(at, tz).date;
        if (!nonTradingReason(tradingDate, holidays)) {
          out.push({ job, at: at.toISOString(), tradingDate });
          break;
        }
      }
    }
    return out;
  }
}
