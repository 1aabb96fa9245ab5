import { Inject, Injectable, Logger } from '@nestjs/common';
import { CONFIG, HttpMetrics, REDIS } from '@stocklab/platform';
import type { StrategyDefinition } from '@stocklab/strategy-engine';
import type { Redis } from 'ioredis';
import { Counter } from 'prom-client';
import type { BacktestConfig } from '../config.js';

/** A strategy row as cached (dates as ISO strings); the owner is checked after every cache read. */
export interface CachedStrategy {
  id: string;
  ownerId: string;
  name: string;
  description: string;
  definition: StrategyDefinition;
  schemaVersion: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export type CacheLookup = { kind: 'hit'; strategy: CachedStrategy } | { kind: 'deleted' } | { kind: 'miss' };

/**
 * What `strategy:<id>` holds. `rank` orders entries so that a slow reader can never put an older
 * row back after a write invalidated it: row version v has rank 2v; "version v was written,
 * not cached yet" (set after an update commits) has rank 2v-1; "deleted" outranks everything.
 * A write replaces the entry only if its rank is higher (the Lua script below).
 */
interface CacheEntry {
  rank: number;
  strategy?: CachedStrategy;
  deleted?: true;
}

const DELETED_RANK = Number.MAX_SAFE_INTEGER;

// `rank` is always serialized first, so the script reads it without decoding the whole row.
const SET_IF_NEWER = `
local current = redis.call('GET', KEYS[1])
if current then
  local rank = tonumber(string.match(current, '^{"rank":(%d+)'))
  if rank and rank >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
`;

const keyOf = (id: string): string => `strategy:${id}`;

/**
 * Read-through cache of strategies in the shared Redis: a row read on one replica is a hit on
 * every other, and a write on any replica invalidates it for all. Fails soft: a Redis error is
 * logged and counted, and the caller reads PostgreSQL instead.
 */
@Injectable()
export class StrategyCache {
  private readonly logger = new Logger(StrategyCache.name);
  private readonly requests: Counter<'result'>;
  private readonly errors: Counter<'operation'>;
  private readonly ttlSeconds: number;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CONFIG) config: BacktestConfig,
    @Inject(HttpMetrics) metrics: HttpMetrics,
  ) {
    this.ttlSeconds = config.STRATEGY_CACHE_TTL_SECONDS;
    this.requests = counter(metrics, 'strategy_cache_requests_total', 'Strategy reads by cache result', 'result');
    this.errors = counter(
      metrics,
      'strategy_cache_errors_total',
      'Strategy cache operations that failed (served from PostgreSQL instead)',
      'operation',
    );
  }

  async get(id: string): Promise<CacheLookup> {
    let raw: string | null = null;
    try {
      raw = await this.redis.get(keyOf(id));
    } catch (error) {
      this.failed('get', id, error);
    }
    const entry = raw === null ? undefined : parseEntry(raw);
    if (entry?.strategy && entry.strategy.id === id) {
      this.requests.inc({ result: 'hit' });
      return { kind: 'hit', strategy: entry.strategy };
    }
    if (entry?.deleted) {
      this.requests.inc({ result: 'hit' });
      return { kind: 'deleted' };
    }
    this.requests.inc({ result: 'miss' });
    return { kind: 'miss' };
  }

  /** After a read from PostgreSQL: cache the row unless a newer write got there first. */
  async offer(strategy: CachedStrategy): Promise<void> {
    await this.setIfNewer(strategy.id, { rank: 2 * strategy.version, strategy }, 'offer');
  }

  /** After an update committed: the next read loads `version` (or newer) from PostgreSQL. */
  async invalidate(id: string, version: number): Promise<void> {
    await this.setIfNewer(id, { rank: 2 * version - 1 }, 'invalidate');
  }

  /** After a delete committed: every replica answers 404 without asking PostgreSQL. */
  async markDeleted(id: string): Promise<void> {
    await this.setIfNewer(id, { rank: DELETED_RANK, deleted: true }, 'delete');
  }

  private async setIfNewer(id: string, entry: CacheEntry, operation: string): Promise<void> {
    try {
      await this.redis.eval(SET_IF_NEWER, 1, keyOf(id), JSON.stringify(entry), entry.rank, this.ttlSeconds);
    } catch (error) {
      this.failed(operation, id, error);
    }
  }

  private failed(operation: string, id: string, error: unknown): void {
    this.errors.inc({ operation });
    this.logger.warn(
      `strategy cache ${operation} for ${id} failed (reads fall back to PostgreSQL): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function parseEntry(raw: string): CacheEntry | undefined {
  try {
    const entry = JSON.parse(raw) as unknown;
    return typeof entry === 'object' && entry !== null && typeof (entry as CacheEntry).rank === 'number'
      ? (entry as CacheEntry)
      : undefined;
  } catch {
    return undefined;
  }
}

/** One counter per registry, even if the module is instantiated twice. */
function counter<L extends string>(metrics: HttpMetrics, name: string, help: string, label: L): Counter<L> {
  const existing = metrics.registry.getSingleMetric(name);
  if (existing) {
    return existing as Counter<L>;
  }
  return new Counter({ name, help, labelNames: [label], registers: [metrics.registry] });
}
