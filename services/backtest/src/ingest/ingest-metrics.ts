import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CONFIG, HttpMetrics, readOnScrape } from '@stocklab/platform';
import { Gauge } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { BacktestConfig } from '../config.js';

/**
 * The daily ingest's freshness as Prometheus reads it (API replicas with KRX_API_KEY set; without
 * it the ingest is off and nothing is exported, so no freshness alert fires), read from
 * market.ingest_runs at each scrape (every replica reports the same values: read them with max):
 *
 * - backtest_market_ingest_last_completed_date_seconds: the newest date whose ingest ended
 *   `succeeded` or `no_trading`, as the unix time of its midnight in Asia/Seoul. With the trigger
 *   called every calendar day for the day before, it is yesterday's midnight from the trigger's run
 *   on (StocklabMarketDataNotFresh compares it at 06:45 KST).
 * - backtest_market_ingest_last_success_timestamp_seconds: when the newest succeeded run finished.
 */
@Injectable()
export class IngestMetrics {
  constructor(
    @Inject(HttpMetrics) metrics: HttpMetrics,
    @InjectDataSource() dataSource: DataSource,
    @Inject(CONFIG) config: BacktestConfig,
  ) {
    if (!config.KRX_API_KEY) {
      return;
    }
    const registers = [metrics.registry];
    const read = readOnScrape(
      async () => {
        const [row] = await dataSource.query<{ completed: string | null; succeeded: string | null }[]>(
          `SELECT extract(epoch FROM (max(date) FILTER (WHERE status IN ('succeeded', 'no_trading')))::timestamp
                    AT TIME ZONE 'Asia/Seoul')::text AS completed,
                  extract(epoch FROM max(finished_at) FILTER (WHERE status = 'succeeded'))::text AS succeeded
             FROM market.ingest_runs`,
        );
        return { completed: Number(row?.completed ?? 0), succeeded: Number(row?.succeeded ?? 0) };
      },
      (value) => {
        completed.set(value.completed);
        succeeded.set(value.succeeded);
      },
    );
    const completed = new Gauge({
      name: 'backtest_market_ingest_last_completed_date_seconds',
      help: 'Midnight (Asia/Seoul, unix seconds) of the newest date the daily market ingest completed (succeeded or no trading); 0: none',
      registers,
      collect: read,
    });
    const succeeded = new Gauge({
      name: 'backtest_market_ingest_last_success_timestamp_seconds',
      help: 'When the newest succeeded daily market ingest run finished (unix seconds); 0: none',
      registers,
      // the same read (one in flight per scrape): whichever gauge is collected first, both are set
      collect: read,
    });
  }
}
