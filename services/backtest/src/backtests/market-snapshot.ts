import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { MarketSnapshotCache, type MarketSnapshot } from '@stocklab/market-data';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';

export { BENCHMARKS, type BenchmarkId, type MarketSnapshot } from '@stocklab/market-data';

/** This process's market data, from the service's own PostgreSQL pool. */
@Injectable()
export class MarketSnapshots {
  private readonly logger = new Logger(MarketSnapshots.name);
  private readonly cache: MarketSnapshotCache;

  constructor(@InjectDataSource() dataSource: DataSource) {
    const pool = (dataSource.driver as unknown as { master: Pool }).master;
    this.cache = new MarketSnapshotCache(pool, (s) =>
      this.logger.log(
        `market data version ${s.version} loaded: ${s.data.codes.length} stocks x ${s.data.dates.length} days in ${s.loadedInMs} ms`,
      ),
    );
  }

  get(): Promise<MarketSnapshot> {
    return this.cache.get();
  }
}
