import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { patiently } from './redis-patience.js';
import { appKeyId } from './shared-token.js';

/** Kiwoom's terms: 5 queries and 5 orders per second per app key; paced under it. */
export const DEFAULT_PER_SECOND = 4;

export type CallClass = 'order' | 'query';

// Even pacing on Redis' own clock (every replica shares it), a GCRA without burst: calls of a
// class are admitted at least 1000/perSecond ms apart. A window that admitted its calls in a
// burst would let two bursts meet within one second at the broker once network delays differ;
// evenly spaced calls only exceed the broker's 5 per second when delays differ by more than the
// spacing. Answers 0 (admitted) or how many milliseconds to wait.
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = math.ceil(1000 / tonumber(ARGV[1]))
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if due > now then
  return due - now
end
redis.call('SET', KEYS[1], now + interval, 'PX', interval + 1000)
return 0
`;

/**
 * Even pacing of one named stream of calls for every replica sharing the Redis (its key prefix
 * applies): a call waits for its turn, so the replicas together send at most `perSecond` calls per
 * second on `key`, evenly spaced. SharedRateLimit below is this per app key and call class; other
 * providers' clients (market data, disclosures) pace their own keys with it.
 */
export class SharedPacer {
  constructor(
    private readonly redis: Redis,
    /** the Redis key of the stream (before the connection's key prefix) */
    readonly key: string,
    readonly perSecond: number,
  ) {
    if (!(perSecond > 0)) {
      throw new Error(`SharedPacer ${key}: perSecond must be positive, got ${perSecond}`);
    }
  }

  /**
   * Waits for the next slot; answers how long it waited (ms). A Redis that does not answer is
   * waited for (see patiently): an admission lost with a timed-out answer is a slot left unused,
   * never an extra call.
   */
  async acquire(signal?: AbortSignal): Promise<number> {
    const started = Date.now();
    for (;;) {
      signal?.throwIfAborted();
      const admission = () => this.redis.eval(ADMIT, 1, this.key, this.perSecond);
      const wait = Number(await patiently(admission, undefined, signal));
      if (wait === 0) {
        return Date.now() - started;
      }
      await sleep(wait);
    }
  }
}

/**
 * One rate limit per app key and call class for every replica: a call waits for its turn, so the
 * replicas together send at most `perSecond` calls of a class per second, evenly spaced.
 */
export class SharedRateLimit {
  private readonly id: string;

  constructor(
    private readonly redis: Redis,
    appKey: string,
    private readonly perSecond: Readonly<Record<CallClass, number>> = {
      order: DEFAULT_PER_SECOND,
      query: DEFAULT_PER_SECOND,
    },
  ) {
    this.id = appKeyId(appKey);
  }

  /** Waits for a slot of `kind`; answers how long it waited (ms). */
  async acquire(kind: CallClass, signal?: AbortSignal): Promise<number> {
    return new SharedPacer(this.redis, `kiwoom:rate:${this.id}:${kind}`, this.perSecond[kind]).acquire(signal);
  }
}
