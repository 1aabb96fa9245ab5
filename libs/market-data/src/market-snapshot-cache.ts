import type { Pool } from 'pg';
import {
  currentDataVersion,
  loadMarketSnapshot,
  type LoadMarketOptions,
  type MarketSnapshot,
} from './load-market-data.js';
import { decodeMarketSnapshot, encodeMarketSnapshot } from './snapshot-codec.js';

/**
 * Where the snapshots of market data versions are kept between processes (object storage in the
 * backtest service). `read` resolves undefined when there is none for that version.
 */
export interface SnapshotStore {
  read(version: string): Promise<Buffer | undefined>;
  write(version: string, bytes: Buffer): Promise<void>;
}

interface Loaded {
  snapshot: MarketSnapshot;
  options: LoadMarketOptions;
}

/** Whether a loaded snapshot holds the days asked for. */
function covers(loaded: Loaded, options: LoadMarketOptions): boolean {
  const had = loaded.options;
  if (had.lastDays === undefined) {
    return true; // the whole history
  }
  if (options.lastDays === undefined || had.before !== options.before) {
    return false;
  }
  // a window that starts at the first day holds every shorter one
  return loaded.snapshot.data.dates.length >= options.lastDays || loaded.snapshot.precedingDates.length === 0;
}

/** How a snapshot was obtained, for the log and the tests. */
export type SnapshotSource = 'store' | 'database';

export interface SnapshotCacheOptions {
  /** Snapshots shared between processes; without it every load reads PostgreSQL. */
  store?: SnapshotStore;
  onLoaded?: (snapshot: MarketSnapshot, source: SnapshotSource) => void;
  /** A stored snapshot that could not be used (rebuilt from PostgreSQL instead). */
  onRejected?: (version: string, reason: string) => void;
}

/**
 * The market data of one process, reloaded when `market.data_version` changes. A cache of
 * immutable data, not state: every replica loads the same thing. From the store when it holds
 * the current version (one read), else from PostgreSQL, then written to the store for the next
 * process. The previous version is dropped when a reload starts: only jobs still running on it
 * keep it alive, so a process never holds two versions for longer than its longest job.
 */
export class MarketSnapshotCache {
  private current: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly options: SnapshotCacheOptions = {},
  ) {}

  /**
   * The current version, with at least the latest `lastDays` trading days (the whole history when
   * omitted). A loaded window that is long enough is reused; a longer one is loaded when asked.
   */
  async get(options: LoadMarketOptions = {}): Promise<MarketSnapshot> {
    const version = await currentDataVersion(this.pool);
    if (this.current?.snapshot.version === version && covers(this.current, options)) {
      return this.current.snapshot;
    }
    if (this.loading) {
      const loaded = await this.loading;
      if (loaded.snapshot.version === version && covers(loaded, options)) {
        return loaded.snapshot;
      }
    }
    this.loading ??= this.load(version, options).finally(() => {
      this.loading = undefined;
    });
    return (await this.loading).snapshot;
  }

  private async load(version: string, options: LoadMarketOptions): Promise<Loaded> {
    this.current = undefined;
    // only whole histories are stored; a window is read from PostgreSQL (an index range of its days)
    let snapshot = options.lastDays === undefined ? await this.fromStore(version) : undefined;
    const source: SnapshotSource = snapshot ? 'store' : 'database';
    if (!snapshot) {
      const client = await this.pool.connect();
      try {
        snapshot = await loadMarketSnapshot(client, options);
      } finally {
        client.release();
      }
    }
    this.current = { snapshot, options };
    this.options.onLoaded?.(snapshot, source);
    if (source === 'database' && options.lastDays === undefined && this.options.store) {
      const whole = snapshot;
      await this.options.store.write(whole.version, encodeMarketSnapshot(whole)).catch((error: unknown) => {
        this.options.onRejected?.(whole.version, `not written to the store: ${String(error)}`);
      });
    }
    return this.current;
  }

  private async fromStore(version: string): Promise<MarketSnapshot | undefined> {
    const store = this.options.store;
    if (!store) {
      return undefined;
    }
    const started = performance.now();
    try {
      const bytes = await store.read(version);
      if (!bytes) {
        return undefined;
      }
      const decoded = decodeMarketSnapshot(bytes);
      if (decoded.version !== version) {
        this.options.onRejected?.(version, `the stored snapshot holds version ${decoded.version}`);
        return undefined;
      }
      return { ...decoded, loadedInMs: Math.round(performance.now() - started) };
    } catch (error) {
      this.options.onRejected?.(version, error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }
}

/**
 * Builds the snapshot of the current version from PostgreSQL and writes it to the store, keeping
 * nothing in memory afterwards (the import job calls it once its data version is committed).
 */
export async function publishMarketSnapshot(
  pool: Pool,
  store: SnapshotStore,
): Promise<{ version: string; bytes: number; builtInMs: number }> {
  const started = performance.now();
  const client = await pool.connect();
  let encoded: Buffer;
  let version: string;
  try {
    const snapshot = await loadMarketSnapshot(client);
    version = snapshot.version;
    encoded = encodeMarketSnapshot(snapshot);
  } finally {
    client.release();
  }
  await store.write(version, encoded);
  return { version, bytes: encoded.length, builtInMs: Math.round(performance.now() - started) };
}
