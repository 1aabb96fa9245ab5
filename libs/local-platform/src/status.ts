import { Redis } from 'ioredis';

/**
 * The model behind the gateway's status page: every replica with the readiness the gateway's
 * own polling last saw, the trading scheduler as a ready trading replica reports it, how fresh
 * the market data is as a ready backtest replica reports it, and the depth of the backtest queue
 * read straight from BullMQ's keys in Redis.
 */

/** One process on the status page: a routed replica, or a health target such as the worker. */
export interface ReplicaHealth {
  service: string;
  name: string;
  /** the route it serves; null for a process that serves no API */
  prefix: string | null;
  url: string;
  ready: boolean;
  /** ISO time of the last readiness probe, null before the first one finished */
  lastCheckAt: string | null;
  /** HTTP status of the last probe, or null when it got none */
  lastStatus: number | null;
  lastError: string | null;
}

/** Where a part of the page is asked for: a route's ready replicas, in turn. */
export interface ReplicaSourceOptions {
  /** the route whose ready replicas are asked, e.g. `/api/trading` */
  prefix: string;
  /** path asked on the replica (default: the part's own under the prefix) */
  path?: string;
  /** a Bearer token the service accepts; called for each request, so it may be renewed */
  token: () => string;
  /** per replica; the next ready replica is tried after a failure (default 1500) */
  timeoutMs?: number;
}

/** The trading scheduler; path default `<prefix>/scheduler`. */
export type SchedulerSourceOptions = ReplicaSourceOptions;
/** The market data's freshness; path default `<prefix>/market/status`. */
export type MarketSourceOptions = ReplicaSourceOptions;

export interface QueueSourceOptions {
  redisUrl: string;
  /** the platform's REDIS_KEY_PREFIX (default `stocklab:`); BullMQ's prefix is `<it>queue` */
  keyPrefix?: string;
  /** BullMQ queue name (default `backtests`) */
  queue?: string;
}

export interface StatusOptions {
  scheduler?: SchedulerSourceOptions;
  market?: MarketSourceOptions;
  queue?: QueueSourceOptions;
  /** a snapshot is reused for this long, so many open pages cost one round of requests (default 500) */
  cacheMs?: number;
}

export interface JobRunView {
  job: string;
  runKey: string;
  status: string;
  trigger: string | null;
  epoch: number | null;
  runner: string | null;
  scheduledAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

export interface SchedulerView {
  /** the replica that answered, null when none did */
  source: string | null;
  error: string | null;
  leader: string | null;
  epoch: number | null;
  backend: string | null;
  tradingDate: string | null;
  lastRuns: JobRunView[];
  nextOccurrences: Array<{ job: string; at: string; tradingDate: string | null }>;
}

export interface IngestRunView {
  date: string | null;
  status: string;
  provider: string | null;
  attempt: number | null;
  finishedAt: string | null;
  error: string | null;
}

/** How fresh the market data is: `GET /api/backtest/market/status` of a ready backtest replica. */
export interface MarketView {
  /** the replica that answered, null when none did */
  source: string | null;
  error: string | null;
  dataVersion: string | null;
  lastTradingDay: string | null;
  /** the newest bar of each market */
  markets: Array<{ market: string; latestBarDate: string | null; listed: number | null }>;
  /** the newest daily ingest run of any date, with its outcome */
  lastIngest: IngestRunView | null;
  /** the newest date a daily ingest completed */
  lastIngestedDate: string | null;
}

/** BullMQ states, as keys of `<prefix>queue:<name>:<state>`. */
export const QUEUE_STATES = [
  'wait',
  'paused',
  'prioritized',
  'delayed',
  'waiting-children',
  'active',
  'failed',
  'completed',
] as const;
export type QueueState = (typeof QUEUE_STATES)[number];
/** Lists; every other state is a sorted set (bullmq's getCounts script does the same: LLEN or ZCARD). */
const LIST_STATES: ReadonlySet<QueueState> = new Set(['wait', 'paused', 'active']);
/** Jobs not yet taken by any worker. */
const WAITING_STATES: readonly QueueState[] = ['wait', 'paused', 'prioritized', 'delayed', 'waiting-children'];

export interface QueueView {
  queue: string;
  /** the Redis key prefix of this queue's keys, e.g. `stocklab:queue:backtests:` */
  keys: string;
  /** jobs waiting to be taken (wait + paused + prioritized + delayed + waiting-children); null when Redis did not answer */
  depth: number | null;
  counts: Record<QueueState, number> | null;
  error: string | null;
}

export interface StatusSnapshot {
  generatedAt: string;
  replicas: ReplicaHealth[];
  /** null when the gateway was not told where the scheduler is */
  scheduler: SchedulerView | null;
  /** null when the gateway was not told where the market status is */
  market: MarketView | null;
  /** null when the gateway was not told where the queue is */
  queue: QueueView | null;
}

export interface StatusSources {
  replicas: () => ReplicaHealth[];
  /** base URLs of the ready replicas of a route */
  readyUpstreams: (prefix: string) => string[];
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function integer(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function records(value: unknown): Array<Record<string, unknown>> {
  return Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null)
    : [];
}

function describeError(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code) {
    return cause.code;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Only the fields the page shows, type-checked: the answer of another process is not trusted blindly. */
export function schedulerView(source: string, body: unknown): SchedulerView {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  return {
    source,
    error: null,
    leader: text(b.leader),
    epoch: integer(b.epoch),
    backend: text(b.backend),
    tradingDate: text(b.tradingDate),
    lastRuns: records(b.lastRuns).map((r) => ({
      job: text(r.job) ?? '?',
      runKey: text(r.runKey) ?? '?',
      status: text(r.status) ?? '?',
      trigger: text(r.trigger),
      epoch: integer(r.epoch),
      runner: text(r.runner),
      scheduledAt: text(r.scheduledAt),
      startedAt: text(r.startedAt),
      finishedAt: text(r.finishedAt),
      error: text(r.error),
    })),
    nextOccurrences: records(b.nextOccurrences).map((o) => ({
      job: text(o.job) ?? '?',
      at: text(o.at) ?? '?',
      tradingDate: text(o.tradingDate),
    })),
  };
}

/** Only the fields the page shows, type-checked, as for the scheduler. */
export function marketView(source: string, body: unknown): MarketView {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const run =
    typeof b.lastIngest === 'object' && b.lastIngest !== null ? (b.lastIngest as Record<string, unknown>) : null;
  return {
    source,
    error: null,
    dataVersion: text(b.dataVersion),
    lastTradingDay: text(b.lastTradingDay),
    markets: records(b.markets).map((m) => ({
      market: text(m.market) ?? '?',
      latestBarDate: text(m.latestBarDate),
      listed: integer(m.listed),
    })),
    lastIngest: run
      ? {
          date: text(run.date),
          status: text(run.status) ?? '?',
          provider: text(run.provider),
          attempt: integer(run.attempt),
          finishedAt: text(run.finishedAt),
          error: text(run.error),
        }
      : null,
    lastIngestedDate: text(b.lastIngestedDate),
  };
}

function emptyMarket(error: string): MarketView {
  return {
    source: null,
    error,
    dataVersion: null,
    lastTradingDay: null,
    markets: [],
    lastIngest: null,
    lastIngestedDate: null,
  };
}

function emptyScheduler(error: string): SchedulerView {
  return {
    source: null,
    error,
    leader: null,
    epoch: null,
    backend: null,
    tradingDate: null,
    lastRuns: [],
    nextOccurrences: [],
  };
}

export class StatusCollector {
  private redis: Redis | undefined;
  private cached: { at: number; snapshot: Promise<StatusSnapshot> } | undefined;
  private closed = false;

  constructor(
    private readonly options: StatusOptions,
    private readonly sources: StatusSources,
  ) {}

  /** The current status; concurrent and closely following callers share one gathering. */
  snapshot(): Promise<StatusSnapshot> {
    const cacheMs = this.options.cacheMs ?? 500;
    const now = Date.now();
    if (this.cached && now - this.cached.at < cacheMs) {
      return this.cached.snapshot;
    }
    const snapshot = this.gather();
    this.cached = { at: now, snapshot };
    // A failed gathering is not reused.
    snapshot.catch(() => {
      if (this.cached?.snapshot === snapshot) {
        this.cached = undefined;
      }
    });
    return snapshot;
  }

  async close(): Promise<void> {
    this.closed = true;
    const redis = this.redis;
    this.redis = undefined;
    if (redis) {
      redis.disconnect();
    }
    await this.cached?.snapshot.catch(() => undefined);
  }

  private async gather(): Promise<StatusSnapshot> {
    const { scheduler, market } = this.options;
    const [schedulerNow, marketNow, queue] = await Promise.all([
      scheduler ? this.askReady(scheduler, 'scheduler', schedulerView, emptyScheduler) : null,
      market ? this.askReady(market, 'market/status', marketView, emptyMarket) : null,
      this.options.queue ? this.queue(this.options.queue) : null,
    ]);
    // Readiness last, so the table is as fresh as the slower parts allow.
    return {
      generatedAt: new Date().toISOString(),
      replicas: this.sources.replicas(),
      scheduler: schedulerNow,
      market: marketNow,
      queue,
    };
  }

  /** GET `<prefix>/<defaultPath>` of the route's ready replicas in turn; the first 200 answers. */
  private async askReady<View>(
    options: ReplicaSourceOptions,
    defaultPath: string,
    view: (source: string, body: unknown) => View,
    empty: (error: string) => View,
  ): Promise<View> {
    const ready = this.sources.readyUpstreams(options.prefix);
    if (ready.length === 0) {
      return empty(`no replica of ${options.prefix} is ready`);
    }
    const path = options.path ?? `${options.prefix.replace(/\/+$/, '')}/${defaultPath}`;
    const failures: string[] = [];
    for (const base of ready) {
      try {
        const res = await fetch(new URL(path, `${base}/`), {
          headers: { authorization: `Bearer ${options.token()}`, accept: 'application/json' },
          signal: AbortSignal.timeout(options.timeoutMs ?? 1500),
          redirect: 'manual',
        });
        if (res.status !== 200) {
          await res.body?.cancel();
          failures.push(`${base}: HTTP ${res.status}`);
          continue;
        }
        return view(base, await res.json());
      } catch (error) {
        failures.push(`${base}: ${describeError(error)}`);
      }
    }
    return empty(failures.join('; '));
  }

  private client(redisUrl: string): Redis {
    if (!this.redis) {
      this.redis = new Redis(redisUrl, {
        connectionName: 'gateway-status',
        // The page polls every second: answer "unknown" quickly instead of queueing behind a dead Redis.
        maxRetriesPerRequest: 1,
        commandTimeout: 1000,
        connectTimeout: 1000,
        retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
      });
      this.redis.on('error', () => undefined);
    }
    return this.redis;
  }

  private async queue(options: QueueSourceOptions): Promise<QueueView> {
    const name = options.queue ?? 'backtests';
    // BullMQ keys are `<bullmq prefix>:<queue>:<state>`; the services give BullMQ `<REDIS_KEY_PREFIX>queue`.
    const keys = `${options.keyPrefix ?? 'stocklab:'}queue:${name}:`;
    const view: QueueView = { queue: name, keys, depth: null, counts: null, error: null };
    if (this.closed) {
      view.error = 'closed';
      return view;
    }
    try {
      const multi = this.client(options.redisUrl).multi();
      for (const state of QUEUE_STATES) {
        if (LIST_STATES.has(state)) {
          multi.llen(`${keys}${state}`);
        } else {
          multi.zcard(`${keys}${state}`);
        }
      }
      // BullMQ before v5 left a "0:<delay>" marker at the tail of the wait list; it is not a job.
      multi.lindex(`${keys}wait`, -1);
      const replies = (await multi.exec()) ?? [];
      const counts = {} as Record<QueueState, number>;
      QUEUE_STATES.forEach((state, i) => {
        const [error, value] = replies[i] ?? [new Error('no reply'), null];
        if (error) {
          throw error;
        }
        counts[state] = Number(value);
      });
      const tail = replies[QUEUE_STATES.length]?.[1];
      if (typeof tail === 'string' && tail.startsWith('0:') && counts.wait > 0) {
        counts.wait -= 1;
      }
      view.counts = counts;
      view.depth = WAITING_STATES.reduce((sum, state) => sum + counts[state], 0);
    } catch (error) {
      view.error = `redis: ${describeError(error)}`;
    }
    return view;
  }
}
