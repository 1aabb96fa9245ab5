import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { deleteRedisKeys, startTcpProxy, testRedisUrl, uniqueKeyPrefix, type TcpProxy } from '@stocklab/test-support';
import { Redis, type RedisOptions } from 'ioredis';
import { KiwoomAccountApi } from '../src/account-api.js';
import { KiwoomClient } from '../src/client.js';
import { patiently } from '../src/redis-patience.js';
import { SharedPacer } from '../src/shared-rate-limit.js';
import { SharedToken } from '../src/shared-token.js';
import { KiwoomDouble } from '../src/testing/kiwoom-double.js';

const SECRET = 'secret-key-of-the-test';

/** Blocks this process' event loop, as a starved or paused process would be. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: no timer, no socket is served meanwhile
  }
}

describe('Kiwoom client while Redis does not answer in time (nothing sent yet: tried again)', () => {
  const prefix = uniqueKeyPrefix('kiwoom-patience');
  const connections: Redis[] = [];
  let double: KiwoomDouble;
  let proxy: TcpProxy;

  /** A client failing fast as the platform's do (no offline queue, a short command timeout). */
  const connect = async (url: string, commandTimeout: number): Promise<Redis> => {
    const options: RedisOptions = {
      keyPrefix: prefix,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout,
      retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    };
    const redis = new Redis(url, options);
    redis.on('error', () => undefined);
    connections.push(redis);
    await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    return redis;
  };

  beforeAll(async () => {
    double = await KiwoomDouble.start();
    const target = new URL(testRedisUrl());
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  });

  afterAll(async () => {
    for (const c of connections) {
      c.disconnect();
    }
    await proxy.close();
    await double.close();
    await deleteRedisKeys(testRedisUrl(), prefix);
  });

  it('a pacer admits a call whose first admission timed out while the process was stalled', async () => {
    const redis = await connect(testRedisUrl(), 100);
    const pacer = new SharedPacer(redis, 'stalled-pacer', 4);
    const admitted = pacer.acquire();
    // the admission is sent; its timer expires before the answer can be read
    stall(300);
    assert.equal(typeof (await admitted), 'number');
  });

  it('issues one token, though the answer to taking the issuance lock was lost (the lock is recognised as ours)', async () => {
    const redis = await connect(testRedisUrl(), 100);
    const set = redis.set.bind(redis) as (...args: unknown[]) => Promise<unknown>;
    let lockTakings = 0;
    // the first SET ... NX reaches Redis and takes the lock; its answer times out in a stall
    (redis as unknown as { set: (...args: unknown[]) => Promise<unknown> }).set = (...args: unknown[]) => {
      const sent = set(...args);
      if (args.includes('NX')) {
        lockTakings += 1;
        if (lockTakings === 1) {
          stall(300);
        }
      }
      return sent;
    };
    let issued = 0;
    const token = new SharedToken(redis, `app-key-stalled-${prefix}`, async () => {
      issued += 1;
      return { token: `token-${issued}`, expiresAt: Date.now() + 24 * 3600_000 };
    });
    assert.equal(await token.get(), 'token-1');
    assert.equal(await token.get(), 'token-1');
    assert.equal(issued, 1);
    // taken once, recognised on the second try: not waited out for the lock's 15 seconds
    assert.equal(lockTakings, 2);
  });

  it('places an order once across a Redis connection that hung for longer than a command timeout', async () => {
    const appKey = `app-key-hung-${prefix}`;
    double.addAccount({ appKey, secretKey: SECRET, accountNo: '8100009999', cash: 10_000_000 });
    const redis = await connect(proxy.urlThrough(testRedisUrl()), 1000);
    const api = new KiwoomAccountApi(
      new KiwoomClient({ host: double.url, appKey, secretKey: SECRET, redis, timeoutMs: 3000 }),
    );
    await api.accountNumber();
    proxy.cut('hang');
    const placed = api.placeOrder({ side: 'buy', code: '005930', quantity: 1, type: 'limit', price: 70_000 });
    await sleep(1500);
    proxy.restore();
    assert.match(await placed, /^\d+$/);
    assert.equal(double.ordersOf(appKey).length, 1);
  });

  it('gives up once its patience is spent, with the last error, and at once on an answer of Redis itself', async () => {
    const redis = await connect(testRedisUrl(), 100);
    let attempts = 0;
    await assert.rejects(
      patiently(async () => {
        attempts += 1;
        throw new Error(`Command timed out (${attempts})`);
      }, 400),
      /Command timed out/,
    );
    assert.ok(attempts > 1, `tried ${attempts} times`);
    let scripted = 0;
    await assert.rejects(
      patiently(() => {
        scripted += 1;
        return redis.eval(`return redis.error_reply('WRONG something')`, 0);
      }),
      /WRONG something/,
    );
    assert.equal(scripted, 1);
  });
});
