import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, it } from '@jest/globals';
import pg from 'pg';
import { Registry } from 'prom-client';
import { createTestDatabase, type TestDatabase } from '@stocklab/test-support';
import { PostgresAdvisoryLockElector, advisoryLockKey, silentLogger } from '../src/index.js';
import { TEST_TIMINGS, leaders, now, waitFor } from './helpers.js';

interface PgRecorded {
  elector: PostgresAdvisoryLockElector;
  registry: Registry;
  started: number[];
  stopped: { at: number; reason: string }[];
  signals: AbortSignal[];
}

const { retryPeriodMs } = TEST_TIMINGS;
// how long a test waits for an outcome (a bound on waiting, not a timing assertion: generous for loaded machines)
const MARGIN_MS = 5000;

void describe('PostgresAdvisoryLockElector', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  let running: PgRecorded[] = [];
  let counter = 0;

  beforeAll(async () => {
    db = await createTestDatabase('leader_election');
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });

  afterEach(async () => {
    await Promise.all(running.map((r) => r.elector.stop()));
    running = [];
  });

  afterAll(async () => {
    await admin.end();
    await db.drop();
  });

  function startElectors(count: number, leaseName: string, schema?: string): PgRecorded[] {
    const created = Array.from({ length: count }, () => {
      counter += 1;
      const registry = new Registry();
      const r: PgRecorded = {
        registry,
        started: [],
        stopped: [],
        signals: [],
        elector: new PostgresAdvisoryLockElector({
          leaseName,
          identity: `pg-replica-${counter}`,
          connection: db.url,
          timings: TEST_TIMINGS,
          registry,
          logger: silentLogger,
          ...(schema ? { schema } : {}),
        }),
      };
      r.elector.on('started-leading', ({ signal }) => {
        r.started.push(now());
        r.signals.push(signal);
      });
      r.elector.on('stopped-leading', ({ reason }) => r.stopped.push({ at: now(), reason }));
      return r;
    });
    running.push(...created);
    for (const r of created) {
      r.elector.start();
    }
    return created;
  }

  /** Backend pids holding the advisory lock of `leaseName` in the test database. */
  async function lockHolders(leaseName: string): Promise<number[]> {
    const key = BigInt(advisoryLockKey(leaseName));
    const unsigned = BigInt.asUintN(64, key);
    const result = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1`,
      [(unsigned >> 32n).toString(), (unsigned & 0xffffffffn).toString()],
    );
    return result.rows.map((row) => row.pid);
  }

  void it('derives a stable signed 64-bit lock key from the lease name', () => {
    assert.equal(advisoryLockKey('trading-scheduler'), advisoryLockKey('trading-scheduler'));
    assert.notEqual(advisoryLockKey('trading-scheduler'), advisoryLockKey('other'));
    const key = BigInt(advisoryLockKey('trading-scheduler'));
    assert.ok(key >= -(2n ** 63n) && key < 2n ** 63n);
  });

  void it('elects exactly one of three, whose identity followers read from the holder table', async () => {
    const electors = startElectors(3, 'pg-one-of-three', 'leader_election_test');
    await waitFor('a leader', () => leaders(electors).length > 0);
    const until = now() + 4 * retryPeriodMs;
    while (now() < until) {
      assert.ok(leaders(electors).length <= 1, 'two electors lead at once');
      await sleep(25);
    }
    const [leader] = leaders(electors);
    assert.ok(leader);
    assert.equal(
      electors.reduce((n, r) => n + r.started.length, 0),
      1,
    );
    assert.equal((await lockHolders('pg-one-of-three')).length, 1);
    await waitFor(
      'followers to see the leader',
      () => electors.every((r) => r.elector.currentLeader === leader.elector.identity),
      3 * retryPeriodMs + MARGIN_MS,
    );
    const row = await admin.query<{ holder_identity: string }>(
      `SELECT holder_identity FROM leader_election_test.leader_election_leases WHERE lease_name = 'pg-one-of-three'`,
    );
    assert.equal(row.rows[0]?.holder_identity, leader.elector.identity);
    assert.match(await leader.registry.metrics(), /leader_election_is_leader\{lease="pg-one-of-three"\} 1/);
  });

  void it('steps the leader down and fails over when its connection is terminated (pg_terminate_backend)', async () => {
    const electors = startElectors(3, 'pg-failover');
    await waitFor('a leader', () => leaders(electors).length === 1);
    const [old] = leaders(electors);
    assert.ok(old);
    const [pid] = await lockHolders('pg-failover');
    assert.ok(pid);
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);

    const others = electors.filter((r) => r !== old);
    await waitFor('a new leader', () => leaders(others).length === 1, 1.2 * retryPeriodMs + MARGIN_MS);
    const [next] = leaders(others);
    assert.ok(next);
    // the old leader learns of the lost session from its socket, which a busy event loop may read late
    await waitFor('the old leader to step down', () => old.stopped.length > 0, 1.2 * retryPeriodMs + MARGIN_MS);
    const stepDown = old.stopped[0];
    assert.ok(stepDown, 'the old leader stepped down');
    assert.equal(stepDown.reason, 'connection-lost');
    assert.equal(old.signals[0]?.aborted, true);
    // Not asserted: that the old leader stopped before the new one started. The server releases the
    // lock the moment it ends the session, while the old leader learns of it only when its socket's
    // event is processed, so on a busy event loop a follower's next try can win first (seen in a
    // loaded CI run). The overlap is bounded by that notice, and the fencing epoch taken on
    // election refuses the old term's writes meanwhile (the trading service's fencing tests).
    assert.ok(next.started[0] !== undefined, 'the new leader started');
    const holders = await lockHolders('pg-failover');
    assert.equal(holders.length, 1);
    assert.notEqual(holders[0], pid);

    // the old leader campaigns again on a fresh connection, as a follower
    await sleep(3 * retryPeriodMs);
    assert.equal(old.elector.isLeader, false);
    assert.equal(leaders(electors).length, 1);
  });

  void it('on stop() unlocks and closes, and a follower takes over', async () => {
    const electors = startElectors(2, 'pg-stop');
    await waitFor('a leader', () => leaders(electors).length === 1);
    const [old] = leaders(electors);
    assert.ok(old);
    await old.elector.stop();
    assert.deepEqual(
      old.stopped.map((s) => s.reason),
      ['stopped'],
    );
    const next = electors.find((r) => r !== old);
    assert.ok(next);
    await waitFor('the follower to lead', () => next.elector.isLeader, 1.2 * retryPeriodMs + MARGIN_MS);
    const sessions = await admin.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'leader-election:pg-stop'`,
    );
    assert.equal(Number(sessions.rows[0]?.n), 1, "the stopped elector's connection is closed");
  });
});
