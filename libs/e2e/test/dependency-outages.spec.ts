import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { findPostgresBinaries, startLocalPostgres, type LocalPostgres } from '@stocklab/local-platform';
import { PrivateRedis, request, type Replica } from '@stocklab/test-support';
import { startE2EPlatform, waitFor, type E2EPlatform } from '../src/harness.js';
import {
  createLoadUser,
  LOAD_BACKTEST,
  MixedLoad,
  ok,
  sinceLastFailure,
  tally,
  underLoadServiceEnv,
  type LoadUser,
  type Outcome,
} from '../src/load.js';

/**
 * Redis, then PostgreSQL, stopped and started again under a steady mixed load through the
 * gateway. Both are private servers of this test (the shared ones must not be disturbed). While a
 * dependency is away, requests that need it get a 503 (never a 500, never an unchecked token);
 * afterwards every replica recovers by itself, with the same process it had before.
 */

const SEED = 20261128;
const OUTAGE_MS = 5000;
/** how long after the dependency is back every request must succeed again */
const RECOVERY_BOUND_MS = 15_000;
/** requests that must succeed after the last failure, the proof that the platform serves again */
const LOAD_AFTER_RECOVERY = 50;

/** The replicas that serve the API, and the worker, with their process ids. */
function processes(p: E2EPlatform): Map<string, number | undefined> {
  const all: Replica[] = [
    ...p.replicas('auth'),
    ...p.replicas('backtest'),
    ...p.replicas('backtest-worker'),
    ...p.replicas('trading'),
  ];
  return new Map(all.map((r) => [r.name, r.running ? r.pid : undefined]));
}

/** What the services logged as unexpected errors (the stacks behind any 500). */
function unexpectedErrors(p: E2EPlatform): string[] {
  return (['auth', 'backtest', 'trading'] as const)
    .flatMap((service) => p.replicas(service))
    .flatMap((r) => r.logs().split('\n'))
    .filter((line) => line.includes('"context":"Errors"') || line.includes('"statusCode":500'))
    .map((line) => line.slice(0, 2000));
}

async function readiness(replica: Replica): Promise<number | string> {
  try {
    const res = await fetch(`${replica.url}/health/ready`, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return res.status;
  } catch (error) {
    return (error as { cause?: { code?: string } }).cause?.code ?? 'no answer';
  }
}

const describeOutcome = (o: Outcome): string =>
  `${o.op} ${o.status ?? 'no answer'} ${o.detail ?? ''} at +${o.startedAt}..${o.endedAt}`;

interface Window {
  downAt: number;
  upAt: number;
}

/**
 * Checks the load's outcomes around an outage: nothing failed before it, nothing failed with
 * anything but a 503 (the service's or the gateway's "no ready replica"), and everything
 * succeeded again within RECOVERY_BOUND_MS of the dependency's return. Returns the recovery time.
 */
async function assertOutageShape(
  outcomes: readonly Outcome[],
  window: Window,
  what: string,
  serverErrors: () => string[],
): Promise<number> {
  const failures = outcomes.filter((o) => !ok(o));
  if (failures.some((o) => o.status !== 503)) {
    await sleep(1000); // the services write their logs asynchronously: let the stacks arrive
  }
  assert.deepEqual(
    failures.filter((o) => o.endedAt < window.downAt).map(describeOutcome),
    [],
    `nothing failed before ${what} went away`,
  );
  assert.deepEqual(
    failures.filter((o) => o.status !== 503).map(describeOutcome),
    [],
    `while ${what} was away every failure was a 503; the services logged:\n${serverErrors().join('\n')}`,
  );
  assert.ok(failures.length > 0, `${what} being away was noticed (a check that can fail)`);
  const lastFailure = Math.max(...failures.map((o) => o.startedAt));
  const recoveredAfter = lastFailure - window.upAt;
  assert.ok(
    recoveredAfter < RECOVERY_BOUND_MS,
    `every request succeeds again within ${RECOVERY_BOUND_MS} ms of ${what}'s return (last failure ${recoveredAfter} ms after)`,
  );
  const afterRecovery = sinceLastFailure(outcomes).length;
  assert.ok(afterRecovery >= LOAD_AFTER_RECOVERY, `the load went on after recovery (${afterRecovery} requests)`);
  return Math.max(0, recoveredAfter);
}

describe('Redis and PostgreSQL restarted under steady load', () => {
  let p: E2EPlatform;
  let redis: PrivateRedis;
  let postgres: LocalPostgres;
  let postgresDir: string;
  let users: LoadUser[];

  beforeAll(async () => {
    const binaries = findPostgresBinaries();
    assert.ok(binaries, 'PostgreSQL server binaries (apt-get install postgresql)');
    // directly under the temporary folder: the postgres OS user must be able to reach it
    postgresDir = join(tmpdir(), `stocklab-outage-pg-${randomBytes(4).toString('hex')}`);
    postgres = await startLocalPostgres({ baseDir: postgresDir, binaries });
    redis = await PrivateRedis.start();
    p = await startE2EPlatform({
      redisUrl: redis.url,
      databaseAdminUrl: postgres.url,
      serviceEnv: underLoadServiceEnv(),
    });
    users = [];
    for (let i = 0; i < 4; i += 1) {
      users.push(await createLoadUser(p.gateway, `outage${i}`));
    }
  });

  afterAll(async () => {
    await p?.stop();
    await redis?.stop();
    await postgres?.stop();
    if (postgresDir) {
      rmSync(postgresDir, { recursive: true, force: true });
    }
  });

  it('Redis away: 503s, no token accepted unchecked, recovery by itself, queued backtests complete', async () => {
    const before = processes(p);
    // a token revoked before the outage must never be accepted, least of all while revocation cannot be checked
    const revoked = await createLoadUser(p.gateway, 'revoked');
    const logout = await request('POST', `${p.gateway}/api/auth/logout`, { token: revoked.accessToken });
    assert.equal(logout.status, 204);
    const apiReplicas = [...p.replicas('auth'), ...p.replicas('backtest'), ...p.replicas('trading')];
    const probePath = (r: Replica): string =>
      r.name.startsWith('auth')
        ? '/api/auth/me'
        : r.name.startsWith('backtest')
          ? '/api/backtest/strategies'
          : '/api/trading/portfolio';
    const revokedAnswers: number[] = [];
    const probeRevoked = async (): Promise<void> => {
      for (const r of apiReplicas) {
        revokedAnswers.push((await request('GET', `${r.url}${probePath(r)}`, { token: revoked.accessToken })).status);
      }
    };

    const load = new MixedLoad(p.gateway, users, { seed: SEED });
    load.start();
    let window: Window;
    let queuedAtOutage: number;
    const worker = p.replica('backtest-worker', 0);
    try {
      await sleep(2000);
      // the worker away first, so that submissions pile up in the queue that Redis is about to lose
      await worker.kill();
      await sleep(2000);
      const queued = await p.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM backtest.backtests WHERE status IN ('queued', 'running')`,
      );
      queuedAtOutage = Number(queued.rows[0]?.n);
      const downAt = Date.now();
      await redis.stop(); // SIGKILL, and nothing persisted: the queue is gone
      await sleep(OUTAGE_MS / 2);
      await probeRevoked();
      await sleep(OUTAGE_MS / 2);
      await redis.start();
      const upAt = Date.now();
      window = { downAt, upAt };
      await worker.restart();
      await sleep(RECOVERY_BOUND_MS);
      await probeRevoked();
    } finally {
      await load.stop();
    }

    const recoveredAfter = await assertOutageShape(load.outcomes, window, 'Redis', () => unexpectedErrors(p));
    assert.ok(
      revokedAnswers.every((s) => s === 401 || s === 503),
      `the revoked token: ${revokedAnswers.join(',')}`,
    );
    assert.ok(revokedAnswers.includes(503) && revokedAnswers.includes(401), 'refused as unavailable, then as revoked');
    assert.ok(queuedAtOutage > 0, 'some backtests were waiting in the queue when Redis went away');

    // the reconciler re-enqueues what PostgreSQL says is queued: every accepted backtest completes, once
    const settled = await waitFor(
      'every accepted backtest to finish',
      async () => {
        const { rows } = await p.pool.query<{ id: string; status: string; trades: string }>(
          `SELECT b.id, b.status,
                  (SELECT count(*) FROM backtest.backtest_trades t WHERE t.backtest_id = b.id)::text AS trades
             FROM backtest.backtests b WHERE b.id = ANY($1)`,
          [load.accepted],
        );
        return rows.length === load.accepted.length && rows.every((r) => r.status === 'succeeded') ? rows : undefined;
      },
      60_000,
      500,
    );
    assert.equal(new Set(settled.map((r) => r.trades)).size, 1, 'every run has the same trades, none doubled');
    const now = processes(p);
    // the worker was stopped and started on purpose; every other process is the one from before
    now.delete(worker.name);
    before.delete(worker.name);
    assert.deepEqual(now, before, 'no process was restarted');
    process.stdout.write(
      `redis: ${queuedAtOutage} backtests queued at the outage, ${load.accepted.length} accepted, all succeeded; ` +
        `recovered ${recoveredAfter} ms after Redis returned; ` +
        `${tally(load.outcomes)
          .map((t) => `${t.op} ${t.requests}/${t.failed} failed`)
          .join(', ')}\n`,
    );
  });

  it('PostgreSQL away: readiness drops on every replica and recovers, 503s meanwhile, no restart needed', async () => {
    const before = processes(p);
    const everyone = [
      ...p.replicas('auth'),
      ...p.replicas('backtest'),
      ...p.replicas('backtest-worker'),
      ...p.replicas('trading'),
    ];
    const load = new MixedLoad(p.gateway, users, { seed: SEED + 1 });
    load.start();
    let window: Window;
    let readyAgainAfter: number;
    try {
      await sleep(2000);
      const downAt = Date.now();
      await postgres.stop(); // pg_ctl stop -m fast: every connection is terminated
      // each replica's drop counts when seen: on a loaded machine one of them may miss a poll's
      // 3 s answer timeout while the others have long dropped
      const droppedAt = new Map<number, number>();
      const notReady = await waitFor(
        'readiness to drop on every replica',
        async () => {
          const statuses = await Promise.all(everyone.map(readiness));
          statuses.forEach((s, i) => {
            if (s === 503 && !droppedAt.has(i)) {
              droppedAt.set(i, Date.now() - downAt);
            }
          });
          return droppedAt.size === everyone.length ? [...droppedAt.values()] : undefined;
        },
        15_000,
        200,
      );
      assert.equal(notReady.length, everyone.length);
      await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
      postgres = await startLocalPostgres({
        baseDir: postgresDir,
        binaries: findPostgresBinaries() ?? assert.fail('PostgreSQL binaries are gone'),
        port: postgres.port,
      });
      const upAt = Date.now();
      window = { downAt, upAt };
      await waitFor(
        'readiness to recover on every replica',
        async () => ((await Promise.all(everyone.map(readiness))).every((s) => s === 200) ? true : undefined),
        RECOVERY_BOUND_MS,
        200,
      );
      readyAgainAfter = Date.now() - upAt;
      // as many requests as the proof needs, however slowly a starved machine sends them (a fixed
      // 5 s once saw only 50); a failure among them starts the count again
      await waitFor(
        'the load to go on after recovery',
        async () => (sinceLastFailure(load.outcomes).length >= LOAD_AFTER_RECOVERY ? true : undefined),
        30_000,
        200,
      );
    } finally {
      await load.stop();
    }

    const recoveredAfter = await assertOutageShape(load.outcomes, window, 'PostgreSQL', () => unexpectedErrors(p));
    assert.deepEqual(processes(p), before, 'every process is the one that ran before the outage');

    // new writes work everywhere: a new user, a strategy, a backtest that completes
    const fresh = await createLoadUser(p.gateway, 'after-outage');
    const submitted = await request('POST', `${p.gateway}/api/backtest/backtests`, {
      token: fresh.accessToken,
      body: LOAD_BACKTEST,
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    await waitFor(
      'the new backtest to succeed',
      async () => {
        const res = await request('GET', `${p.gateway}/api/backtest/backtests/${String(submitted.body.id)}`, {
          token: fresh.accessToken,
        });
        return res.body.status === 'succeeded' ? true : undefined;
      },
      30_000,
      250,
    );
    process.stdout.write(
      `postgres: readiness back on all ${everyone.length} processes ${readyAgainAfter} ms after PostgreSQL returned; ` +
        `every request succeeds again ${recoveredAfter} ms after; ` +
        `${tally(load.outcomes)
          .map((t) => `${t.op} ${t.requests}/${t.failed} failed`)
          .join(', ')}\n`,
    );
  });
});
