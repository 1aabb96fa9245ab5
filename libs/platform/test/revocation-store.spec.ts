import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { markRevocationListRestored, startTcpProxy, testRedisUrl, uniqueKeyPrefix } from '@stocklab/test-support';
import { createRedisClient, DomainError, RevocationStore } from '../src/index.js';

describe(RevocationStore.name, () => {
  let redis: Redis;
  let store: RevocationStore;

  beforeAll(async () => {
    const keyPrefix = uniqueKeyPrefix('revocation');
    // as the auth service leaves it: the (empty) list is complete
    await markRevocationListRestored(testRedisUrl(), keyPrefix);
    redis = createRedisClient({ url: testRedisUrl(), keyPrefix, connectionName: 'test' });
    // the client fails fast instead of queueing, so wait for the connection first
    await new Promise((resolve) => redis.once('ready', resolve));
    store = new RevocationStore(redis, 900);
  });
  afterAll(() => redis.quit());

  const claims = (sub = randomUUID(), iat = Date.now() / 1000) => ({ jti: randomUUID(), sub, iat });

  it('refuses a revoked jti and only that one', async () => {
    const revoked = claims();
    const other = claims(revoked.sub);
    await store.revokeToken(revoked.jti, Date.now() / 1000 + 60);
    assert.equal(await store.isRevoked(revoked), true);
    assert.equal(await store.isRevoked(other), false);
  });

  it('lets the jti marker expire with the token', async () => {
    const c = claims();
    await store.revokeToken(c.jti, Date.now() / 1000 + 1);
    const ttl = await redis.ttl(`revoked:jti:${c.jti}`);
    assert.ok(ttl > 0 && ttl <= 3, `ttl ${ttl}`);
  });

  it('refuses every token issued up to logout-all and accepts later ones, to the millisecond', async () => {
    const sub = randomUUID();
    const before = claims(sub, Date.now() / 1000);
    await sleep(2);
    await store.revokeAllForUser(sub);
    await sleep(2);
    const afterwards = claims(sub, Date.now() / 1000);
    assert.equal(await store.isRevoked(before), true);
    assert.equal(await store.isRevoked(afterwards), false);
    assert.equal(await store.isRevoked(claims()), false, 'other users are untouched');
  });

  it('fails closed with a 503 when Redis cannot answer', async () => {
    const dead = createRedisClient({ url: 'redis://127.0.0.1:1', keyPrefix: 'x:', connectionName: 'dead' });
    try {
      const deadStore = new RevocationStore(dead, 900);
      await assert.rejects(deadStore.isRevoked(claims()), (e: unknown) => e instanceof DomainError && e.status === 503);
    } finally {
      dead.disconnect();
    }
  });

  it('does not answer 503 because this process stalled past the command timeout while Redis answered', async () => {
    const revoked = claims();
    await store.revokeToken(revoked.jti, Date.now() / 1000 + 60);
    // Sent, then the event loop blocked for longer than the client's 1 s timeout (a GC pause, a
    // starved CPU) while the replies arrive. From the check phase (setImmediate) the loop's next
    // turn runs the expired command timers before it reads the socket, as a stall can anywhere.
    const checks = await new Promise<Array<Promise<boolean>>>((resolve) =>
      setImmediate(() => {
        const sent = [store.isRevoked(revoked), store.isRevoked(claims())];
        const until = Date.now() + 1300;
        while (Date.now() < until) {
          // busy: nothing else runs in this process
        }
        resolve(sent);
      }),
    );
    assert.deepEqual(await Promise.all(checks), [true, false]);
  });

  it('still fails closed with a 503 when Redis stops answering on an open connection', async () => {
    const target = new URL(testRedisUrl());
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const keyPrefix = uniqueKeyPrefix('revocation-hang');
    await markRevocationListRestored(testRedisUrl(), keyPrefix);
    const through = createRedisClient({ url: proxy.urlThrough(testRedisUrl()), keyPrefix, connectionName: 'hang' });
    try {
      await new Promise((resolve) => through.once('ready', resolve));
      const hanging = new RevocationStore(through, 900);
      assert.equal(await hanging.isRevoked(claims()), false);
      proxy.cut('hang');
      const started = Date.now();
      await assert.rejects(hanging.isRevoked(claims()), (e: unknown) => e instanceof DomainError && e.status === 503);
      // two command timeouts at most: the check is asked once more, then refuses
      assert.ok(Date.now() - started < 2_900, `${Date.now() - started} ms`);
    } finally {
      through.disconnect();
      await proxy.close();
    }
  });

  it('refuses every token with a 503 once Redis has lost its data, until the list is restored', async () => {
    const revoked = claims();
    const innocent = claims();
    await store.revokeToken(revoked.jti, Date.now() / 1000 + 60);
    const recorded = [RevocationStore.tokenRevocation(revoked.jti, Date.now() / 1000 + 60)];
    // a Redis that restarted empty: the revocation and the "restored" marker are both gone
    await redis.del(`revoked:jti:${revoked.jti}`, RevocationStore.restoredKey);
    assert.equal(await store.isRestored(), false);
    for (const c of [revoked, innocent]) {
      await assert.rejects(store.isRevoked(c), (e: unknown) => e instanceof DomainError && e.status === 503);
    }
    assert.equal(await store.restore(async () => recorded, 'replica-a'), true);
    assert.equal(await store.isRevoked(revoked), true, 'the revoked token is refused again');
    assert.equal(await store.isRevoked(innocent), false);
  });

  it('keeps a revocation written during the restore rather than the older copy it loaded', async () => {
    const user = randomUUID();
    const loaded = store.userRevocation(user, Date.now() - 60_000);
    await redis.del(RevocationStore.restoredKey);
    // a logout-all lands (PostgreSQL, then Redis) after the restore read PostgreSQL
    const restored = await store.restore(async () => {
      await store.revokeAllForUser(user);
      return [loaded];
    }, 'replica-a');
    assert.equal(restored, true);
    const recentToken = { jti: randomUUID(), sub: user, iat: Date.now() / 1000 - 30 };
    assert.equal(await store.isRevoked(recentToken), true, 'the newer logout-all still applies');
  });

  it('lets one replica restore at a time', async () => {
    await redis.del(RevocationStore.restoredKey);
    await redis.set(RevocationStore.restoringLockKey, 'replica-a', 'PX', 5000);
    assert.equal(await store.restore(async () => [], 'replica-b'), false, 'another replica holds the lock');
    assert.equal(await store.isRestored(), false);
    await redis.del(RevocationStore.restoringLockKey);
    assert.equal(await store.restore(async () => [], 'replica-b'), true);
    assert.equal(await redis.exists(RevocationStore.restoringLockKey), 0, 'the lock is released');
  });
});
