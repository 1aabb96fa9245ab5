import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import {
  KubernetesLeaseElector,
  LeaseApiDouble,
  PostgresAdvisoryLockElector,
  chooseBackend,
  createLeaderElector,
  silentLogger,
  writeKubeconfig,
} from '../src/index.js';
import { waitFor } from './helpers.js';

void describe('createLeaderElector', () => {
  let double: LeaseApiDouble;
  let dir: string;
  let kubeconfig: string;
  const savedKubeconfig = process.env.KUBECONFIG;

  beforeAll(async () => {
    double = await LeaseApiDouble.start();
    dir = mkdtempSync(join(tmpdir(), 'create-elector-'));
    kubeconfig = join(dir, 'config');
    writeKubeconfig(kubeconfig, double.url);
  });

  afterAll(async () => {
    if (savedKubeconfig === undefined) {
      delete process.env.KUBECONFIG;
    } else {
      process.env.KUBECONFIG = savedKubeconfig;
    }
    await double.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('auto picks kubernetes in a pod or with a KUBECONFIG, else postgres', () => {
    assert.equal(chooseBackend({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }), 'kubernetes');
    assert.equal(chooseBackend({ KUBECONFIG: '/tmp/kubeconfig' }), 'kubernetes');
    assert.equal(chooseBackend({}), 'postgres');
    assert.equal(chooseBackend({ LEADER_ELECTION: 'auto' }), 'postgres');
    assert.equal(chooseBackend({ LEADER_ELECTION: 'postgres', KUBERNETES_SERVICE_HOST: '10.0.0.1' }), 'postgres');
    assert.equal(chooseBackend({ LEADER_ELECTION: 'Kubernetes' }), 'kubernetes');
    assert.throws(
      () => chooseBackend({ LEADER_ELECTION: 'zookeeper' }),
      /LEADER_ELECTION must be kubernetes, postgres or auto/,
    );
  });

  void it('builds a PostgreSQL elector from DATABASE_URL with the default lease name and a POD_NAME identity', () => {
    const elector = createLeaderElector({
      env: {
        LEADER_ELECTION: 'postgres',
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
        POD_NAME: 'trading-7d9f',
      },
      logger: silentLogger,
    });
    assert.ok(elector instanceof PostgresAdvisoryLockElector);
    assert.equal(elector.backend, 'postgres');
    assert.equal(elector.leaseName, 'trading-scheduler');
    assert.match(elector.identity, /^trading-7d9f-[0-9a-f]{8}$/);
    assert.throws(() => createLeaderElector({ env: { LEADER_ELECTION: 'postgres' } }), /DATABASE_URL/);
  });

  void it('validates durations from the environment and throws a clear error', () => {
    assert.throws(
      () =>
        createLeaderElector({
          env: {
            LEADER_ELECTION: 'postgres',
            DATABASE_URL: 'postgres://x@127.0.0.1/x',
            LEASE_DURATION_SECONDS: '5',
            RENEW_DEADLINE_SECONDS: '6',
          },
        }),
      /leaseDuration \(5000 ms\) must be greater than renewDeadline \(6000 ms\)/,
    );
  });

  void it('builds a Kubernetes elector from KUBECONFIG (loadFromDefault), LEASE_NAME and POD_NAMESPACE that wins the Lease', async () => {
    process.env.KUBECONFIG = kubeconfig;
    const elector = createLeaderElector({
      env: {
        KUBECONFIG: kubeconfig,
        LEASE_NAME: 'from-env',
        POD_NAMESPACE: 'trading',
        POD_NAME: 'trading-0',
        LEASE_DURATION_SECONDS: '3',
        RENEW_DEADLINE_SECONDS: '2',
        RETRY_PERIOD_SECONDS: '0.5',
      },
      logger: silentLogger,
    });
    assert.ok(elector instanceof KubernetesLeaseElector);
    assert.equal(elector.namespace, 'trading');
    assert.deepEqual(elector.timings, { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 });
    elector.start();
    try {
      await waitFor('the elector to lead', () => elector.isLeader);
      assert.equal(double.getLease('trading', 'from-env')?.spec.holderIdentity, elector.identity);
      assert.equal(elector.currentLeader, elector.identity);
    } finally {
      await elector.stop();
    }
    assert.equal(double.getLease('trading', 'from-env')?.spec.holderIdentity, '', 'released on stop');
  });
});
