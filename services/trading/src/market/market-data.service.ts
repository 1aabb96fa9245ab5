import { Injectable } from '@nestjs/common';
import { MarketSnapshotCache, type MarketSnapshot } from '@stocklab/market-data';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';

/** The market schema in the engine's layout, reloaded when market.data_version changes. */
@Injectable()
export class MarketDataService {
  private readonly cache: MarketSnapshotCache;

  constructor(dataSource: DataSource) {
    // TypeORM's postgres driver keeps its pg Pool as `master`
    this.cache = new MarketSnapshotCache((dataSource.driver as unknown as { master: Pool }).master);
  }

  snapshot(): Promise<MarketSnapshot> {
    return this.cache.get();
  }
}

/** 2026-03-10 -> 20260310 */
export const yyyymmdd = (isoDate: string): number => Number(isoDate.replaceAll('-', ''));

/** 20260310 -> 2026-03-10 */
export const isoOf = (n: number): string => {
  const s = String(n);
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
};
