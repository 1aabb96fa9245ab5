import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { publishEvent, type AccountDeleted } from '@stocklab/platform';
import { Redis } from 'ioredis';
import {
  AS_OF,
  activateStrategy,
  markTrading,
  positionsOf,
  seedPosition,
  seedStrategy,
  startInProcessTrading,
  triggerRun,
  waitFor,
  type InProcessTrading,
} from './support.js';

const deleted = (userId: string, strategies: 'liquidate' | 'stop'): AccountDeleted => ({
  type: 'account.deleted',
  eventId: `auth-outbox-${randomUUID()}`,
  userId,
  strategies,
  deletedAt: new Date().toISOString(),
});

/**
 * A deleted account stops trading: the account.deleted event (published by auth's outbox) closes
 * the trading account and winds its strategies down as the user chose, whichever replica takes
 * it, however often it comes; the 09:00 run then sells instead of buying.
 */
describe('account deletion in trading (the account event stream, in-process)', () => {
  let cluster: InProcessTrading;
  let redis: Redis;
  const liquidating = randomUUID();
  const stopping = randomUUID();
  const neverTraded = randomUUID();
  const ids: Record<string, string> = {};

  const statusOf = async (id: string): Promise<{ status: string; cash: string }> => {
    const { rows } = await cluster.pool.query<{ status: string; cash: string }>(
      `SELECT status, cash::text FROM trading.auto_strategies WHERE id = $1`,
      [id],
    );
    return rows[0];
  };
  const closed = async (userId: string): Promise<true | undefined> => {
    const { rows } = await cluster.pool.query(
      `SELECT 1 FROM trading.accounts WHERE user_id = $1 AND closed_at IS NOT NULL`,
      [userId],
    );
    return rows.length === 1 ? true : undefined;
  };

  beforeAll(async () => {
    cluster = await startInProcessTrading({
      seed: async (pool) => {
        for (const user of [liquidating, stopping]) {
          ids[`${user}:holding`] = await seedStrategy(pool, user, ['000010'], 50_000_000);
          await seedPosition(pool, ids[`${user}:holding`], {
            code: '000010',
            quantity: 100,
            entryPrice: 10_000,
            entryDate: '2026-03-05',
          });
          await markTrading(pool, ids[`${user}:holding`], '2026-03-06');
          ids[`${user}:cash`] = await seedStrategy(pool, user, ['000020'], 1_000_000);
          // a linked broker account (what is sealed does not matter here: it must go)
          await pool.query(
            `INSERT INTO trading.broker_accounts (owner_id, broker, account_no, app_key_id, credentials, kek_id, verified_at)
             VALUES ($1, 'kiwoom-mock', '8100000001', 'app', '{}', 'k1', now())`,
            [user],
          );
        }
      },
    });
    redis = new Redis(cluster.env.REDIS_URL, { keyPrefix: cluster.env.REDIS_KEY_PREFIX });
  });

  afterAll(async () => {
    redis?.disconnect();
    await cluster?.close();
  });

  it('liquidate (the default): holdings sold at the next execute, the rest stopped, the account closed', async () => {
    const event = deleted(liquidating, 'liquidate');
    await publishEvent(redis, 'events:accounts', event);
    await waitFor('the account closed', () => closed(liquidating), 10_000, 50);
    assert.equal((await statusOf(ids[`${liquidating}:holding`])).status, 'liquidating');
    assert.deepEqual(await statusOf(ids[`${liquidating}:cash`]), { status: 'inactive', cash: '0' });
    const linked = await cluster.pool.query(`SELECT 1 FROM trading.broker_accounts WHERE owner_id = $1`, [liquidating]);
    assert.equal(linked.rowCount, 0, 'the linked broker credentials are erased');

    // the same event again (at least once): nothing more happens
    await publishEvent(redis, 'events:accounts', event);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { rows } = await cluster.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM trading.strategy_logs WHERE auto_strategy_id = $1 AND message LIKE 'the account was deleted%'`,
      [ids[`${liquidating}:holding`]],
    );
    assert.equal(rows[0]?.n, '1');
  });

  it('stop: every strategy stopped at once, positions kept', async () => {
    await publishEvent(redis, 'events:accounts', deleted(stopping, 'stop'));
    await waitFor('the account closed', () => closed(stopping), 10_000, 50);
    for (const key of ['holding', 'cash']) {
      assert.equal((await statusOf(ids[`${stopping}:${key}`])).status, 'inactive');
    }
    assert.deepEqual(await positionsOf(cluster.pool, ids[`${stopping}:holding`]), { '000010': 100 });
  });

  it('refuses an activation on a closed account with 409 ACCOUNT_CLOSED, one that never traded included', async () => {
    await publishEvent(redis, 'events:accounts', deleted(neverTraded, 'liquidate'));
    await waitFor('the account closed', () => closed(neverTraded), 10_000, 50);
    for (const user of [liquidating, neverTraded]) {
      const attempt = await activateStrategy(cluster, cluster.tokenFor(user), ['000030'], 1_000_000).then(
        () => 'activated',
        (error: unknown) => String(error),
      );
      assert.match(attempt, /activation failed: 409 .*ACCOUNT_CLOSED/);
    }
  });

  it('the next execute sells the deleted account’s holdings and buys nothing for it', async () => {
    const admin = cluster.tokenFor(randomUUID(), ['user', 'admin']);
    for (const job of ['select', 'execute'] as const) {
      const run = await triggerRun(cluster, admin, job, AS_OF);
      assert.equal(run.status, 201, JSON.stringify(run.body));
    }
    const { rows } = await cluster.pool.query<{ auto_strategy_id: string; side: string; reason: string }>(
      `SELECT auto_strategy_id, side, reason FROM trading.order_intents WHERE auto_strategy_id = ANY($1::uuid[])`,
      [
        [
          ids[`${liquidating}:holding`],
          ids[`${liquidating}:cash`],
          ids[`${stopping}:holding`],
          ids[`${stopping}:cash`],
        ],
      ],
    );
    assert.deepEqual(
      rows.map((r) => [r.auto_strategy_id, r.side, r.reason]),
      [[ids[`${liquidating}:holding`], 'sell', 'liquidation']],
    );
    assert.deepEqual(await positionsOf(cluster.pool, ids[`${liquidating}:holding`]), {});
    assert.equal((await statusOf(ids[`${liquidating}:holding`])).status, 'inactive');
  });
});
