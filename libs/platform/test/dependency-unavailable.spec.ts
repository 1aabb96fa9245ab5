import assert from 'node:assert/strict';
import { afterAll, describe, it } from '@jest/globals';
import { adminDatabaseUrl, freePort, testRedisUrl } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import pg from 'pg';
import { isDependencyUnavailable } from '../src/index.js';

/** What `promise` was rejected with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

/**
 * The errors real drivers raise when PostgreSQL or Redis is away or stalled (a 503, and a trading
 * run left waiting for the sweep), against errors of other origin that only look alike.
 */
describe('isDependencyUnavailable', () => {
  const redisConnections: Redis[] = [];

  afterAll(() => {
    for (const redis of redisConnections) {
      redis.disconnect();
    }
  });

  it('recognises a PostgreSQL that refuses connections, and one that ends the session', async () => {
    const url = new URL(adminDatabaseUrl());
    url.port = String(await freePort());
    const refused = new pg.Client({ connectionString: url.toString() });
    assert.equal(isDependencyUnavailable(await rejection(refused.connect())), true);

    const client = new pg.Client({ connectionString: adminDatabaseUrl() });
    client.on('error', () => undefined);
    await client.connect();
    const terminated = await rejection(client.query('SELECT pg_terminate_backend(pg_backend_pid())'));
    assert.equal(isDependencyUnavailable(terminated), true, String(terminated));
    await client.end().catch(() => undefined);
  });

  it('recognises a Redis command its timeout expired on (a stalled Redis)', async () => {
    const stalled = new Redis(testRedisUrl(), { commandTimeout: 1000 });
    redisConnections.push(stalled);
    // its one command is one Redis answers only after 60 s (on this connection alone: the Redis is
    // shared with the other test files), so the first thing that can end it is the 1 s timeout, as
    // on a stalled server, however long a loaded machine takes to connect
    const timedOut = await rejection(stalled.blpop(`dependency-unavailable-spec-${process.pid}`, 60));
    assert.match(String(timedOut), /Command timed out/);
    assert.equal(isDependencyUnavailable(timedOut), true);
  });

  it('does not read a code shaped like a SQLSTATE as an outage unless PostgreSQL sent it', async () => {
    // a broker's detail code, say, that happens to begin with 08
    const foreign = Object.assign(new Error('kt10000: refused [08006]'), { code: '08006' });
    assert.equal(isDependencyUnavailable(foreign), false);
    // PostgreSQL's own: a syntax error is a bug, not an outage
    const client = new pg.Client({ connectionString: adminDatabaseUrl() });
    await client.connect();
    try {
      const bug = await rejection(client.query('SELEC 1'));
      assert.equal(isDependencyUnavailable(bug), false);
    } finally {
      await client.end();
    }
  });
});
