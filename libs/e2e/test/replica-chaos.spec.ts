import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, requestPatiently } from '@stocklab/test-support';
import { prng, startE2EPlatform, waitFor, type E2EPlatform } from '../src/harness.js';
import {
  createLoadUser,
  LOAD_BACKTEST,
  MixedLoad,
  ok,
  tally,
  type ApiService,
  type LoadUser,
  type Outcome,
  underLoadServiceEnv,
} from '../src/load.js';

/**
 * Under a steady mixed load through the gateway, one random replica of each service is
 * SIGKILLed and started again: auth, backtest API, the backtest worker, trading. The only
 * requests allowed to fail are non-idempotent ones that were in flight on the killed process
 * (the gateway retries the others, and any request whose connection was refused); every
 * accepted backtest completes, once, with the same result as an undisturbed run.
 */

const SEED = 20261127;
const VIRTUAL_USERS = 6;
const KILL_ORDER = ['auth', 'backtest', 'backtest-worker', 'trading'] as const;

interface Kill {
  service: (typeof KILL_ORDER)[number];
  replica: string;
  /** just before the signal was sent */
  at: number;
  /** when the process was seen gone */
  diedAt: number;
}

/** A failure is excused only if it was a non-idempotent request in flight on a process as it was killed. */
function inFlightOnKilled(outcome: Outcome, kills: readonly Kill[]): boolean {
  return (
    outcome.method === 'POST' &&
    kills.some(
      (k) => (k.service as string) === outcome.service && outcome.startedAt <= k.diedAt && outcome.endedAt >= k.at,
    )
  );
}

interface BacktestRow {
  id: string;
  status: string;
  attempts: number;
  trades: string;
  equity: string;
}

describe('one random replica of each service SIGKILLed under steady load', () => {
  let p: E2EPlatform;

  beforeAll(async () => {
    p = await startE2EPlatform({
      serviceEnv: underLoadServiceEnv({
        LEASE_DURATION_SECONDS: '3',
        RENEW_DEADLINE_SECONDS: '2',
        RETRY_PERIOD_SECONDS: '0.5',
      }),
    });
  });

  afterAll(async () => {
    await p?.stop();
  });

  it('fails only the non-idempotent requests in flight on a killed process; every backtest completes once', async () => {
    const random = prng(SEED);
    const users: LoadUser[] = [];
    for (let i = 0; i < VIRTUAL_USERS; i += 1) {
      users.push(await createLoadUser(p.gateway, `chaos${i}`));
    }
    // the result an undisturbed run gives, for comparison
    const reference = await request('POST', `${p.gateway}/api/backtest/backtests`, {
      token: users[0]?.accessToken,
      body: LOAD_BACKTEST,
    });
    assert.equal(reference.status, 202, JSON.stringify(reference.body));
    const referenceId = String(reference.body.id);

    // as clients that follow the contract: a 503 with Retry-After (no ready replica while the machine stalls) is asked again
    const load = new MixedLoad(p.gateway, users, { seed: SEED, followRetryAfter: true });
    const kills: Kill[] = [];
    load.start();
    try {
      await sleep(3000);
      for (const service of KILL_ORDER) {
        const replicas = p.replicas(service);
        const victim = replicas[Math.floor(random() * replicas.length)];
        assert.ok(victim);
        const at = Date.now();
        await victim.kill();
        kills.push({ service, replica: victim.name, at, diedAt: Date.now() });
        await sleep(1500);
        await victim.restart();
        await sleep(2500);
      }
      await sleep(2000);
    } finally {
      await load.stop();
    }

    const failures = load.outcomes.filter((o) => !ok(o));
    const unexcused = failures.filter((o) => !inFlightOnKilled(o, kills));
    const table = tally(load.outcomes);
    process.stdout.write(
      `kills: ${kills.map((k) => `${k.replica} (dead after ${k.diedAt - k.at} ms)`).join(', ')}\n` +
        `${table.map((t) => `${t.op}: ${t.requests} requests, ${t.failed} failed`).join('; ')}\n` +
        `failures: ${failures.length}, all in flight on a killed process: ${unexcused.length === 0}; ` +
        `503 + Retry-After asked again: ${load.outcomes.reduce((n, o) => n + o.retried, 0)} time(s)\n`,
    );
    assert.ok(load.outcomes.length > 200, `a steady load: ${load.outcomes.length} requests`);
    for (const op of table) {
      assert.ok(op.ok > 0, `${op.op} kept succeeding under chaos`);
    }
    assert.deepEqual(
      unexcused.map((o) => `${o.op} ${o.status ?? 'no answer'} ${o.detail ?? ''} at ${o.startedAt}-${o.endedAt}`),
      [],
      `only non-idempotent requests in flight on a killed process may fail; kills: ${JSON.stringify(kills)}`,
    );

    // every backtest completes, once
    const owners = await p.pool.query<{ id: string }>(`SELECT id FROM auth.users WHERE email = ANY($1)`, [
      users.map((u) => u.email),
    ]);
    const ownerIds = owners.rows.map((r) => r.id);
    const rows = async (): Promise<BacktestRow[]> =>
      (
        await p.pool.query<BacktestRow>(
          `SELECT b.id, b.status, b.attempts,
                  (SELECT count(*) FROM backtest.backtest_trades t WHERE t.backtest_id = b.id)::text AS trades,
                  (SELECT count(*) FROM backtest.backtest_equity e WHERE e.backtest_id = b.id)::text AS equity
             FROM backtest.backtests b WHERE b.owner_id = ANY($1) ORDER BY b.created_at`,
          [ownerIds],
        )
      ).rows;
    const settled = await waitFor(
      'every backtest to finish',
      async () => {
        const all = await rows();
        return all.every((r) => ['succeeded', 'failed', 'cancelled'].includes(r.status)) ? all : undefined;
      },
      90_000,
      500,
    );
    // submissions whose answer died with a replica were retried with their Idempotency-Key:
    // exactly one backtest per accepted submission, none lost, none created twice
    const ids = new Set(settled.map((r) => r.id));
    assert.deepEqual(ids, new Set([...load.accepted, referenceId]), 'the backtests are exactly the accepted ones');
    assert.deepEqual(
      settled.filter((r) => r.status !== 'succeeded').map((r) => `${r.id} ${r.status}`),
      [],
      'every backtest succeeded',
    );
    const expected = settled.find((r) => r.id === referenceId);
    assert.ok(expected && Number(expected.trades) > 0 && Number(expected.equity) > 0);
    for (const row of settled) {
      assert.deepEqual(
        [row.trades, row.equity],
        [expected.trades, expected.equity],
        `backtest ${row.id} (attempts ${row.attempts}) has exactly the undisturbed run's trades and equity rows`,
      );
    }
    const metrics = await p.pool.query<{ n: string }>(
      `SELECT count(DISTINCT metrics::text) AS n FROM backtest.backtests WHERE id = ANY($1)`,
      [[...ids]],
    );
    assert.equal(Number(metrics.rows[0]?.n), 1, 'every run computed the same metrics');

    // the sign-ins' tokens work on every service, and every replica is back in rotation
    for (const user of users) {
      // a client following the contract: a 503 with Retry-After (a Redis answer late on a starved machine) is asked again
      const me = await requestPatiently('GET', `${p.gateway}/api/auth/me`, { token: user.accessToken });
      assert.equal(me.status, 200, `${user.email}'s latest token`);
    }
    for (const service of ['auth', 'backtest', 'trading'] satisfies ApiService[]) {
      for (const replica of p.replicas(service)) {
        assert.ok(replica.running, `${replica.name} runs`);
      }
    }
    await waitFor(
      'the gateway to route to every replica again',
      async () => (p.platform.gateway.status().every((u) => u.ready) ? true : undefined),
      10_000,
    );
  });
});
