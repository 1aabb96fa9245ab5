import type { Pool } from 'pg';
import {
  currentDataVersion,
  loadMarketSnapshot,
  type LoadMarketOptions,
  type MarketSnapshot,
} from './load-market-data.js';
import { extendMarketSnapshot } from './extend-market-data.js';
import { APPEND_HEADROOM_DAYS } from './price-columns.js';
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

/**
 * Whether `previous` can be extended into the snapshot `wanted`: both the whole history, or
 * windows of the same length whose end moves forward (a job of a later trading date) and that
 * have not yet grown by more than the columns' headroom (then it is loaded afresh, at its length).
 */
function extendable(previous: Loaded, wanted: LoadMarketOptions): boolean {
  const had = previous.options;
  if (had.lastDays === undefined || wanted.lastDays === undefined) {
    return had.lastDays === wanted.lastDays;
  }
  return (
    had.lastDays === wanted.lastDays &&
    had.before !== undefined &&
    wanted.before !== undefined &&
    wanted.before >= had.before &&
    previous.snapshot.data.dates.length < wanted.lastDays + APPEND_HEADROOM_DAYS
  );
}

/** How a snapshot was obtained, for the log and the tests ('extended': the previous one plus the new days). */
export type SnapshotSource = 'store' | 'database' | 'extended';

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
    const previous = this.current;
    this.current = undefined;
    let snapshot = previous && extendable(previous, options) ? await this.extend(previous, options) : undefined;
    let source: SnapshotSource = 'extended';
    // only whole histories are stored; a window is read from PostgreSQL (an index range of its days)
    if (!snapshot && options.lastDays === undefined) {
      snapshot = await this.fromStore(version);
      source = 'store';
      if (!snapshot) {
        // not stored yet (the import job is still writing it): the stored previous version plus
        // the new days, when that is all that changed, rather than the whole of PostgreSQL
        const base = BigInt(version) > 0n ? await this.fromStore(String(BigInt(version) - 1n)) : undefined;
        snapshot = base && (await this.extend({ snapshot: base, options }, options));
        source = 'extended';
      }
    }
    if (!snapshot) {
      source = 'database';
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

  /** The previous snapshot plus the days since, if only days were appended since (else undefined). */
  private async extend(previous: Loaded, options: LoadMarketOptions): Promise<MarketSnapshot | undefined> {
    const client = await this.pool.connect();
    try {
      return await extendMarketSnapshot(client, previous.snapshot, options);
    } catch (error) {
      // never worse than before increments existed: the whole is loaded instead
      this.options.onRejected?.(previous.snapshot.version, `not extended: ${String(error)}`);
      return undefined;
    } finally {
      client.release();
    }
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
 * Writes the snapshot of the current version to the store, keeping nothing in memory afterwards
 * (the import job calls it once its data version is committed). When the store holds the
 * snapshot of `previousVersion` and every version since only appended days (a daily increment),
 * that snapshot plus the new days' bars is written (`extended`); else it is built from the whole
 * of PostgreSQL.
 */
export async function publishMarketSnapshot(
  pool: Pool,
  store: SnapshotStore,
  previousVersion?: string,
): Promise<{ version: string; bytes: number; builtInMs: number; extended: boolean }> {
  const started = performance.now();
  const client = await pool.connect();
  let snapshot: MarketSnapshot | undefined;
  let extended = false;
  try {
    const previous =
      previousVersion === undefined ? undefined : await store.read(previousVersion).catch(() => undefined);
    if (previous) {
      try {
        const base = decodeMarketSnapshot(previous);
        snapshot =
          base.version === previousVersion ? await extendMarketSnapshot(client, { ...base, loadedInMs: 0 }) : undefined;
        extended = snapshot !== undefined;
      } catch {
        snapshot = undefined; // a corrupt previous snapshot is never extended: the whole is read
      }
    }
    snapshot ??= await loadMarketSnapshot(client);
  } finally {
    client.release();
  }
  const encoded = encodeMarketSnapshot(snapshot);
  await store.write(snapshot.version, encoded);
  return {
    version: snapshot.version,
    bytes: encoded.length,
    builtInMs: Math.round(performance.now() - started),
    extended,
  };
}
