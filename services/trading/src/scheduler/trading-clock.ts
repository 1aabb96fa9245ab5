import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CONFIG, REDIS } from '@stocklab/platform';
import type { Redis } from 'ioredis';
import { zonedParts } from '../calendar/trading-calendar.js';
import type { TradingConfig } from '../config.js';

/** Redis key (under REDIS_KEY_PREFIX) of the replayed instant, an ISO 8601 string. */
export const REPLAY_CLOCK_KEY = 'trading:replay-clock';
/** How often every replica reads the replayed instant (the scheduler's crons follow it). */
export const REPLAY_POLL_MS = 100;

/**
 * "Now" and "today" for the jobs, the scheduler and the paper broker.
 * - real (production): the wall clock; the trading date is the real date in TRADING_TIMEZONE,
 *   unless TRADING_AS_OF_DATE fixes it (demos and tests replaying one historical day);
 * - replay: the instant a replay driver stores in Redis, shared by every replica, so that the
 *   real scheduler (crons, catch-up sweep, leader election) runs day after day on historical
 *   data: months of trading in a minute, with the production code paths.
 */
@Injectable()
export class TradingClock implements OnModuleInit, OnModuleDestroy {
  private replayed: Date | undefined;
  private poller: NodeJS.Timeout | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: TradingConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  get timeZone(): string {
    return this.config.TRADING_TIMEZONE;
  }

  get replaying(): boolean {
    return this.config.TRADING_CLOCK === 'replay';
  }

  async onModuleInit(): Promise<void> {
    if (!this.replaying) {
      return;
    }
    if (this.config.TRADING_AS_OF_DATE !== undefined) {
      // a fixed date would pin "today" while the replayed instant moves on: one or the other
      throw new Error('TRADING_CLOCK=replay and TRADING_AS_OF_DATE exclude each other');
    }
    // the shared client connects in the background (no offline queue): give it a moment
    const deadline = Date.now() + 10_000;
    while (
      !(await this.refresh().then(
        () => true,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) {
        throw new Error(`TRADING_CLOCK=replay: Redis did not answer for ${REPLAY_CLOCK_KEY}`);
      }
      await sleep(100);
    }
    if (!this.replayed) {
      throw new Error(`TRADING_CLOCK=replay needs an ISO instant at the Redis key ${REPLAY_CLOCK_KEY} before start`);
    }
    this.poller = setInterval(() => void this.refresh().catch(() => undefined), REPLAY_POLL_MS);
    this.poller.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.poller);
  }

  /** The current instant: the wall clock, or the replayed instant. */
  now(): Date {
    return this.replayed ?? new Date();
  }

  /** The calendar day of `now` in the trading time zone. */
  clockDay(now: Date = this.now()): string {
    return zonedParts(now, this.config.TRADING_TIMEZONE).date;
  }

  /** The trading date the jobs run for. */
  tradingDate(now: Date = this.now()): string {
    return this.config.TRADING_AS_OF_DATE ?? this.clockDay(now);
  }

  private async refresh(): Promise<void> {
    const raw = await this.redis.get(REPLAY_CLOCK_KEY);
    const at = raw === null ? Number.NaN : Date.parse(raw);
    if (Number.isFinite(at)) {
      this.replayed = new Date(at);
    }
  }
}
