import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { markRevocationListRestored, testRedisUrl, uniqueKeyPrefix } from '@stocklab/test-support';
import { createRedisClient, DomainError, readOnScrape, RevocationMetrics, RevocationStore } from '../src/index.js';

/** The sample lines of one metric in a scrape (HELP and TYPE left out). */
const samples = (text: string, name: string): string[] =>
  text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));

describe(RevocationMetrics.name, () => {
  let keyPrefix: string;
  let redis: Redis;
  let store: RevocationStore;

  beforeAll(async () => {
    keyPrefix = uniqueKeyPrefix('revocation-metrics');
    redis = createRedisClient({ url: testRedisUrl(), keyPrefix, connectionName: 'test' });
    await new Promise((resolve) => redis.once('ready', resolve));
    store = new RevocationStore(redis, 900);
  });
  afterAll(async () => {
    await redis.del(RevocationStore.restoredKey);
    await redis.quit();
  });

  it('reads 0 while Redis holds no complete list, 1 once it is restored, 0 again after Redis lost it', async () => {
    const registry = new Registry();
    new RevocationMetrics(registry, store);
    // a Redis that has never held the list (or lost it): the guard refuses tokens with 503
    await redis.del(RevocationStore.restoredKey);
    assert.deepEqual(samples(await registry.metrics(), 'revocation_list_restored'), ['revocation_list_restored 0']);

    assert.equal(await store.restore(async () => [], 'replica-a'), true);
    assert.deepEqual(samples(await registry.metrics(), 'revocation_list_restored'), ['revocation_list_restored 1']);

    await redis.del(RevocationStore.restoredKey);
    assert.deepEqual(samples(await registry.metrics(), 'revocation_list_restored'), ['revocation_list_restored 0']);
    await markRevocationListRestored(testRedisUrl(), keyPrefix);
    assert.deepEqual(samples(await registry.metrics(), 'revocation_list_restored'), ['revocation_list_restored 1']);
  });

  it('reads 0 when Redis does not answer, as the guard then refuses tokens too', async () => {
    await markRevocationListRestored(testRedisUrl(), keyPrefix);
    const registry = new Registry();
    new RevocationMetrics(registry, store);
    assert.deepEqual(samples(await registry.metrics(), 'revocation_list_restored'), ['revocation_list_restored 1']);

    const dead = createRedisClient({ url: 'redis://127.0.0.1:1', keyPrefix, connectionName: 'dead' });
    try {
      const cutOff = new RevocationStore(dead, 900);
      const cutOffRegistry = new Registry();
      new RevocationMetrics(cutOffRegistry, cutOff);
      // the scrape still succeeds, and says what the guard does with a token now
      assert.deepEqual(samples(await cutOffRegistry.metrics(), 'revocation_list_restored'), [
        'revocation_list_restored 0',
      ]);
      await assert.rejects(
        cutOff.isRevoked({ jti: 'j', sub: 's', iat: Date.now() / 1000 }),
        (e: unknown) => e instanceof DomainError && e.code === 'REVOCATION_UNAVAILABLE',
      );
    } finally {
      dead.disconnect();
    }
  });
});

describe(readOnScrape.name, () => {
  it('waits at most the timeout for a read that hangs, and starts no second one while it is pending', async () => {
    let reads = 0;
    let finish: (value: number) => void = () => undefined;
    const applied: number[] = [];
    let failures = 0;
    const refresh = readOnScrape(
      () => {
        reads += 1;
        return new Promise<number>((resolve) => {
          finish = resolve;
        });
      },
      (value) => applied.push(value),
      { timeoutMs: 50, onFailure: () => (failures += 1) },
    );
    const started = Date.now();
    await refresh();
    await refresh();
    assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
    assert.equal(reads, 1, 'the pending read is waited for again, not repeated');
    assert.deepEqual(applied, []);
    assert.equal(failures, 2, 'each late scrape is a failure');
    finish(7);
    await refresh();
    assert.deepEqual(applied, [7], 'a late answer is applied when it comes');
    assert.equal(failures, 2);
    await refresh();
    assert.equal(reads, 2, 'once it ended, the next scrape reads again');
  });

  it('never throws, whatever the read, the apply or the fallback throws', async () => {
    const failingRead = readOnScrape(
      () => Promise.reject(new Error('Redis is away')),
      () => assert.fail('nothing to apply'),
    );
    await failingRead();
    const throwingRead = readOnScrape(
      () => {
        throw new Error('thrown before any promise');
      },
      () => assert.fail('nothing to apply'),
    );
    await throwingRead();
    const failingApply = readOnScrape(
      async () => 1,
      () => {
        throw new Error('a bad label');
      },
      {
        onFailure: () => {
          throw new Error('and a bad fallback');
        },
      },
    );
    await failingApply();
  });
});
