import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { publishMarketSnapshot } from '@stocklab/market-data';
import {
  KiwoomDailyChartProvider,
  KrxOpenApiProvider,
  OpenDartProvider,
  ProviderError,
} from '@stocklab/market-providers';
import { CONFIG, DomainError, REDIS } from '@stocklab/platform';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import type { BacktestConfig } from '../config.js';
import { isIsoDate } from '../market/market-csv.js';
import { ObjectStorageSnapshotStore } from '../market/snapshot-store.js';
import { ObjectStorage } from '../storage/object-storage.js';
import { DailyIngest, type IngestResult } from './daily-ingest.js';
import { StatementsIngest, type StatementsIngestResult } from './statements-ingest.js';

/** Today in Korea (KRX's calendar), yyyy-mm-dd. */
export function seoulToday(now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Seoul' }).format(now);
}

/**
 * The daily ingest as the API runs it: KRX (KRX_API_KEY) through the shared Redis pace, with
 * OpenDART (OPENDART_API_KEY, optional) for the ex-rights days of bonus and rights issues and for
 * delisting notices, then the market snapshot published to object storage as the import job does.
 */
@Injectable()
export class IngestService {
  private readonly logger = new Logger(IngestService.name);
  private ingest: DailyIngest | undefined;
  private statementsIngest: StatementsIngest | undefined;
  private dart: OpenDartProvider | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(ObjectStorage) private readonly storage: ObjectStorage,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CONFIG) private readonly config: BacktestConfig,
  ) {}

  /** `trigger` is kept with the run (`api`); who asked only goes to the log (the status shows runs to every user). */
  async run(date: string, trigger: string, userId: string, tradingDay?: boolean): Promise<IngestResult> {
    if (!isIsoDate(date) || date < '1956-03-03') {
      throw new DomainError(400, 'INVALID_DATE', 'date is not a valid date (yyyy-mm-dd)');
    }
    if (date > seoulToday()) {
      throw new DomainError(400, 'INVALID_DATE', 'date is after today (Asia/Seoul): no data can exist for it yet');
    }
    this.logger.log(`ingest of ${date} triggered by ${userId}`);
    const result = await this.daily().ingest(date, {
      trigger,
      ...(tradingDay !== undefined ? { tradingDay } : {}),
    });
    if (result.status === 'failed') {
      throw new DomainError(
        503,
        'INGEST_FAILED',
        `the ingest of ${date} failed (attempt ${result.attempt}), nothing was changed: ${result.error ?? ''}`,
        { 'Retry-After': '300' },
      );
    }
    return result;
  }

  /** The statements of the periodic reports filed from `from` to `to` (yyyy-mm-dd, inclusive, at most a year). */
  async statements(from: string, to: string, userId: string): Promise<StatementsIngestResult> {
    for (const [name, value] of [
      ['from', from],
      ['to', to],
    ] as const) {
      if (!isIsoDate(value) || value < '2015-01-01') {
        throw new DomainError(400, 'INVALID_DATE', `${name} is not a valid date (yyyy-mm-dd, 2015 or later)`);
      }
    }
    if (from > to || to > seoulToday()) {
      throw new DomainError(400, 'INVALID_DATE', 'from must not be after to, nor to after today (Asia/Seoul)');
    }
    if (Date.parse(to) - Date.parse(from) > 366 * 86_400_000) {
      throw new DomainError(400, 'RANGE_TOO_LONG', 'one call covers at most a year of filings');
    }
    this.logger.log(`statements ingest of ${from}..${to} triggered by ${userId}`);
    try {
      return await this.statementsOf().ingest(from, to);
    } catch (error) {
      if (error instanceof ProviderError) {
        throw new DomainError(
          503,
          'STATEMENTS_INGEST_FAILED',
          `the statements ingest of ${from}..${to} failed, nothing was changed: ${error.message}`,
          { 'Retry-After': '300' },
        );
      }
      throw error;
    }
  }

  private statementsOf(): StatementsIngest {
    if (this.statementsIngest) {
      return this.statementsIngest;
    }
    const provider = this.openDart();
    if (!provider) {
      throw new DomainError(503, 'STATEMENTS_NOT_CONFIGURED', 'the statements ingest needs OPENDART_API_KEY');
    }
    this.statementsIngest = new StatementsIngest({
      pool: this.pool(),
      provider,
      onNewVersion: (version) => this.publishSnapshot(version),
      log: (message) => this.logger.log(message),
    });
    return this.statementsIngest;
  }

  /** OpenDART with OPENDART_API_KEY, else undefined (the statements ingest refuses; the daily ingest asks no filings). */
  private openDart(): OpenDartProvider | undefined {
    const apiKey = this.config.OPENDART_API_KEY;
    if (!apiKey) {
      return undefined;
    }
    this.dart ??= new OpenDartProvider({
      apiKey,
      redis: this.redis,
      host: this.config.OPENDART_API_URL,
      perSecond: this.config.OPENDART_REQUESTS_PER_SECOND,
      perDay: this.config.OPENDART_REQUESTS_PER_DAY,
      retry: { attempts: this.config.KRX_RETRY_ATTEMPTS, baseDelayMs: this.config.KRX_RETRY_BASE_MS },
    });
    return this.dart;
  }

  private pool(): pg.Pool {
    return (this.dataSource.driver as unknown as { master: pg.Pool }).master;
  }

  private daily(): DailyIngest {
    if (this.ingest) {
      return this.ingest;
    }
    const authKey = this.config.KRX_API_KEY;
    if (!authKey) {
      throw new DomainError(503, 'INGEST_NOT_CONFIGURED', 'the daily ingest needs KRX_API_KEY');
    }
    const provider = new KrxOpenApiProvider({
      authKey,
      redis: this.redis,
      host: this.config.KRX_API_URL,
      perSecond: this.config.KRX_REQUESTS_PER_SECOND,
      perDay: this.config.KRX_REQUESTS_PER_DAY,
      retry: { attempts: this.config.KRX_RETRY_ATTEMPTS, baseDelayMs: this.config.KRX_RETRY_BASE_MS },
    });
    const events = this.openDart();
    this.ingest = new DailyIngest({
      pool: this.pool(),
      provider,
      ...this.chartFallback(),
      ...(events ? { events } : {}),
      onNewVersion: (version) => this.publishSnapshot(version),
      log: (message) => this.logger.log(message),
    });
    return this.ingest;
  }

  /** The broker's daily chart as the ingest's fallback, when both of its keys are configured. */
  private chartFallback(): { fallback?: KiwoomDailyChartProvider } {
    const appKey = this.config.KIWOOM_CHART_APP_KEY;
    const secretKey = this.config.KIWOOM_CHART_SECRET_KEY;
    if (!appKey || !secretKey) {
      return {};
    }
    return {
      fallback: new KiwoomDailyChartProvider({
        clientOptions: { host: this.config.KIWOOM_CHART_URL, appKey, secretKey, redis: this.redis },
        retry: { attempts: this.config.KRX_RETRY_ATTEMPTS, baseDelayMs: this.config.KRX_RETRY_BASE_MS },
      }),
    };
  }

  /** As the import job: the new version stored whole or as an increment of the previous one. Best effort. */
  private async publishSnapshot(dataVersion: number): Promise<void> {
    try {
      const published = await publishMarketSnapshot(
        this.pool(),
        new ObjectStorageSnapshotStore(this.storage),
        String(dataVersion - 1),
      );
      this.logger.log(
        `market snapshot of version ${published.version} stored: ${published.bytes} bytes, ` +
          `${published.extended ? 'the previous one extended' : 'built'} in ${published.builtInMs} ms`,
      );
    } catch (error) {
      this.logger.warn(`market snapshot not stored: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
