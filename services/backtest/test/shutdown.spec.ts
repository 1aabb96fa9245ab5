import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from '@jest/globals';
import { waitFor } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import { startInProcessBacktest } from './support.js';

/** The names of the Redis connections open now whose name carries `pod` (each names its pod). */
async function connectionsOf(redis: Redis, pod: string): Promise<string[]> {
  const list = (await redis.client('LIST')) as string;
  return [...list.matchAll(/ name=(\S*)/g)].map((m) => m[1]).filter((name) => name.includes(pod));
}

/**
 * Closing the application (what a SIGTERM ends with) closes every Redis connection it opened.
 * BullMQ closes only the connections it opens itself, not the one each queue worker is given, and
 * those kept an in-process application's Jest worker alive after its tests.
 */
describe('closing the backtest application', () => {
  it("closes every Redis connection it opened, its queue workers' included", async () => {
    const pod = `shutdown-${randomUUID().slice(0, 8)}`;
    const svc = await startInProcessBacktest({ POD_NAME: pod, BACKTEST_CONCURRENCY: '1' });
    const redis = new Redis(svc.env.REDIS_URL ?? '', { maxRetriesPerRequest: 1 });
    try {
      const open = await connectionsOf(redis, pod);
      // the check sees them: each queue's worker has its connection while the application runs
      assert.ok(open.filter((name) => name.startsWith('worker:')).length >= 2, JSON.stringify(open));

      await svc.close();
      // the server notes a closed connection as soon as its socket's end arrives; past the wait,
      // the assertion names the ones left
      const left = await waitFor(
        "the application's Redis connections to close",
        async () => ((await connectionsOf(redis, pod)).length === 0 ? [] : undefined),
        5000,
        50,
      ).catch(() => connectionsOf(redis, pod));
      assert.deepEqual(left, []);
    } finally {
      redis.disconnect();
    }
  });
});
