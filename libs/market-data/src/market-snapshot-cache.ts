import type { Pool } from 'pg';
import { currentDataVersion, loadMarketSnapshot, type MarketSnapshot } from './load-market-data.js';

/**
 * The market data of one process, reloaded when `market.data_version` changes. A cache of
 * immutable data, not state: every replica loads the same thing from PostgreSQL.
 */
export class MarketSnapshotCache {
  private current: MarketSnapshot | undefined;
  private loading: Promise<MarketSnapshot> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly onLoaded: (snapshot: MarketSnapshot) => void = () => undefined,
  ) {}

  async get(): Promise<MarketSnapshot> {
    const version = await currentDataVersion(this.pool);
    if (this.current?.version === version) {
      return this.current;
    }
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<MarketSnapshot> {
    const client = await this.pool.connect();
    try {
      const snapshot = await loadMarketSnapshot(client);
      this.current = snapshot;
      this.onLoaded(snapshot);
      return snapshot;
    } finally {
      client.release();
    }
  }
}
