import { Inject, Injectable, Logger } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import { CalendarService } from '../calendar/calendar.service.js';
import { addDays } from '../calendar/trading-calendar.js';
import type { TradingConfig } from '../config.js';
import type { JobBody, JobContext } from './job-context.js';
import { MarketIngestClient } from './market-ingest-client.js';

/** How often the run's heartbeat is beaten while the backtest service ingests (a stale heartbeat invites a resume). */
const HEARTBEAT_MS = 15_000;

/** Whether the daily ingest job is configured (a service account to trigger it with). */
export function ingestEnabled(config: Pick<TradingConfig, 'TRADING_SERVICE_EMAIL'>): boolean {
  return config.TRADING_SERVICE_EMAIL !== undefined;
}

/**
 * The daily market ingest of trading date D: the previous KRX trading day's data (the day select
 * decides on at 07:00) and the statements of the periodic reports filed since then (OpenDART,
 * where the backtest service has its key), ingested by the backtest service, which owns the market schema and does
 * it exactly once per date (an advisory lock and a unique succeeded run there). Here it is one run
 * per occurrence like every job: a leader killed mid-ingest leaves the run `running`, its
 * successor runs it again, and the second trigger waits for the first ingest and answers it.
 * A provider that is down or has not published the day leaves the run `waiting`: the catch-up
 * sweep tries again until the grace window ends.
 */
@Injectable()
export class IngestJob implements JobBody {
  private readonly logger = new Logger(IngestJob.name);
  private readonly client: MarketIngestClient;

  constructor(
    @Inject(CONFIG) config: TradingConfig,
    private readonly calendar: CalendarService,
  ) {
    if (ingestEnabled(config) && !config.TRADING_SERVICE_PASSWORD) {
      throw new Error('TRADING_SERVICE_EMAIL is set without TRADING_SERVICE_PASSWORD');
    }
    this.client = new MarketIngestClient(config);
  }

  async run(context: JobContext): Promise<Record<string, unknown>> {
    const date = await this.calendar.previousTradingDay(context.run.tradingDate);
    // the reports filed since the previous trading day (weekends and holidays included), up to yesterday
    const filed = { from: date, to: addDays(context.run.tradingDate, -1) };
    const stop = new AbortController();
    let lost: unknown;
    const beat = setInterval(() => {
      context
        .fenced(async () => undefined)
        .catch((error: unknown) => {
          // deposed (or the database is gone): the successor runs it again; stop waiting here
          lost = error;
          stop.abort(error);
        });
    }, HEARTBEAT_MS);
    try {
      const { bars: answer, statements } = await this.client.ingest(
        date,
        filed,
        AbortSignal.any([context.signal, stop.signal]),
      );
      this.logger.log({ runKey: context.run.runKey, ...answer }, `market data of ${date}: ${answer.status}`);
      // the run's outcome is written under its epoch like every job's: a deposed leader's is refused
      await context.fenced(async () => undefined);
      return {
        date,
        status: answer.status,
        replayed: answer.replayed,
        attempt: answer.attempt,
        rows: answer.rows,
        dataVersion: answer.dataVersion,
        changed: answer.changed,
        statements:
          statements === 'off'
            ? 'off'
            : {
                from: statements.from,
                to: statements.to,
                filings: statements.filings,
                inserted: statements.inserted,
                updated: statements.updated,
                skipped: statements.skipped.length,
                changed: statements.changed,
              },
      };
    } catch (error) {
      throw lost ?? error;
    } finally {
      clearInterval(beat);
    }
  }
}
