import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { request } from '@stocklab/test-support';
import { DataSource } from 'typeorm';
import { FencingError, FencingService } from '../src/fencing/fencing.service.js';
import type { TradingMetrics } from '../src/metrics/trading-metrics.js';
import {
  AS_OF,
  activateStrategy,
  brokerCalls,
  currentLeader,
  definition,
  positionsOf,
  runsOf,
  schedule,
  schedulerOf,
  seedStrategy,
  startTradingCluster,
  waitFor,
  type Schedule,
  type TradingCluster,
} from './support.js';

/** What a replica logged about its Lease (why it did not release it, when it did not). */
function leaseLines(logs: string): string {
  return logs
    .split('\n')
    .filter((line) => /lease|leader/i.test(line))
    .slice(-5)
    .join(' | ');
}

describe('trading service: 3 replicas, Lease election through the test double', () => {
  let cluster: TradingCluster;
  let seeded: string;
  const user = randomUUID();
  const admin = randomUUID();
  let userToken: string;
  let adminToken: string;
  const at: Schedule = { selectAt: new Date(0), executeAt: new Date(0) };

  beforeAll(async () => {
    cluster = await startTradingCluster({
      env: () => ({ ...schedule(at, 15_000, 4000), TRADING_MAX_ACTIVE_STRATEGIES: '3' }),
      seed: async (pool) => {
        seeded = await seedStrategy(pool, user, ['000010'], 100_000);
      },
    });
    userToken = cluster.tokenFor(user);
    adminToken = cluster.tokenFor(admin, ['user', 'admin']);
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('runs select and execute exactly once at the scheduled instants and buys the 9 shares the engine sizes', async () => {
    await waitFor(
      'the execute run to succeed',
      async () => ((await runsOf(cluster.pool, 'execute'))[0]?.status === 'succeeded' ? true : undefined),
      60_000,
    );
    const selects = await runsOf(cluster.pool, 'select');
    const executes = await runsOf(cluster.pool, 'execute');
    assert.equal(selects.length, 1);
    assert.equal(executes.length, 1);
    // exactly once at the scheduled instant; the leader's cron normally fires it, its catch-up
    // sweep when the cron tick came late (a loaded machine): both are the scheduler, and correct
    assert.ok(['cron', 'catch-up'].includes(selects[0]?.trigger ?? ''), selects[0]?.trigger);
    assert.ok(['cron', 'catch-up'].includes(executes[0]?.trigger ?? ''), executes[0]?.trigger);
    assert.equal(selects[0]?.scheduled_at.getTime(), at.selectAt.getTime());
    assert.equal(executes[0]?.scheduled_at.getTime(), at.executeAt.getTime());
    assert.equal(selects[0]?.trading_date, AS_OF);
    // 100,000 KRW at a limit of 10,500 (the close + 5 %): 9 shares, filled at the open, 10,000
    assert.deepEqual(await positionsOf(cluster.pool, seeded), { '000010': 9 });
    const calls = await brokerCalls(cluster.pool);
    assert.deepEqual(calls.repeatedIds, []);
    assert.equal(calls.orders, 1);
    const orders = await request('GET', `${cluster.trading.at(1).url}/api/trading/auto-strategies/${seeded}/orders`, {
      token: userToken,
    });
    assert.equal(orders.status, 200);
    assert.equal(orders.body[0].fillPriceSource, 'open');
    const perf = await request(
      'GET',
      `${cluster.trading.at(2).url}/api/trading/auto-strategies/${seeded}/performance`,
      {
        token: userToken,
      },
    );
    // dated by the close it values: the decision on 2026-03-09's close, still all cash
    assert.deepEqual(perf.body, [{ date: '2026-03-09', value: 100_000, cash: 100_000, invested: 0 }]);
  });

  it('makes one run of an occurrence triggered 5 times at once on different replicas', async () => {
    const results = await Promise.all(
      [0, 1, 2, 0, 1].map((i) =>
        request('POST', `${cluster.trading.at(i).url}/api/trading/jobs/select/runs`, {
          token: adminToken,
          body: { date: '2026-03-11' },
        }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status).filter((s) => s === 201),
      [201],
    );
    assert.ok(results.every((r) => r.status === 200 || r.status === 201));
    assert.equal(new Set(results.map((r) => String(r.body.id))).size, 1);
    const runs = (await runsOf(cluster.pool, 'select')).filter((r) => r.trading_date === '2026-03-11');
    assert.equal(runs.length, 1);
    const again = await request('POST', `${cluster.trading.at(2).url}/api/trading/jobs/select/runs`, {
      token: adminToken,
      body: { date: '2026-03-11' },
    });
    assert.equal(again.status, 200);
    assert.equal(again.body.status, 'succeeded');
  });

  it('does not run on a holiday or a weekend, and only admins may trigger', async () => {
    for (const date of ['2026-03-02', '2026-03-07']) {
      const res = await request('POST', `${cluster.trading.at(0).url}/api/trading/jobs/execute/runs`, {
        token: adminToken,
        body: { date },
      });
      assert.equal(res.status, 409);
      assert.equal(res.body.code, 'NOT_A_TRADING_DAY');
    }
    const rows = await cluster.pool.query(
      `SELECT 1 FROM trading.job_runs WHERE trading_date IN ('2026-03-02', '2026-03-07')`,
    );
    assert.equal(rows.rowCount, 0);
    const forbidden = await request('POST', `${cluster.trading.at(0).url}/api/trading/jobs/execute/runs`, {
      token: userToken,
      body: {},
    });
    assert.equal(forbidden.status, 403);
    const badJob = await request('POST', `${cluster.trading.at(0).url}/api/trading/jobs/rebalance/runs`, {
      token: adminToken,
      body: {},
    });
    assert.equal(badJob.status, 400);
  });

  it('refuses a holiday added through one replica on every other one at once, and forgets it once removed', async () => {
    const date = '2026-03-13';
    const put = await request('PUT', `${cluster.trading.at(0).url}/api/trading/calendar/holidays/${date}`, {
      token: adminToken,
      body: { name: 'Exchange closure' },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    for (const replica of [1, 2]) {
      const refused = await request('POST', `${cluster.trading.at(replica).url}/api/trading/jobs/execute/runs`, {
        token: adminToken,
        body: { date },
      });
      assert.equal(refused.status, 409, `replica ${replica}`);
      assert.equal(refused.body.code, 'NOT_A_TRADING_DAY');
    }
    const removed = await request('DELETE', `${cluster.trading.at(2).url}/api/trading/calendar/holidays/${date}`, {
      token: adminToken,
    });
    assert.equal(removed.status, 204);
    const listed = await request<Array<{ date: string }>>(
      'GET',
      `${cluster.trading.at(1).url}/api/trading/calendar/holidays?year=2026`,
      { token: userToken },
    );
    assert.equal(listed.status, 200);
    assert.ok(!listed.body.some((h) => h.date === date), 'the removed holiday is gone on another replica');
  });

  it('activates once, allocating the capital once, when the request is retried with its Idempotency-Key', async () => {
    const owner = randomUUID();
    const token = cluster.tokenFor(owner);
    const research = await request('POST', `${cluster.backtest.at(0).url}/api/backtest/strategies`, {
      token,
      body: { name: 'retried activation', definition: definition(['000030']) },
    });
    assert.equal(research.status, 201);
    const body = { strategyId: research.body.id, allocatedCapital: 2_000_000 };
    const headers = { 'idempotency-key': randomUUID() };
    // the same activation sent to the three replicas at once (a client retrying after timeouts)
    const attempts = await Promise.all(
      [0, 1, 2].map((i) =>
        request('POST', `${cluster.trading.at(i).url}/api/trading/auto-strategies`, { token, body, headers }),
      ),
    );
    assert.deepEqual(
      attempts.map((r) => r.status),
      [201, 201, 201],
      attempts.map((r) => JSON.stringify(r.body)).join(' '),
    );
    assert.equal(new Set(attempts.map((r) => String(r.body.id))).size, 1, 'one strategy for every attempt');
    assert.equal(attempts.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 2);
    const listed = await request('GET', `${cluster.trading.at(0).url}/api/trading/auto-strategies`, { token });
    assert.equal(listed.body.length, 1);
    const portfolio = await request('GET', `${cluster.trading.at(1).url}/api/trading/portfolio`, { token });
    assert.equal(portfolio.status, 200);
    const account = await cluster.pool.query<{ cash: string; initial_cash: string }>(
      `SELECT cash, initial_cash FROM trading.accounts WHERE user_id = $1`,
      [owner],
    );
    assert.equal(
      Number(account.rows[0]?.initial_cash) - Number(account.rows[0]?.cash),
      2_000_000,
      'the capital left the account once',
    );

    const reused = await request('POST', `${cluster.trading.at(2).url}/api/trading/auto-strategies`, {
      token,
      headers,
      body: { ...body, allocatedCapital: 3_000_000 },
    });
    assert.equal(reused.status, 422);
    assert.equal(reused.body.code, 'IDEMPOTENCY_KEY_REUSED');
    const bad = await request('POST', `${cluster.trading.at(0).url}/api/trading/auto-strategies`, {
      token,
      headers: { 'idempotency-key': 'two words' },
      body,
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'INVALID_IDEMPOTENCY_KEY');
  });

  it('caps active strategies per user under parallel activations on 3 replicas, and refuses a too small allocation', async () => {
    const owner = randomUUID();
    const ownerToken = cluster.tokenFor(owner);
    const research = await request('POST', `${cluster.backtest.at(0).url}/api/backtest/strategies`, {
      token: ownerToken,
      body: { name: 'capped', definition: definition(['000030']) },
    });
    assert.equal(research.status, 201, JSON.stringify(research.body));
    const tiny = await request('POST', `${cluster.trading.at(0).url}/api/trading/auto-strategies`, {
      token: ownerToken,
      body: { strategyId: research.body.id, allocatedCapital: 99_999 },
    });
    assert.equal(tiny.status, 422);
    assert.equal(tiny.body.code, 'ALLOCATION_TOO_SMALL');
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        request('POST', `${cluster.trading.at(i % 3).url}/api/trading/auto-strategies`, {
          token: ownerToken,
          body: { strategyId: research.body.id, allocatedCapital: 1_000_000 },
        }),
      ),
    );
    assert.deepEqual(answers.map((a) => (a.status === 201 ? 201 : `${a.status} ${a.body.code}`)).sort(), [
      201,
      201,
      201,
      '409 TOO_MANY_ACTIVE_STRATEGIES',
      '409 TOO_MANY_ACTIVE_STRATEGIES',
      '409 TOO_MANY_ACTIVE_STRATEGIES',
    ]);
    const account = await cluster.pool.query<{ cash: string }>(`SELECT cash FROM trading.accounts WHERE user_id = $1`, [
      owner,
    ]);
    assert.equal(Number(account.rows[0]?.cash), 100_000_000 - 3 * 1_000_000, 'capital moved for the 3 only');
  });

  it('activates a strategy from the backtest service and answers bad requests with clear 4xx', async () => {
    const owner = randomUUID();
    const ownerToken = cluster.tokenFor(owner);
    const activated = await activateStrategy(cluster, ownerToken, ['000020'], 1_000_000, 1);
    const detail = await request('GET', `${cluster.trading.at(2).url}/api/trading/auto-strategies/${activated.id}`, {
      token: ownerToken,
    });
    assert.equal(detail.status, 200);
    assert.equal(detail.body.status, 'active');
    assert.equal(detail.body.cash, 1_000_000);
    // another user's strategy id: the backtest service does not show it to this caller
    const stranger = cluster.tokenFor(randomUUID());
    const theft = await request('POST', `${cluster.trading.at(0).url}/api/trading/auto-strategies`, {
      token: stranger,
      body: { strategyId: activated.strategyId, allocatedCapital: 1000 },
    });
    assert.equal(theft.status, 404);
    assert.equal(theft.body.code, 'STRATEGY_NOT_FOUND');
    const tooMuch = await request('POST', `${cluster.trading.at(0).url}/api/trading/auto-strategies`, {
      token: ownerToken,
      body: { strategyId: activated.strategyId, allocatedCapital: 500_000_000 },
    });
    assert.equal(tooMuch.status, 409);
    assert.equal(tooMuch.body.code, 'INSUFFICIENT_CASH');
    for (const body of [
      {},
      { strategyId: 'nope', allocatedCapital: 1 },
      { strategyId: activated.strategyId, allocatedCapital: -5 },
    ]) {
      const res = await request('POST', `${cluster.trading.at(0).url}/api/trading/auto-strategies`, {
        token: ownerToken,
        body,
      });
      assert.equal(res.status, 400);
    }
    const malformed = await request('POST', `${cluster.trading.at(0).url}/api/trading/auto-strategies`, {
      token: ownerToken,
      rawBody: '{"strategyId":',
    });
    assert.equal(malformed.status, 400);
    const others = await request('GET', `${cluster.trading.at(0).url}/api/trading/auto-strategies/${activated.id}`, {
      token: stranger,
    });
    assert.equal(others.status, 404);
    const off = await request(
      'POST',
      `${cluster.trading.at(0).url}/api/trading/auto-strategies/${activated.id}/deactivate`,
      {
        token: ownerToken,
        body: { mode: 'immediate' },
      },
    );
    assert.equal(off.status, 201);
    assert.equal(off.body.status, 'inactive');
    const portfolio = await request('GET', `${cluster.trading.at(1).url}/api/trading/portfolio`, { token: ownerToken });
    assert.equal(portfolio.status, 200);
    assert.equal(portfolio.body.cash, 100_000_000);
    assert.equal(portfolio.body.pnl, 0);
  });

  it('hands over when the leader is stopped with SIGTERM: it exits cleanly, another replica leads with a newer epoch', async () => {
    const leader = await waitFor('a leader', () => currentLeader(cluster.trading, adminToken), 20_000);
    const signalled = performance.now();
    leader.replica.signal('SIGTERM');
    const next = await waitFor(
      'a new leader',
      () => currentLeader(cluster.trading, adminToken, leader.replica),
      20_000,
      50,
    );
    assert.notEqual(next.replica, leader.replica);
    // the terms' own epochs (the current one is the same in both views if the leadership moved
    // before the signal)
    assert.ok(Number(next.view.ownEpoch) > Number(leader.view.ownEpoch));
    assert.equal((await leader.replica.exited()).code, 0, 'the stopped leader shut down gracefully');
    // Normally the stopping leader releases the Lease (holder "") and a follower takes it within
    // a RetryPeriod; the release is best effort (a leader starved past its RenewDeadline is no
    // longer the holder to release it), and then the Lease expires instead. Either is correct:
    // the fencing epoch, not the release, keeps the two apart. The speed is the hand-over
    // benchmark's to measure.
    // (the double runs in this process: its writes are stamped with this performance.now())
    const released = (cluster.double?.writes ?? []).some((w) => w.at >= signalled && w.holderIdentity === '');
    const how = released ? 'released' : `expired; the old leader said: ${leaseLines(leader.replica.logs())}`;
    process.stdout.write(`hand-over after SIGTERM: ${Math.round(performance.now() - signalled)} ms (${how})\n`);
  });

  it('a partitioned leader steps down, another leads with a newer epoch, and the old epoch is rejected', async () => {
    const leader = await waitFor('a leader', () => currentLeader(cluster.trading, adminToken), 20_000);
    const oldEpoch = leader.view.ownEpoch as number;
    const prefix = `${leader.replica.name}*`;
    const partitioned = performance.now();
    cluster.double?.injectFault(prefix, { mode: 'hang' });
    try {
      const stepped = await waitFor(
        'the partitioned leader to step down',
        async () =>
          (await schedulerOf(leader.replica, adminToken))?.role === 'follower' ? performance.now() : undefined,
        20_000,
        50,
      );
      process.stdout.write(`partitioned leader stepped down after ${Math.round(stepped - partitioned)} ms\n`);
      const next = await waitFor(
        'a new leader',
        () => currentLeader(cluster.trading, adminToken, leader.replica),
        20_000,
        50,
      );
      assert.ok((next.view.ownEpoch as number) > oldEpoch);
      const dataSource = new DataSource({ type: 'postgres', url: cluster.db.url, poolSize: 1 });
      await dataSource.initialize();
      try {
        let rejected = 0;
        const metrics = { fencingRejections: { inc: () => (rejected += 1) } } as unknown as TradingMetrics;
        const fencing = new FencingService(dataSource, metrics);
        await assert.rejects(
          fencing.transaction(oldEpoch, (m) =>
            m.query(`UPDATE trading.holidays SET name = 'x' WHERE date = '2026-01-01'`),
          ),
          FencingError,
        );
        assert.equal(rejected, 1);
        const name = await dataSource.query(`SELECT name FROM trading.holidays WHERE date = '2026-01-01'`);
        assert.equal(name[0].name, "New Year's Day");
      } finally {
        await dataSource.destroy();
      }
    } finally {
      cluster.double?.clearFault(prefix);
    }
  });
});
