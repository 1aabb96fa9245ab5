import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, it } from '@jest/globals';
import { deleteRedisKeys, testRedisUrl, uniqueKeyPrefix, waitFor } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import {
  consumeAccountEvents,
  createStreamConnection,
  parseAccountEvent,
  publishEvent,
  StreamConsumer,
  type AccountDeleted,
  type AccountEvent,
} from '../src/events/event-stream.js';

const deleted = (userId: string): AccountDeleted => ({
  type: 'account.deleted',
  eventId: randomUUID(),
  userId,
  strategies: 'liquidate',
  deletedAt: new Date().toISOString(),
});

describe('event streams: at least once per consumer group, nothing lost with a consumer', () => {
  const prefix = uniqueKeyPrefix('events');
  const stream = `${prefix}events:test`;
  let publisher: Redis;
  const consumers: StreamConsumer[] = [];

  const consume = (group: string, seen: AccountEvent[], fail = 0, consumer?: string): StreamConsumer => {
    let failures = fail;
    const c = new StreamConsumer({
      redis: createStreamConnection(testRedisUrl(), `test-${group}`),
      stream,
      group,
      ...(consumer ? { consumer } : {}),
      claimIdleMs: 300,
      blockMs: 100,
      handle: async (event) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('handler failed');
        }
        if (event) {
          seen.push(event);
        }
      },
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
    });
    consumers.push(c);
    c.start();
    return c;
  };

  /** Waits until `group` has acknowledged everything it was handed on `key`. */
  const nothingPending = (key: string, group: string): Promise<true> =>
    waitFor(
      `nothing pending for ${group}`,
      async () => {
        const pending = (await publisher.xpending(key, group)) as [number];
        return pending[0] === 0 ? true : undefined;
      },
      5000,
      50,
    );

  beforeAll(() => {
    publisher = new Redis(testRedisUrl(), { keyPrefix: prefix });
  });

  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.stop()));
  });

  afterAll(async () => {
    publisher.disconnect();
    await deleteRedisKeys(testRedisUrl(), prefix);
  });

  it('delivers each event once to every group, events published before the group existed included', async () => {
    const early = deleted('u-early');
    await publishEvent(publisher, 'events:test', early);
    const trading: AccountEvent[] = [];
    const backtest: AccountEvent[] = [];
    consume('trading', trading);
    consume('trading', trading);
    consume('backtest', backtest);
    const late = deleted('u-late');
    await publishEvent(publisher, 'events:test', late);
    await waitFor(
      'both groups to see both events',
      async () => (trading.length >= 2 && backtest.length >= 2 ? true : undefined),
      5000,
      20,
    );
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(trading.map((e) => e.userId).sort(), ['u-early', 'u-late']);
    assert.deepEqual(backtest.map((e) => e.userId).sort(), ['u-early', 'u-late']);
  });

  it('hands an event again after its handler failed, and acknowledges it once handled', async () => {
    const seen: AccountEvent[] = [];
    consume('retrying', seen, 2);
    const event = deleted('u-retry');
    await publishEvent(publisher, 'events:test', event);
    await waitFor(
      'the event after two failures',
      async () => (seen.some((e) => e.eventId === event.eventId) ? true : undefined),
      10_000,
      20,
    );
    await nothingPending('events:test', 'retrying');
  });

  it('reads only well-formed account events; anything else is unknown', () => {
    const event = deleted('u-1');
    assert.deepEqual(parseAccountEvent(JSON.stringify(event)), event);
    for (const junk of [
      undefined,
      '',
      'not json',
      '[]',
      JSON.stringify({ ...event, type: 'account.renamed' }),
      JSON.stringify({ ...event, strategies: 'sell-everything-twice' }),
      JSON.stringify({ ...event, userId: 42 }),
    ]) {
      assert.equal(parseAccountEvent(junk), undefined, String(junk));
    }
  });

  it("gives a service's handler the deletions and skips (acknowledges) events it does not know", async () => {
    const seen: string[] = [];
    const warnings: string[] = [];
    const consumer = consumeAccountEvents({
      config: { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, POD_NAME: 'test' },
      group: 'service',
      logger: { log: () => undefined, warn: (_f, msg) => warnings.push(msg), error: () => undefined },
      onAccountDeleted: async (event) => {
        seen.push(event.userId);
        return {};
      },
    });
    try {
      await publisher.xadd('events:accounts', '*', 'event', JSON.stringify({ type: 'account.renamed' }));
      await publishEvent(publisher, 'events:accounts', deleted('u-known'));
      await waitFor('the deletion handled', async () => (seen.includes('u-known') ? true : undefined), 5000, 20);
      assert.deepEqual(seen, ['u-known']);
      assert.ok(
        warnings.some((w) => w.includes('unknown kind')),
        warnings.join('; '),
      );
      await nothingPending('events:accounts', 'service');
    } finally {
      await consumer.stop();
    }
  });

  it('takes over what a consumer read and never acknowledged (it died)', async () => {
    const group = 'takeover';
    const raw = createStreamConnection(testRedisUrl(), 'dead');
    await raw.call('XGROUP', 'CREATE', stream, group, '$', 'MKSTREAM');
    const event = deleted('u-orphan');
    await publishEvent(publisher, 'events:test', event);
    // "dead" reads the entry and is never heard of again
    const read = (await raw.call(
      'XREADGROUP',
      'GROUP',
      group,
      'dead',
      'COUNT',
      10,
      'STREAMS',
      stream,
      '>',
    )) as unknown[];
    assert.ok(read && read.length === 1);
    raw.disconnect();
    const seen: AccountEvent[] = [];
    consume(group, seen, 0, 'survivor');
    await waitFor(
      'the orphaned event handled by the survivor',
      async () => (seen.some((e) => e.eventId === event.eventId) ? true : undefined),
      10_000,
      20,
    );
  });
});
