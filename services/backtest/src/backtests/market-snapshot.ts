import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { MarketSnapshotCache, type MarketSnapshot } from '@stocklab/market-data';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { ObjectStorageSnapshotStore } from '../market/snapshot-store.js';
import { ObjectStorage } from '../storage/object-storage.js';

export { BENCHMARKS, type BenchmarkId, type MarketSnapshot } from '@stocklab/market-data';

/**
 * This process's market data: the current version's snapshot from object storage (one read),
 * or, when there is none or it fails its checks, from the service's PostgreSQL pool (then stored
 * for the next process).
 */
@Injectable()
export class MarketSnapshots {
  private readonly logger = new Logger(MarketSnapshots.name);
  private readonly cache: MarketSnapshotCache;

  constructor(@InjectDataSource() dataSource: DataSource, @Inject(ObjectStorage) storage: ObjectStorage) {
    const pool = (dataSource.driver as unknown as { master: Pool }).master;
    this.cache = new MarketSnapshotCache(pool, {
      store: new ObjectStorageSnapshotStore(storage),
      onLoaded: (s, source) =>
        this.logger.log(
          `market data version ${s.version} loaded from the ${source === 'store' ? 'stored snapshot' : 'database'}: ` +
            `${s.data.codes.length} stocks x ${s.data.dates.length} days in ${s.loadedInMs} ms`,
        ),
      onRejected: (version, reason) => this.logger.warn(`market snapshot of version ${version}: ${reason}`),
    });
  }

  get(): Promise<MarketSnapshot> {
    return this.cache.get();
  }
}
