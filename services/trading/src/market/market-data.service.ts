import { Inject, Injectable, Logger } from '@nestjs/common';
import { MarketSnapshotCache, type MarketSnapshot } from '@stocklab/market-data';
import { CONFIG } from '@stocklab/platform';
import { historyDaysOf, isoOf, parseStrategyDefinition } from '@stocklab/strategy-engine';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { TradingConfig } from '../config.js';

/**
 * The market days the daily jobs need, up to the day before their trading date, reloaded when
 * market.data_version changes (or a job of another date asks): the
 * longest history any strategy still decided on needs (its factors' lookback, see
 * historyDaysOf), at least TRADING_MARKET_MIN_DAYS. A window instead of the whole history keeps
 * a replica's memory a small multiple of the universe, whatever the years stored; the decisions
 * are the same as on the whole history.
 */
@Injectable()
export class MarketDataService {
  private readonly logger = new Logger(MarketDataService.name);
  private readonly cache: MarketSnapshotCache;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(CONFIG) private readonly config: TradingConfig,
  ) {
    // TypeORM's postgres driver keeps its pg Pool as `master`
    this.cache = new MarketSnapshotCache((dataSource.driver as unknown as { master: Pool }).master, {
      onLoaded: (s) =>
        this.logger.log(
          `market data version ${s.version} loaded: ${s.data.codes.length} stocks x the latest ${s.data.dates.length} ` +
            `of ${s.data.dates.length + s.precedingDates.length} days in ${s.loadedInMs} ms`,
        ),
    });
  }

  /** The days a job for `tradingDate` decides on: the window ends on the last market day before it. */
  async snapshot(tradingDate: string): Promise<MarketSnapshot> {
    return this.cache.get({ lastDays: await this.historyDays(), before: yyyymmdd(tradingDate) });
  }

  /** The longest history the strategies the daily jobs decide on need (each distinct rule set once). */
  async historyDays(): Promise<number> {
    const rows: Array<{ rules: unknown }> = await this.dataSource.query(
      `SELECT DISTINCT rules FROM trading.auto_strategies WHERE status IN ('active', 'liquidating')`,
    );
    let days = this.config.TRADING_MARKET_MIN_DAYS;
    for (const { rules } of rows) {
      const parsed = parseStrategyDefinition(rules);
      if (parsed.ok) {
        days = Math.max(days, historyDaysOf(parsed.value));
      }
    }
    return days;
  }
}

/** 2026-03-10 -> 20260310 */
export const yyyymmdd = (isoDate: string): number => Number(isoDate.replaceAll('-', ''));

export { isoOf };
