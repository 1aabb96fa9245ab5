import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { ApiException, CoordinationV1Api, KubeConfig, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { LeaseApiDouble } from '../src/index.js';
import { kubeConfigFor } from './helpers.js';

/** The body parsed in this realm: Response.json() builds its objects in Node's own, whose arrays
 * deepStrictEqual tells apart from the test's (Jest runs tests in a vm context). */
async function parsed(res: Response): Promise<unknown> {
  return JSON.parse(await res.text()) as unknown;
}

const MICRO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Runs a client-node call that must fail and returns its status code and parsed Status body. */
async function failure(call: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ApiException, `expected an ApiException, got ${String(error)}`);
    assert.equal(typeof error.body, 'string', 'client-node 2.x hands the body over as a JSON string');
    return { code: error.code, body: JSON.parse(error.body as string) as Record<string, unknown> };
  }
  assert.fail('the call succeeded');
}

function newLease(name: string, spec: Record<string, unknown> = {}): V1Lease {
  const t = new V1MicroTime();
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name },
    spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: t, renewTime: t, leaseTransitions: 0, ...spec },
  };
}

void describe('LeaseApiDouble', () => {
  let double: LeaseApiDouble;
  let api: CoordinationV1Api;
  const namespace = 'default';

  beforeAll(async () => {
    double = await LeaseApiDouble.start();
    api = kubeConfigFor(double.url).makeApiClient(CoordinationV1Api);
  });

  afterAll(async () => {
    await double.close();
  });

  void it('answers GET of a missing Lease with 404 NotFound and a Status body', async () => {
    const { code, body } = await failure(api.readNamespacedLease({ name: 'missing', namespace }));
    assert.equal(code, 404);
    assert.equal(body.kind, 'Status');
    assert.equal(body.apiVersion, 'v1');
    assert.equal(body.status, 'Failure');
    assert.equal(body.reason, 'NotFound');
    assert.equal(body.code, 404);
    assert.match(String(body.message), /leases.coordination.k8s.io "missing" not found/);
    assert.deepEqual(body.details, { name: 'missing', group: 'coordination.k8s.io', kind: 'leases' });
  });

  void it('creates with 201 and server-assigned uid, creationTimestamp and resourceVersion; a second POST is 409 AlreadyExists', async () => {
    const created = await api.createNamespacedLeaseWithHttpInfo({ namespace, body: newLease('create-me') });
    assert.equal(created.httpStatusCode, 201);
    assert.match(created.data.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(created.data.metadata?.resourceVersion);
    assert.ok(created.data.metadata?.creationTimestamp instanceof Date);
    assert.equal(created.data.metadata?.namespace, namespace);
    assert.match(String(created.data.spec?.renewTime), MICRO, 'renewTime comes back as a six-digit MicroTime string');

    const { code, body } = await failure(api.createNamespacedLease({ namespace, body: newLease('create-me') }));
    assert.equal(code, 409);
    assert.equal(body.reason, 'AlreadyExists');
    assert.equal(body.kind, 'Status');
  });

  void it('changes the resourceVersion on every write and rejects a stale one with 409 Conflict', async () => {
    const created = await api.createNamespacedLease({ namespace, body: newLease('versions') });
    const first = created.metadata?.resourceVersion;
    const updated = await api.replaceNamespacedLease({
      name: 'versions',
      namespace,
      body: { ...created, spec: { ...created.spec, holderIdentity: 'b' } },
    });
    const second = updated.metadata?.resourceVersion;
    assert.notEqual(second, first);
    assert.equal(updated.metadata?.uid, created.metadata?.uid);
    const again = await api.replaceNamespacedLease({
      name: 'versions',
      namespace,
      body: { ...updated, spec: { ...updated.spec, holderIdentity: 'c' } },
    });
    assert.notEqual(again.metadata?.resourceVersion, second);

    // writing with the first resourceVersion again is a lost race
    const { code, body } = await failure(
      api.replaceNamespacedLease({
        name: 'versions',
        namespace,
        body: { ...created, spec: { ...created.spec, holderIdentity: 'late' } },
      }),
    );
    assert.equal(code, 409);
    assert.equal(body.reason, 'Conflict');
    assert.match(String(body.message), /the object has been modified/);
    assert.equal(double.getLease(namespace, 'versions')?.spec.holderIdentity, 'c');
  });

  void it('answers PUT without resourceVersion with 422 Invalid', async () => {
    const created = await api.createNamespacedLease({ namespace, body: newLease('no-rv') });
    const { resourceVersion: _dropped, ...metadata } = created.metadata ?? {};
    const { code, body } = await failure(
      api.replaceNamespacedLease({ name: 'no-rv', namespace, body: { ...created, metadata } }),
    );
    assert.equal(code, 422);
    assert.equal(body.reason, 'Invalid');
    assert.match(String(body.message), /metadata.resourceVersion.*must be specified for an update/);
  });

  void it('answers leaseDurationSeconds <= 0 with 422 Invalid, on create and on update', async () => {
    const onCreate = await failure(
      api.createNamespacedLease({ namespace, body: newLease('zero', { leaseDurationSeconds: 0 }) }),
    );
    assert.equal(onCreate.code, 422);
    assert.equal(onCreate.body.reason, 'Invalid');
    assert.match(String(onCreate.body.message), /spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0/);

    const created = await api.createNamespacedLease({ namespace, body: newLease('negative') });
    const onUpdate = await failure(
      api.replaceNamespacedLease({
        name: 'negative',
        namespace,
        body: { ...created, spec: { ...created.spec, leaseDurationSeconds: -5 } },
      }),
    );
    assert.equal(onUpdate.code, 422);
    assert.equal(double.getLease(namespace, 'negative')?.spec.leaseDurationSeconds, 15);
  });

  void it('rejects a MicroTime without exactly six fractional digits (a plain Date / toISOString) with 400 BadRequest', async () => {
    const plainDate = newLease('plain-date', { renewTime: new Date() });
    const { code, body } = await failure(api.createNamespacedLease({ namespace, body: plainDate }));
    assert.equal(code, 400);
    assert.equal(body.reason, 'BadRequest');
    assert.equal(body.kind, 'Status');

    for (const renewTime of ['2026-11-26T09:00:00Z', '2026-11-26T09:00:00.1234567Z', 'yesterday']) {
      const res = await fetch(`${double.url}/apis/coordination.k8s.io/v1/namespaces/default/leases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ metadata: { name: 'raw-time' }, spec: { renewTime } }),
      });
      assert.equal(res.status, 400, renewTime);
    }
    assert.equal(double.getLease(namespace, 'raw-time'), undefined);
    const ok = await api.createNamespacedLease({ namespace, body: newLease('micro-date') });
    assert.match(String(ok.spec?.acquireTime), MICRO);
  });

  void it('lists Leases as a LeaseList, and as a meta.k8s.io Table with Name/Holder/Age when asked', async () => {
    await api.createNamespacedLease({ namespace: 'listing', body: newLease('one', { holderIdentity: 'holder-one' }) });
    await api.createNamespacedLease({ namespace: 'listing', body: newLease('two', { holderIdentity: 'holder-two' }) });
    const list = await api.listNamespacedLease({ namespace: 'listing' });
    assert.equal(list.kind, 'LeaseList');
    assert.deepEqual(
      list.items.map((l) => [l.metadata?.name, l.spec?.holderIdentity]),
      [
        ['one', 'holder-one'],
        ['two', 'holder-two'],
      ],
    );

    const res = await fetch(`${double.url}/apis/coordination.k8s.io/v1/namespaces/listing/leases?limit=500`, {
      headers: {
        accept:
          'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
      },
    });
    assert.equal(res.status, 200);
    const table = (await parsed(res)) as {
      kind: string;
      apiVersion: string;
      columnDefinitions: { name: string }[];
      rows: { cells: string[] }[];
    };
    assert.equal(table.kind, 'Table');
    assert.equal(table.apiVersion, 'meta.k8s.io/v1');
    assert.deepEqual(
      table.columnDefinitions.map((c) => c.name),
      ['Name', 'Holder', 'Age'],
    );
    assert.deepEqual(
      table.rows.map((r) => r.cells.slice(0, 2)),
      [
        ['one', 'holder-one'],
        ['two', 'holder-two'],
      ],
    );
    assert.match(table.rows[0]?.cells[2] ?? '', /^\d+s$/);
  });

  void it('serves discovery: /api, /apis with coordination.k8s.io/v1, and the leases APIResourceList', async () => {
    const apis = (await parsed(await fetch(`${double.url}/apis`))) as {
      kind: string;
      groups: { name: string; versions: { groupVersion: string }[] }[];
    };
    assert.equal(apis.kind, 'APIGroupList');
    const group = apis.groups.find((g) => g.name === 'coordination.k8s.io');
    assert.deepEqual(
      group?.versions.map((v) => v.groupVersion),
      ['coordination.k8s.io/v1'],
    );

    const resources = (await parsed(await fetch(`${double.url}/apis/coordination.k8s.io/v1`))) as {
      kind: string;
      groupVersion: string;
      resources: { name: string; namespaced: boolean; kind: string; verbs: string[] }[];
    };
    assert.equal(resources.kind, 'APIResourceList');
    assert.equal(resources.groupVersion, 'coordination.k8s.io/v1');
    const leases = resources.resources.find((r) => r.name === 'leases');
    assert.equal(leases?.namespaced, true);
    assert.equal(leases?.kind, 'Lease');
    assert.ok(leases?.verbs.includes('get') && leases.verbs.includes('create') && leases.verbs.includes('update'));

    const core = (await parsed(await fetch(`${double.url}/api`))) as { kind: string; versions: string[] };
    assert.deepEqual([core.kind, core.versions], ['APIVersions', ['v1']]);
    const unknown = await fetch(`${double.url}/openapi/v2`);
    assert.equal(unknown.status, 404);
    assert.equal(((await parsed(unknown)) as { kind: string }).kind, 'Status');
  });

  void it('deletes with a Success Status, after which GET is 404', async () => {
    await api.createNamespacedLease({ namespace, body: newLease('doomed') });
    const status = await api.deleteNamespacedLease({ name: 'doomed', namespace });
    assert.equal(status.status, 'Success');
    const { code } = await failure(api.readNamespacedLease({ name: 'doomed', namespace }));
    assert.equal(code, 404);
  });

  void it('refuses, fails or delays only the partitioned client (by X-Client-Id header or by its own port)', async () => {
    await api.createNamespacedLease({ namespace, body: newLease('faults') });
    const headerClient = kubeConfigFor(double.url).makeApiClient(CoordinationV1Api);

    double.injectFault('victim*', { mode: 'refuse' });
    const victimUrl = await double.listenForClient('victim-by-port');
    const victim = kubeConfigFor(victimUrl).makeApiClient(CoordinationV1Api);
    await assert.rejects(
      victim.readNamespacedLease({ name: 'faults', namespace }),
      (error: unknown) => !(error instanceof ApiException),
    );
    // a client naming itself in X-Client-Id is matched by the prefix rule
    await assert.rejects(
      fetch(`${double.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/faults`, {
        headers: { 'x-client-id': 'victim-7f3a' },
      }),
    );
    // everyone else still gets answers
    assert.equal((await headerClient.readNamespacedLease({ name: 'faults', namespace })).metadata?.name, 'faults');

    double.injectFault('victim-by-port', { mode: 'unavailable' });
    const { code, body } = await failure(victim.readNamespacedLease({ name: 'faults', namespace }));
    assert.equal(code, 503);
    assert.equal(body.reason, 'ServiceUnavailable');

    double.injectFault('victim-by-port', { mode: 'delay', delayMs: 300 });
    const before = performance.now();
    assert.equal((await victim.readNamespacedLease({ name: 'faults', namespace })).metadata?.name, 'faults');
    assert.ok(performance.now() - before >= 300, 'the answer came only after the injected delay');

    double.clearFault('victim-by-port');
    double.clearFault('victim*');
    assert.equal((await victim.readNamespacedLease({ name: 'faults', namespace })).metadata?.name, 'faults');
    assert.ok(double.requestsFrom('victim-by-port') >= 3);
  });

  void it('runs as a CLI that writes a kubeconfig and takes faults over HTTP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lease-double-cli-'));
    const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'lease-api-double-cli.js');
    const child = spawn(process.execPath, [cli, '0', join(dir, 'kubeconfig')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`cli exited with ${code}`)));
      });
      const started = JSON.parse(line) as { url: string; kubeconfig: string };
      assert.match(readFileSync(started.kubeconfig, 'utf8'), /insecure-skip-tls-verify: true/);
      const kc = new KubeConfig();
      kc.loadFromFile(started.kubeconfig);
      const cliApi = kc.makeApiClient(CoordinationV1Api);
      await cliApi.createNamespacedLease({ namespace, body: newLease('via-cli') });

      const put = await fetch(`${started.url}/_double/faults/nobody`, {
        method: 'PUT',
        body: JSON.stringify({ mode: 'unavailable' }),
      });
      assert.equal(put.status, 200);
      const blocked = await fetch(`${started.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/via-cli`, {
        headers: { 'x-client-id': 'nobody' },
      });
      assert.equal(blocked.status, 503);
      await (await fetch(`${started.url}/_double/faults`, { method: 'DELETE' })).text();
      const open = await fetch(`${started.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/via-cli`, {
        headers: { 'x-client-id': 'nobody' },
      });
      assert.equal(open.status, 200);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
