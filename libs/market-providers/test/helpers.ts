import assert from 'node:assert/strict';
import { deleteRedisKeys, testRedisUrl, uniqueKeyPrefix } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import type { RetryPolicy } from '../src/retry.js';

/** Retries as in production, only quicker: 4 attempts, back-off ceilings 20, 40, 80 ms. */
export const FAST_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 20, maxDelayMs: 200 };

/** What `promise` was rejected with, checked to be an instance of `type`. */
export async function refusal<E extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof type, `expected a ${type.name}, got ${String(error)}`);
  return error;
}

/** Redis connections under one throwaway key prefix ("replicas" each get their own connection). */
export class TestRedis {
  readonly prefix: string;
  private readonly connections: Redis[] = [];

  constructor(label: string) {
    this.prefix = uniqueKeyPrefix(label);
  }

  connection(): Redis {
    const redis = new Redis(testRedisUrl(), { keyPrefix: this.prefix });
    this.connections.push(redis);
    return redis;
  }

  async close(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
    await deleteRedisKeys(testRedisUrl(), this.prefix);
  }
}
