import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { createRedisClient, HttpMetrics } from '@stocklab/platform';
import { freePort, testRedisUrl, uniqueKeyPrefix } from '@stocklab/test-support';
import type { Redis } from 'ioredis';
import type { BacktestConfig } from '../config.js';
import { StrategyCache, type CachedStrategy } from './strategy-cache.js';

const config = { STRATEGY_CACHE_TTL_SECONDS: 60 } as BacktestConfig;

function newStrategy(version: number, id = randomUUID()): CachedStrategy {
  const at = new Date().toISOString();
  return {
    id,
    ownerId: randomUUID(),
    name: `v${version}`,
    description: '',
    definition: {
      schemaVersion: 1,
      universe: { scope: 'all' },
      ranking: { factor: 'per', order: 'asc' },
      maxPositions: 5,
      weighting: { method: 'equal' },
      rebalance: 'monthly',
      costs: { commissionBps: 0, sellTaxBps: 0, slippageBps: 0 },
      initialCapital: 1_000_000,
    },
    schemaVersion: 1,
    version,
    createdAt: at,
    updatedAt: at,
  };
}

async function sampleValue(metrics: HttpMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const sample = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return sample?.value ?? 0;
}

describe(StrategyCache.name, () => {
  let redis: Redis;
  let prefix: string;

  beforeAll(async () => {
    prefix = uniqueKeyPrefix('strategy-cache');
    redis = createRedisClient({ url: testRedisUrl(), keyPrefix: prefix, connectionName: 'strategy-cache-spec' });
    // the platform's client fails fast instead of queueing: wait until it is connected
    await new Promise((resolve) => redis.once('ready', resolve));
  });
  afterAll(async () => {
    try {
      // KEYS takes the pattern as is and answers full names; DEL adds the prefix again
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) {
        await redis.del(...keys.map((key) => key.slice(prefix.length)));
      }
    } finally {
      redis.disconnect();
    }
  });

  it('reads what a replica offered, and counts hits and misses', async () => {
    const metrics = new HttpMetrics({ service: 'test', pod: 'p' });
    const cache = new StrategyCache(redis, config, metrics);
    const strategy = newStrategy(1);
    assert.deepEqual(await cache.get(strategy.id), { kind: 'miss' });
    await cache.offer(strategy);
    assert.deepEqual(await new StrategyCache(redis, config, metrics).get(strategy.id), { kind: 'hit', strategy });
    assert.equal(await sampleValue(metrics, 'strategy_cache_requests_total', { result: 'hit' }), 1);
    assert.equal(await sampleValue(metrics, 'strategy_cache_requests_total', { result: 'miss' }), 1);
    const ttl = await redis.ttl(`strategy:${strategy.id}`);
    assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
  });

  it('never lets a reader put back a version older than an invalidation', async () => {
    const cache = new StrategyCache(redis, config, new HttpMetrics({ service: 'test', pod: 'p' }));
    const v1 = newStrategy(1);
    const v2 = { ...v1, name: 'v2', version: 2 };
    await cache.offer(v1);
    // an update to version 2 commits and invalidates; a reader that loaded version 1 before it arrives late
    await cache.invalidate(v1.id, 2);
    await cache.offer(v1);
    assert.deepEqual(await cache.get(v1.id), { kind: 'miss' });
    await cache.offer(v2);
    assert.deepEqual(await cache.get(v1.id), { kind: 'hit', strategy: v2 });
    // an invalidation for a version the cache already holds (or an older one) changes nothing
    await cache.invalidate(v1.id, 2);
    await cache.offer(v1);
    assert.deepEqual(await cache.get(v1.id), { kind: 'hit', strategy: v2 });
  });

  it('keeps a deleted strategy deleted whatever a slow reader offers', async () => {
    const cache = new StrategyCache(redis, config, new HttpMetrics({ service: 'test', pod: 'p' }));
    const strategy = newStrategy(3);
    await cache.offer(strategy);
    await cache.markDeleted(strategy.id);
    await cache.offer({ ...strategy, version: 4 });
    assert.deepEqual(await cache.get(strategy.id), { kind: 'deleted' });
  });

  it('fails soft when Redis is unreachable: a miss, writes skipped, errors counted', async () => {
    const down = createRedisClient({
      url: `redis://127.0.0.1:${await freePort()}`,
      keyPrefix: prefix,
      connectionName: 'strategy-cache-spec-down',
    });
    try {
      const metrics = new HttpMetrics({ service: 'test', pod: 'p' });
      const cache = new StrategyCache(down, config, metrics);
      const strategy = newStrategy(1);
      assert.deepEqual(await cache.get(strategy.id), { kind: 'miss' });
      await cache.offer(strategy);
      await cache.invalidate(strategy.id, 2);
      await cache.markDeleted(strategy.id);
      for (const operation of ['get', 'offer', 'invalidate', 'delete']) {
        assert.equal(await sampleValue(metrics, 'strategy_cache_errors_total', { operation }), 1, operation);
      }
    } finally {
      down.disconnect();
    }
  });
});
