import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import {
  brokerCalls,
  schedule,
  currentLeader,
  positionsOf,
  runsOf,
  seedStrategy,
  startTradingCluster,
  waitFor,
  type TradingCluster,
} from './support.js';

describe('PostgreSQL leader election backend', () => {
  let cluster: TradingCluster;
  let strategy: string;
  const user = randomUUID();

  beforeAll(async () => {
    cluster = await startTradingCluster({
      backend: 'postgres',
      env: () => schedule({ selectAt: new Date(0), executeAt: new Date(0) }, 15_000, 3000),
      seed: async (pool) => {
        strategy = await seedStrategy(pool, user, ['000010'], 100_000);
      },
    });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('runs select and execute exactly once with 3 replicas and buys 9 shares', async () => {
    const token = cluster.tokenFor(user, ['user', 'admin']);
    const leader = await waitFor('one leader', () => currentLeader(cluster.trading, token), 20_000);
    assert.equal(leader.view.role, 'leader');
    await waitFor(
      'the execute run to succeed',
      async () => ((await runsOf(cluster.pool, 'execute'))[0]?.status === 'succeeded' ? true : undefined),
      60_000,
    );
    assert.equal((await runsOf(cluster.pool, 'select')).length, 1);
    assert.equal((await runsOf(cluster.pool, 'execute')).length, 1);
    assert.deepEqual(await positionsOf(cluster.pool, strategy), { '000010': 9 });
    assert.deepEqual((await brokerCalls(cluster.pool)).repeatedIds, []);
  });
});
