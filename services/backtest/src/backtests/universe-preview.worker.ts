import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import {
  classificationOn,
  lowerBoundDate,
  universeCandidates,
  type ConditionNode,
  type UniverseDefinition,
} from '@stocklab/strategy-engine';
import type { Job } from 'bullmq';
import type { BacktestConfig } from '../config.js';
import { Queues, QUEUE } from '../queue/queues.js';
import { MarketSnapshots } from './market-snapshot.js';

/** What the API puts on the previews queue (validated there). */
export interface PreviewJob {
  universe: UniverseDefinition;
  buyConditions?: ConditionNode;
  /** yyyymmdd of a trading day of the market data */
  date: number;
  /** how many of the passing stocks to list (all are counted) */
  limit: number;
}

export interface PreviewAnswer {
  /** yyyymmdd */
  date: number;
  /** the market data version it was computed on */
  dataVersion: string;
  count: number;
  /** the first `limit` passing stocks, in code order */
  stocks: Array<{ code: string; market: string; sector: string }>;
}

/** The preview was asked for a day the loaded market data does not hold (a newer version is loading). */
export const PREVIEW_DAY_MISSING = 'PREVIEW_DAY_MISSING';

/**
 * Universe previews, computed where the market data is (processes that run backtests hold it,
 * API replicas do not): a small job on its own queue, taken between backtests' work on the main
 * thread (backtests run in worker threads), by the engine's own filters (universeCandidates).
 */
@Injectable()
export class UniversePreviewWorker implements OnApplicationBootstrap {
  constructor(
    @Inject(CONFIG) private readonly config: BacktestConfig,
    @Inject(Queues) private readonly queues: Queues,
    @Inject(MarketSnapshots) private readonly snapshots: MarketSnapshots,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.BACKTEST_CONCURRENCY > 0) {
      this.queues.work(QUEUE.previews, 1, (job: Job) => this.preview(job.data as PreviewJob));
    }
  }

  async preview(job: PreviewJob): Promise<PreviewAnswer> {
    const snapshot = await this.snapshots.get();
    const { data } = snapshot;
    const d = lowerBoundDate(data.dates, job.date);
    if (data.dates[d] !== job.date) {
      throw new Error(PREVIEW_DAY_MISSING);
    }
    const passing = universeCandidates(job.universe, job.buyConditions, data, d);
    const stocks = Array.from(passing, (s) => {
      // the market and sector of that day (point in time), as the universe read them
      const { market, sector } = classificationOn(data.stocks[s], job.date);
      return { code: data.codes[s], market, sector };
    })
      .sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0))
      .slice(0, job.limit);
    return { date: job.date, dataVersion: String(snapshot.version), count: passing.length, stocks };
  }
}
