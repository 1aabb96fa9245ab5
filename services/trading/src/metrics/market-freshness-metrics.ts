import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, HttpMetrics, readOnScrape } from '@stocklab/platform';
import { Gauge } from 'prom-client';
import { CalendarService } from '../calendar/calendar.service.js';
import { addDays, nonTradingReason, startOfDay } from '../calendar/trading-calendar.js';
import type { TradingConfig } from '../config.js';
import { ingestEnabled } from '../jobs/ingest.job.js';
import { TradingClock } from '../scheduler/trading-clock.js';

/**
 * The trading day whose data the next select decides on, for StocklabMarketDataNotFresh: the KRX
 * trading day before the latest trading day on or before today. On a trading day that is the day
 * before, ingested at 06:00; over a weekend or a holiday it stays the day the last trading day's
 * select needed, so that no alert fires for days nothing trades.
 */
export function expectedDataDay(today: string, holidays: ReadonlySet<string>): string {
  let day = today;
  while (nonTradingReason(day, holidays)) {
    day = addDays(day, -1);
  }
  do {
    day = addDays(day, -1);
  } while (nonTradingReason(day, holidays));
  return day;
}

/**
 * trading_market_data_expected_date_seconds: the midnight (TRADING_TIMEZONE, unix seconds) of
 * `expectedDataDay`, read from the holiday calendar at each scrape. Exported only where the daily
 * ingest job is on (TRADING_SERVICE_EMAIL), like the backtest service's completed-date gauge it is
 * compared with; every replica reports the same value.
 */
@Injectable()
export class MarketFreshnessMetrics {
  constructor(
    @Inject(HttpMetrics) metrics: HttpMetrics,
    @Inject(CONFIG) config: TradingConfig,
    calendar: CalendarService,
    clock: TradingClock,
  ) {
    if (!ingestEnabled(config)) {
      return;
    }
    const expected = new Gauge({
      name: 'trading_market_data_expected_date_seconds',
      help: 'Midnight (trading time zone, unix seconds) of the KRX trading day whose data the next select decides on (by the trading calendar)',
      registers: [metrics.registry],
      collect: readOnScrape(
        async () => expectedDataDay(clock.tradingDate(), await calendar.holidaySet()),
        (day) => expected.set(startOfDay(day, config.TRADING_TIMEZONE).getTime() / 1000),
      ),
    });
  }
}
