import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { LeaseApiDouble, LeaseWrite } from '@stocklab/leader-election';
import { startReplicas, startTcpProxy, request, type ReplicaSet, type TcpProxy } from '@stocklab/test-support';
import {
  cronAt,
  currentLeader,
  LEASE,
  runsOf,
  schedulerOf,
  startTradingCluster,
  TRADING_ENTRY,
  waitFor,
  type TradingCluster,
} from './support.js';

/**
 * The leader must be able to do the leader's work. A replica that takes the Lease while its
 * PostgreSQL is unreachable cannot take a fencing epoch: it must give the Lease up (as on
 * SIGTERM) instead of renewing it without running any job, so that a replica that reaches
 * PostgreSQL takes over and runs what was missed. Likewise a leader whose epoch was superseded.
 * Real trading processes, the Lease API double, the real PostgreSQL behind a TCP proxy the test cuts.
 */

const LEASE_PATH = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
const LEASE_NAME = 'trading-scheduler';
const leaseDurationMs = LEASE.duration * 1000;
/** the elector's default start deadline: RenewDeadline */
const startDeadlineMs = LEASE.renewDeadline * 1000;
/** the default resign back-off: LeaseDuration */
const resignBackoffMs = leaseDurationMs;
// how long a test waits for an outcome (a bound on waiting, not a timing assertion: generous for loaded machines)
const MARGIN_MS = 20_000;

/** MicroTime as kube-apiserver wants it: six fractional digits. */
const microTime = (date = new Date()): string => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** A Lease held by nobody running (an operator's or a departed pod's), written as any client would. */
async function holdLease(double: LeaseApiDouble, holder: string): Promise<void> {
  const res = await request('POST', `${double.url}${LEASE_PATH}`, {
    body: {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: LEASE_NAME, namespace: 'default' },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: 3600,
        acquireTime: microTime(),
        renewTime: microTime(),
        leaseTransitions: 0,
      },
    },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

/** Releases it as client-go does on shutdown: holder "" and leaseDurationSeconds 1. */
async function releaseLease(double: LeaseApiDouble): Promise<void> {
  const current = await request<{ metadata: Record<string, unknown>; spec: Record<string, unknown> }>(
    'GET',
    `${double.url}${LEASE_PATH}/${LEASE_NAME}`,
  );
  const res = await request('PUT', `${double.url}${LEASE_PATH}/${LEASE_NAME}`, {
    body: {
      ...current.body,
      spec: { ...current.body.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() },
    },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

async function isLeaderGauge(url: string): Promise<number | undefined> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  const match = /^leader_election_is_leader\{[^}]*lease="trading-scheduler"[^}]*\} (\d+)$/m.exec(await res.text());
  return match ? Number(match[1]) : undefined;
}

async function currentEpoch(cluster: TradingCluster): Promise<number> {
  const { rows } = await cluster.pool.query<{ epoch: string }>(`SELECT epoch FROM trading.leader_epochs WHERE id = 1`);
  return Number(rows[0]?.epoch);
}

/** The fencing epochs a replica's log says it took (one per term it led). */
function epochsTaken(logs: string, identity: string): number[] {
  const epochs: number[] = [];
  for (const line of logs.split('\n')) {
    if (line.includes('fencing epoch taken')) {
      const entry = JSON.parse(line) as { identity?: string; epoch?: number };
      if (entry.identity === identity && typeof entry.epoch === 'number') {
        epochs.push(entry.epoch);
      }
    }
  }
  return epochs;
}

const leaseWrites = (double: LeaseApiDouble): LeaseWrite[] => double.writes.filter((w) => w.name === LEASE_NAME);

describe('a replica that takes the Lease while its PostgreSQL is unreachable', () => {
  let cluster: TradingCluster;
  let proxy: TcpProxy;
  let cut: ReplicaSet | undefined;
  let ok: ReplicaSet | undefined;
  let selectAt: Date;

  beforeAll(async () => {
    cluster = await startTradingCluster({ replicas: 0 });
    assert.ok(cluster.double);
    const pgAddress = new URL(cluster.db.url);
    proxy = await startTcpProxy({ host: pgAddress.hostname, port: Number(pgAddress.port || 5432) });
    // held by someone else while the replicas start, so that neither leads at the select tick
    await holdLease(cluster.double, 'departed-pod');
    selectAt = new Date(Math.ceil((Date.now() + 2000) / 1000) * 1000);
    const env = { ...cluster.env, TRADING_SELECT_CRON: cronAt(selectAt) };
    [cut, ok] = await Promise.all([
      // trading-cut-0 reaches PostgreSQL only through the proxy
      startReplicas(1, {
        entry: TRADING_ENTRY,
        name: 'trading-cut',
        env: { ...env, DATABASE_URL: proxy.urlThrough(cluster.db.url) },
      }),
      // at info, its log names each fencing epoch it takes
      startReplicas(1, { entry: TRADING_ENTRY, name: 'trading-ok', env: { ...env, LOG_LEVEL: 'info' } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([cut?.stopAll(5000), ok?.stopAll(5000)]);
    await proxy?.close();
    await cluster?.close();
  });

  it('gives the Lease up within the start deadline; the other replica takes over and runs the missed select; it leads again once PostgreSQL is back', async () => {
    assert.ok(cluster.double && cut && ok);
    const double = cluster.double;
    const [replicaCut, replicaOk] = [cut.at(0), ok.at(0)];
    const token = cluster.tokenFor('00000000-0000-4000-8000-000000000001', ['user', 'admin']);
    const all = { replicas: [replicaCut, replicaOk] } as ReplicaSet;
    await waitFor(
      'the select tick to pass with nobody leading',
      async () => (Date.now() > selectAt.getTime() + 1000 ? true : undefined),
      60_000,
    );
    assert.equal((await runsOf(cluster.pool, 'select')).length, 0, 'precondition: nobody ran select');

    // trading-ok-0 cannot reach the Lease API for a moment, trading-cut-0 cannot reach PostgreSQL:
    // the Lease, released, goes to trading-cut-0
    double.injectFault('trading-ok-0*', { mode: 'refuse' });
    proxy.cut('refuse');
    await releaseLease(double);
    const acquired = await waitFor(
      'trading-cut-0 to take the Lease',
      async () => leaseWrites(double).find((w) => w.holderIdentity?.startsWith('trading-cut-0')),
      10_000,
      20,
    );
    const cutIdentity = acquired.holderIdentity ?? '';
    double.clearFault('trading-ok-0*');

    // it never reports itself leader, and the other one leads
    const gauges: { sentAt: number; answeredAt: number; value: number | undefined }[] = [];
    const next = await waitFor(
      'trading-ok-0 to lead',
      async () => {
        const sentAt = performance.now();
        const value = await isLeaderGauge(replicaCut.url).catch(() => undefined);
        gauges.push({ sentAt, answeredAt: performance.now(), value });
        const view = await schedulerOf(replicaOk, token);
        return view?.role === 'leader' ? view : undefined;
      },
      startDeadlineMs + leaseDurationMs + MARGIN_MS,
      50,
    );
    assert.deepEqual(
      gauges.filter((g) => g.value === 1),
      [],
      'trading-cut-0 never reported leader_election_is_leader 1',
    );
    assert.equal(await isLeaderGauge(replicaCut.url), 0);

    // it handed the Lease over (holder "", as on SIGTERM) within the start deadline plus one Lease duration
    const writes = leaseWrites(double);
    const release = writes.find((w) => w.at > acquired.at && w.clientId === cutIdentity && w.holderIdentity === '');
    assert.ok(release, 'trading-cut-0 released the Lease');
    assert.ok(
      release.at - acquired.at < startDeadlineMs + leaseDurationMs,
      `released ${Math.round(release.at - acquired.at)} ms after taking it`,
    );
    assert.ok(
      gauges.some((g) => g.sentAt > acquired.at && g.answeredAt < release.at && g.value === 0),
      'its gauge read 0 while it held the Lease without an epoch',
    );
    const takeover = writes.findIndex((w) => w.holderIdentity === next.identity);
    assert.ok(takeover > 0);
    assert.equal(writes[takeover - 1], release, 'the takeover came from the release, not from an expiry');
    const logs = replicaCut.logs();
    assert.match(logs, /onStartedLeading callback failed/);
    assert.match(logs, /giving up the lease[^\n]*start-failed|start-failed[^\n]*giving up the lease/);

    // the new leader took an epoch and ran the select nobody ran at its tick
    assert.equal(next.ownEpoch, next.epoch);
    assert.equal(next.epoch, await currentEpoch(cluster));
    const select = await waitFor(
      'the missed select to succeed',
      async () => {
        const [run] = await runsOf(cluster.pool, 'select');
        return run?.status === 'succeeded' ? run : undefined;
      },
      60_000,
    );
    assert.equal(select.runner, next.identity);
    assert.equal(select.trigger, 'catch-up');
    // under an epoch trading-ok-0 took: on a loaded machine it may have lost the Lease once (a
    // renewal late) and led again before the test saw it lead, so not necessarily next.epoch
    const okEpochs = epochsTaken(replicaOk.logs(), next.identity);
    assert.ok(
      okEpochs.includes(Number(select.epoch)),
      `select ran under epoch ${select.epoch}, took ${okEpochs.join(', ')}`,
    );
    assert.ok(okEpochs.includes(next.epoch));
    assert.equal((await runsOf(cluster.pool, 'select')).length, 1);

    // PostgreSQL is back for trading-cut-0: once the other steps down (SIGTERM releases), it leads again
    proxy.restore();
    await replicaOk.stop();
    const again = await waitFor(
      'trading-cut-0 to lead again',
      () => currentLeader(all, token),
      4 * resignBackoffMs + startDeadlineMs + MARGIN_MS,
      100,
    );
    assert.equal(again.replica, replicaCut);
    assert.equal(again.view.identity, cutIdentity);
    assert.ok(again.view.epoch > next.epoch, 'with a newer epoch');
    assert.equal(again.view.ownEpoch, again.view.epoch);
    assert.equal(await isLeaderGauge(replicaCut.url), 1);
  });
});

describe('a leader whose fencing epoch is superseded', () => {
  let cluster: TradingCluster;

  beforeAll(async () => {
    cluster = await startTradingCluster({ replicas: 2 });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('stops leading and hands the Lease over; a leader with a current epoch follows', async () => {
    assert.ok(cluster.double);
    const double = cluster.double;
    const token = cluster.tokenFor('00000000-0000-4000-8000-000000000002', ['user', 'admin']);
    const old = await waitFor('a leader', () => currentLeader(cluster.trading, token), 30_000);
    assert.equal(old.view.ownEpoch, old.view.epoch);
    const bumpedAt = performance.now();
    // someone else took a newer epoch (a replica that believes it leads, an operator): every
    // write of the old leader is now refused, so it must not go on holding the Lease
    await cluster.pool.query(`UPDATE trading.leader_epochs SET epoch = epoch + 1, holder = 'intruder' WHERE id = 1`);
    const superseded = old.view.epoch + 1;

    const next = await waitFor(
      'a leader with the current epoch',
      async () => {
        const leader = await currentLeader(cluster.trading, token);
        return leader && leader.view.ownEpoch === (await currentEpoch(cluster)) ? leader : undefined;
      },
      // the sweep (every CATCH_UP_INTERVAL_SECONDS = 2) notices; the old leader may be the next one after its back-off
      2000 + 4 * resignBackoffMs + MARGIN_MS,
      100,
    );
    assert.ok(next.view.epoch > superseded, 'a newer epoch than the one that superseded the old leader');
    assert.match(old.replica.logs(), /fencing epoch superseded while leading/);
    const release = leaseWrites(double).find(
      (w) => w.at > bumpedAt && w.clientId === old.view.identity && w.holderIdentity === '',
    );
    assert.ok(release, 'the old leader released the Lease');
  });
});
