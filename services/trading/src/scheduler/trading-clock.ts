import { Inject, Injectable } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import { zonedParts } from '../calendar/trading-calendar.js';
import type { TradingConfig } from '../config.js';

/**
 * "Today" for the jobs and the paper broker. Daily data arrives after the close, so demos and
 * tests replay a historical trading day by setting TRADING_AS_OF_DATE; in production it is the
 * real date in TRADING_TIMEZONE.
 */
@Injectable()
export class TradingClock {
  constructor(@Inject(CONFIG) private readonly config: TradingConfig) {}

  get timeZone(): string {
    return this.config.TRADING_TIMEZONE;
  }

  get replaying(): boolean {
    return this.config.TRADING_AS_OF_DATE !== undefined;
  }

  /** The real calendar day in the trading time zone. */
  clockDay(now: Date = new Date()): string {
    return zonedParts(now, this.config.TRADING_TIMEZONE).date;
  }

  /** The trading date the jobs run for. */
  tradingDate(now: Date = new Date()): string {
    return this.config.TRADING_AS_OF_DATE ?? this.clockDay(now);
  }
}
