import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  createTestDatabase,
  deleteRedisKeys,
  msUntilAwayFromSeoulMidnight,
  prng,
  testRedisUrl,
  uniqueKeyPrefix,
  waitFor,
} from '../src/index.js';

describe('test support', () => {
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(testRedisUrl(), { lazyConnect: true });
    await redis.connect();
  });
  afterAll(() => redis.quit());

  it('waitFor returns the first defined value, and names what it waited for when time runs out', async () => {
    let calls = 0;
    assert.equal(await waitFor('the third call', async () => (++calls === 3 ? 'done' : undefined), 5_000, 1), 'done');
    await assert.rejects(
      waitFor('something that never comes', async () => undefined, 50, 10),
      /timed out after 50 ms waiting for something that never comes/,
    );
  });

  it('msUntilAwayFromSeoulMidnight waits out the minutes around midnight in Seoul, and only those', () => {
    // 00:00 in Seoul is 15:00 UTC the day before
    const seoul = (hhmmss: string): number => Date.parse(`2026-03-11T${hhmmss}Z`) - 9 * 3600_000 + 24 * 3600_000;
    const wait = (at: string): number => msUntilAwayFromSeoulMidnight(seoul(at), 100_000, 300_000);
    assert.equal(wait('12:00:00'), 0);
    assert.equal(wait('23:54:59'), 0);
    assert.equal(wait('00:01:40'), 0);
    assert.equal(wait('00:00:30'), 70_000);
    assert.equal(wait('23:56:00'), 240_000 + 100_000);
  });

  it('deleteRedisKeys removes a test prefix’s keys and never touches keys outside a test prefix', async () => {
    const prefix = uniqueKeyPrefix('support');
    const outside = `stocklab:${prefix}keep`;
    await redis.set(`${prefix}a`, '1');
    await redis.set(`${prefix}b`, '2');
    await redis.set(outside, '3');
    try {
      await deleteRedisKeys(testRedisUrl(), prefix);
      assert.equal(await redis.exists(`${prefix}a`, `${prefix}b`), 0);
      await deleteRedisKeys(testRedisUrl(), 'stocklab:');
      assert.equal(await redis.get(outside), '3', 'a prefix not made by uniqueKeyPrefix is refused');
    } finally {
      await redis.del(outside);
    }
  });

  it('createTestDatabase gives an empty database of its own, and drop removes it', async () => {
    const db = await createTestDatabase('stocklab_support');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ name: string }>('SELECT current_database() AS name');
    await client.end();
    assert.equal(rows[0]?.name, db.name);
    await db.drop();
    const admin = new pg.Client({ connectionString: db.url.replace(db.name, 'postgres') });
    await admin.connect();
    try {
      const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
      assert.equal(left.rowCount, 0);
    } finally {
      await admin.end();
    }
  });

  it('prng gives the same sequence for a seed and another for another seed', () => {
    const take = (seed: number) => Array.from({ length: 5 }, prng(seed));
    assert.deepEqual(take(7), take(7));
    assert.notDeepEqual(take(7), take(8));
    assert.ok(take(7).every((x) => x >= 0 && x < 1));
  });
});
