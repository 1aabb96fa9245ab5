import type { Pool } from 'pg';
import {
  currentDataVersion,
  loadMarketSnapshot,
  type LoadMarketOptions,
  type MarketSnapshot,
} from './load-market-data.js';
import { applyMarketIncrement, extendMarketSnapshot } from './extend-market-data.js';
import { APPEND_HEADROOM_DAYS } from './price-columns.js';
import {
  decodeMarketIncrement,
  decodeMarketSnapshot,
  encodeMarketIncrement,
  encodeMarketSnapshot,
  isMarketIncrement,
  SnapshotCorruptError,
} from './snapshot-codec.js';
import { loadIncrement, recordStored, storedChainOf } from './stored-increments.js';

/**
 * Where the snapshots of market data versions are kept between processes (object storage in the
 * backtest service). `read` resolves undefined when there is none for that version.
 */
export interface SnapshotStore {
  read(version: string): Promise<Buffer | undefined>;
  /**
   * Stores the bytes of `version` (a whole snapshot or an increment); the versions before
   * `keepFrom` (default: the one before `version`) may be deleted.
   */
  write(version: string, bytes: Buffer, keepFrom?: string): Promise<void>;
}

/** Increments stored on top of a whole snapshot before the next one is stored whole again. */
export const MAX_INCREMENT_CHAIN = 30;

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
      const snapshot = await readStored(store, version, 0);
      return snapshot && { ...snapshot, loadedInMs: Math.round(performance.now() - started) };
    } catch (error) {
      this.options.onRejected?.(version, error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }
}

/**
 * The version as stored: a whole snapshot, or an increment applied to its base as stored (at
 * most MAX_INCREMENT_CHAIN deep). Undefined when the store holds nothing for it; throws on any
 * inconsistency (a corrupt or mislabelled object, a missing base).
 */
async function readStored(store: SnapshotStore, version: string, depth: number): Promise<MarketSnapshot | undefined> {
  const bytes = await store.read(version);
  if (!bytes) {
    return undefined;
  }
  if (isMarketIncrement(bytes)) {
    const increment = decodeMarketIncrement(bytes);
    if (increment.version !== version) {
      throw new SnapshotCorruptError(`the stored increment holds version ${increment.version}`);
    }
    if (depth >= MAX_INCREMENT_CHAIN) {
      throw new SnapshotCorruptError(`more than ${MAX_INCREMENT_CHAIN} increments above a whole snapshot`);
    }
    const base = await readStored(store, increment.base, depth + 1);
    if (!base) {
      throw new SnapshotCorruptError(`the base ${increment.base} of increment ${version} is not stored`);
    }
    return applyMarketIncrement(base, increment);
  }
  const decoded = decodeMarketSnapshot(bytes);
  if (decoded.version !== version) {
    throw new SnapshotCorruptError(`the stored snapshot holds version ${decoded.version}`);
  }
  return { ...decoded, loadedInMs: 0 };
}

/**
 * Stores the snapshot of the current version (the import job calls it once its data version is
 * committed), keeping nothing in memory afterwards. When the version only appended days to
 * `previousVersion` and the import job stored that one (data_version_log.stored_chain), an
 * increment of just those days is stored, read from PostgreSQL by day (`extended`); every
 * MAX_INCREMENT_CHAIN increments, or after any other change, the whole is built and stored.
 */
export async function publishMarketSnapshot(
  pool: Pool,
  store: SnapshotStore,
  previousVersion?: string,
): Promise<{ version: string; bytes: number; builtInMs: number; extended: boolean }> {
  const started = performance.now();
  const client = await pool.connect();
  try {
    const prior = previousVersion === undefined ? undefined : await storedChainOf(client, previousVersion);
    if (previousVersion !== undefined && prior !== undefined && prior < MAX_INCREMENT_CHAIN) {
      const increment = await loadIncrement(client, previousVersion, prior + 1);
      if (increment) {
        const bytes = encodeMarketIncrement(increment.increment, increment.stocks);
        // the chain this increment stands on, which is also the previous version's
        await store.write(increment.increment.version, bytes, String(BigInt(previousVersion) - BigInt(prior)));
        await recordStored(client, increment.increment.version, increment.increment.chain);
        return {
          version: increment.increment.version,
          bytes: bytes.length,
          builtInMs: Math.round(performance.now() - started),
          extended: true,
        };
      }
    }
    const snapshot = await loadMarketSnapshot(client);
    const bytes = encodeMarketSnapshot(snapshot);
    // a process may still be reading the previous version: keep it, with the chain it stands on
    const keepFrom =
      previousVersion !== undefined && prior !== undefined
        ? String(BigInt(previousVersion) - BigInt(prior))
        : undefined;
    await store.write(snapshot.version, bytes, keepFrom);
    await recordStored(client, snapshot.version, 0);
    return {
      version: snapshot.version,
      bytes: bytes.length,
      builtInMs: Math.round(performance.now() - started),
      extended: false,
    };
  } finally {
    client.release();
  }
}
