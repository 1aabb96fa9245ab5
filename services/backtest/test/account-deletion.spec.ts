import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { publishEvent } from '@stocklab/platform';
import { definition as testDefinition, waitFor } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import { generateDemoMarket } from '../src/cli/demo-data.js';
import { importDataset, startInProcessBacktest, type InProcessBacktest } from './support.js';

// the demo market's codes are its own: the whole universe, ranked by momentum
const definition = testDefinition([], 3, {
  universe: { scope: 'all' },
  ranking: { factor: 'mom_3m', order: 'desc' },
  rebalance: 'monthly',
});

/**
 * A deleted account's queued backtests do not run: the account.deleted event (auth's outbox,
 * the account event stream) cancels them, and only them. No worker runs here, so what is queued
 * stays queued until the event says otherwise.
 */
describe('account deletion in backtest (the account event stream, in-process)', () => {
  let svc: InProcessBacktest;
  let redis: Redis;

  beforeAll(async () => {
    svc = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '0' });
    const admin = await svc.tokenFor(randomUUID(), ['user', 'admin']);
    const market = generateDemoMarket({ stocks: 4, years: 1, seed: 5, startYear: 2021 });
    await importDataset(svc.url, admin, 'securities', market.securities);
    await importDataset(svc.url, admin, 'bars', market.bars);
    redis = new Redis(svc.env.REDIS_URL, { keyPrefix: svc.env.REDIS_KEY_PREFIX });
  });

  afterAll(async () => {
    redis?.disconnect();
    await svc?.close();
  });

  it('cancels every queued backtest of the deleted account and none of anyone else', async () => {
    const gone = randomUUID();
    const other = randomUUID();
    const submit = async (userId: string): Promise<string> => {
      const res = await svc
        .http()
        .post('/api/backtest/backtests')
        .set({ authorization: `Bearer ${await svc.tokenFor(userId)}` })
        .send({ definition, from: '2021-03-01', to: '2021-12-31' })
        .expect((r) => assert.equal(r.status, 202, JSON.stringify(r.body)));
      return res.body.id as string;
    };
    const doomed = [await submit(gone), await submit(gone)];
    const kept = await submit(other);
    await publishEvent(redis, 'events:accounts', {
      type: 'account.deleted',
      eventId: `auth-outbox-${randomUUID()}`,
      userId: gone,
      strategies: 'liquidate',
      deletedAt: new Date().toISOString(),
    });
    const statuses = async (): Promise<Record<string, string>> => {
      const read = await Promise.all(
        [...doomed, kept].map(async (id, k) => {
          const owner = k < doomed.length ? gone : other;
          const res = await svc
            .http()
            .get(`/api/backtest/backtests/${id}`)
            .set({ authorization: `Bearer ${await svc.tokenFor(owner)}` })
            .expect(200);
          return [id, res.body.status as string] as const;
        }),
      );
      return Object.fromEntries(read);
    };
    const after = await waitFor(
      'the deleted account’s backtests cancelled',
      async () => {
        const now = await statuses();
        return doomed.every((id) => now[id] === 'cancelled') ? now : undefined;
      },
      10_000,
      50,
    );
    assert.equal(after[kept], 'queued');
  });
});
