import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import {
  checkAutoscalers,
  checkDatabaseCa,
  checkEntryPoints,
  checkEnv,
  checkImages,
  checkIngress,
  checkIngressBodySize,
  checkProbes,
  checkRbac,
  checkReferences,
  checkResourcesAndSecurity,
  checkSelectors,
  checkServiceAccounts,
  checkShutdownAndSpread,
  envValue,
  kustomize,
  kustomizeComposed,
  loadServiceSchemas,
  repoRoot,
  servedRootPaths,
  validateAgainstSchemas,
  type ConfigSchemaLike,
  type K8sObject,
  type ServiceName,
} from '../src/index.js';

const root = repoRoot();
const OVERLAYS = {
  dev: { dir: 'k8s/overlays/dev', external: [] as string[] },
  prod: { dir: 'k8s/overlays/prod', external: ['stocklab-secrets', 'stocklab-tls'] },
  // prod with every optional component on top (rendered from a throwaway kustomization)
  'prod+components': {
    dir: '',
    external: ['stocklab-secrets', 'stocklab-tls', 'stocklab-scheduler-credentials', 'stocklab-database-ca'],
  },
};

let schemas: Record<ServiceName, ConfigSchemaLike>;
let served: string[];
const rendered = new Map<string, K8sObject[]>();
let scratch: string;

beforeAll(async () => {
  schemas = await loadServiceSchemas(root);
  served = servedRootPaths(root);
  scratch = mkdtempSync(join(tmpdir(), 'deploy-checks-'));
  writeFileSync(
    join(scratch, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      `  - ${relative(scratch, join(root, 'k8s/overlays/prod'))}`,
      'components:',
      `  - ${relative(scratch, join(root, 'k8s/components/keda-worker'))}`,
      `  - ${relative(scratch, join(root, 'k8s/components/trading-cronjob'))}`,
      `  - ${relative(scratch, join(root, 'k8s/components/monitoring'))}`,
      `  - ${relative(scratch, join(root, 'k8s/components/database-ca'))}`,
      '',
    ].join('\n'),
  );
  OVERLAYS['prod+components'].dir = scratch;
  for (const [name, overlay] of Object.entries(OVERLAYS)) {
    rendered.set(name, kustomize(overlay.dir.startsWith('/') ? overlay.dir : join(root, overlay.dir)));
  }
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function objects(name: string): K8sObject[] {
  const objs = rendered.get(name);
  assert.ok(objs, `${name} rendered`);
  return objs;
}

for (const [name, overlay] of Object.entries(OVERLAYS)) {
  describe(`k8s overlay ${name}`, () => {
    it('renders the expected objects', () => {
      const kinds = new Set(objects(name).map((o) => o.kind));
      for (const kind of [
        'Deployment',
        'Service',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
        'Ingress',
        'Job',
        'Role',
      ]) {
        assert.ok(kinds.has(kind), `${kind} rendered`);
      }
      const deployments = objects(name)
        .filter((o) => o.kind === 'Deployment')
        .map((o) => o.metadata.name);
      for (const d of ['auth', 'backtest', 'backtest-worker', 'trading']) {
        assert.ok(deployments.includes(d), `Deployment ${d}`);
      }
    });
    it('validates against the upstream Kubernetes schemas', () => {
      assert.deepEqual(validateAgainstSchemas(objects(name)), []);
    });
    it('gives every container requests, limits and the hardened securityContext', () => {
      assert.deepEqual(checkResourcesAndSecurity(objects(name)), []);
    });
    it('pins every image', () => {
      assert.deepEqual(checkImages(objects(name)), []);
    });
    it('probes the routes the services serve', () => {
      assert.deepEqual(checkProbes(objects(name), served), []);
    });
    it('selects existing pods from Services, PDBs and autoscalers', () => {
      assert.deepEqual(checkSelectors(objects(name)), []);
    });
    it('autoscales from 2 replicas at ~65 % CPU and scales down slowly', () => {
      assert.deepEqual(checkAutoscalers(objects(name)), []);
    });
    it('routes the Ingress to existing Services and ports', () => {
      assert.deepEqual(checkIngress(objects(name)), []);
    });
    it('lets the largest dataset upload through the Ingress', () => {
      assert.deepEqual(
        checkIngressBodySize(objects(name), Number(schemas.backtest.DATASET_MAX_BYTES?.defaultValue)),
        [],
      );
    });
    it('gives RBAC to trading only, least privilege', () => {
      assert.deepEqual(checkRbac(objects(name), envValue(objects(name), 'trading', 'LEASE_NAME')), []);
    });
    it('runs the backtest API and worker under a ServiceAccount of their own, without token or RBAC', () => {
      assert.deepEqual(checkServiceAccounts(objects(name)), []);
    });
    it('sets only variables the services read, with values they accept', () => {
      assert.deepEqual(checkEnv(objects(name), schemas), []);
    });
    it('references only ConfigMaps and Secrets that exist or are provided out of band', () => {
      assert.deepEqual(checkReferences(objects(name), overlay.external), []);
    });
    it('drains within the grace period and spreads over zones and hosts', () => {
      assert.deepEqual(checkShutdownAndSpread(objects(name), schemas), []);
    });
    it('runs entry points the services build', () => {
      assert.deepEqual(checkEntryPoints(objects(name), root), []);
    });
  });
}

describe('k8s overlay differences', () => {
  it('prod uses external datastores and network policies; dev runs them in the cluster', () => {
    const prodNames = objects('prod').map((o) => `${o.kind}/${o.metadata.name}`);
    assert.ok(!prodNames.some((n) => /Deployment\/(postgres|redis|minio)$/.test(n)));
    assert.ok(!objects('prod').some((o) => o.kind === 'Secret'), 'prod renders no Secret');
    assert.ok(prodNames.includes('NetworkPolicy/default-deny-all'));
    assert.equal(envValue(objects('prod'), 'backtest', 'S3_ENDPOINT'), undefined, 'prod: AWS S3');
    const devNames = objects('dev').map((o) => `${o.kind}/${o.metadata.name}`);
    for (const d of ['postgres', 'redis', 'minio']) {
      assert.ok(devNames.includes(`Deployment/${d}`) && devNames.includes(`Service/${d}`), d);
    }
    assert.equal(envValue(objects('dev'), 'backtest', 'S3_ENDPOINT'), 'http://minio:9000');
  });
  it('the KEDA component replaces the worker HPA', () => {
    const objs = objects('prod+components');
    assert.ok(!objs.some((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === 'backtest-worker'));
    assert.ok(objs.some((o) => o.kind === 'ScaledObject' && o.metadata.name === 'backtest-worker'));
    assert.equal(objs.filter((o) => o.kind === 'CronJob').length, 2);
  });
  it('the database-ca component mounts the bundle into every pod that reads DATABASE_URL, which prod alone does not', () => {
    assert.deepEqual(checkDatabaseCa(objects('prod+components')), []);
    // the 4 Deployments and the migration Job's 3 containers, each named
    assert.equal(checkDatabaseCa(objects('prod')).length, 7);
  });
  it('rejects a misspelt field in an overlay (strict Kubernetes 1.34 schemas)', () => {
    const typo = kustomizeComposed(
      [join(root, 'k8s/overlays/prod')],
      [],
      [
        'patches:',
        '  - target: { kind: Deployment, name: trading }',
        '    patch: |-',
        '      - { op: add, path: /spec/template/spec/containers/0/imagePullPolicyy, value: Always }',
        '      - { op: add, path: /spec/template/spec/securityContxt, value: { runAsNonRoot: true } }',
      ],
    );
    assert.deepEqual(validateAgainstSchemas(typo), [
      'Deployment/trading: /spec/template/spec: unknown field securityContxt',
      'Deployment/trading: /spec/template/spec/containers/0: unknown field imagePullPolicyy',
    ]);
  });
  it('the monitoring component adds a PodMonitor and the PrometheusRule, which prod alone has not', () => {
    const kinds = (name: string): string[] => objects(name).map((o) => o.kind);
    for (const kind of ['PodMonitor', 'PrometheusRule']) {
      assert.equal(kinds('prod+components').filter((k) => k === kind).length, 1, kind);
      assert.ok(!kinds('prod').includes(kind), kind);
    }
  });
});
