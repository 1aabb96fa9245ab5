import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, it } from '@jest/globals';
import {
  chartDir,
  checkAutoscalers,
  checkChartParity,
  checkChartSecrets,
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
  checkTemplateValues,
  checkValuesDocumented,
  checkValuesSchema,
  envValue,
  helmLint,
  helmTemplate,
  kustomize,
  kustomizeComposed,
  loadServiceSchemas,
  loadValues,
  repoRoot,
  reaches,
  servedRootPaths,
  validateAgainstSchemas,
  type ConfigSchemaLike,
  type K8sObject,
  type ServiceName,
} from '../src/index.js';

const root = repoRoot();

describe('helm/stocklab', () => {
  it('values.yaml validates against values.schema.json', () => {
    assert.deepEqual(checkValuesSchema(loadValues(root), root), []);
  });
  it('the schema rejects what it should (a latest tag, one replica of HPA minimum, two CA bundles)', () => {
    const values = loadValues(root);
    const bad = structuredClone(values) as {
      image: { tag: string };
      services: { auth: { autoscaling: { minReplicas: number } } };
      database: { caBundle: { configMap: string; secret: string } };
    };
    bad.image.tag = 'latest';
    bad.services.auth.autoscaling.minReplicas = 1;
    bad.database.caBundle.configMap = 'rds-ca';
    bad.database.caBundle.secret = 'rds-ca';
    assert.equal(checkValuesSchema(bad, root).length, 3);
  });
  it('every value the templates read exists in values.yaml', () => {
    assert.deepEqual(checkTemplateValues(loadValues(root), root), []);
  });
  it('every value is documented with ## @param', () => {
    assert.deepEqual(checkValuesDocumented(loadValues(root), root), []);
  });
  it('has the helm create helpers, NOTES.txt, a hook Job and a helm test', () => {
    for (const f of [
      'Chart.yaml',
      'templates/_helpers.tpl',
      'templates/NOTES.txt',
      'templates/tests/test-readiness.yaml',
    ]) {
      assert.ok(existsSync(join(chartDir(root), f)), f);
    }
  });
});

/**
 * The chart as the real helm renders it (v4, pinned, installed by scripts/test into .toolchain/):
 * `helm lint --strict` and `helm template` for several value sets, every object checked against
 * the Kubernetes schemas and by the same rules as the kustomize overlays, and the chart against
 * kustomize's prod overlay part by part.
 */
const VALUE_SETS: Record<string, { args: string[]; external: string[] }> = {
  'an existing Secret': { args: ['--set', 'existingSecret=stocklab-secrets'], external: ['stocklab-secrets'] },
  'inline secrets and TLS': {
    args: [
      '--set',
      'secrets.databaseUrl=postgres://stocklab@db:5432/stocklab',
      '--set',
      'secrets.redisUrl=redis://redis:6379',
      '--set',
      'secrets.jwtPrivateKey=private',
      '--set',
      'secrets.jwtPublicKeys=public',
      '--set',
      'ingress.tls.enabled=true',
      '--set',
      'ingress.host=api.example.com',
    ],
    external: ['stocklab-tls'],
  },
  // the prometheus-operator objects (PodMonitor, PrometheusRule) and the Grafana dashboard's ConfigMap
  'monitoring on': {
    args: [
      '--set',
      'existingSecret=stocklab-secrets',
      '--set',
      'monitoring.podMonitor.enabled=true',
      '--set',
      'monitoring.podMonitor.labels.release=kube-prometheus-stack',
      '--set',
      'monitoring.prometheusRule.enabled=true',
      '--set',
      'monitoring.prometheusRule.labels.release=kube-prometheus-stack',
      '--set',
      'monitoring.grafanaDashboard.enabled=true',
    ],
    external: ['stocklab-secrets'],
  },
  // the CA of a managed PostgreSQL's certificate (RDS) from a ConfigMap, and the backtest pods' IAM role
  'a database CA bundle and IRSA': {
    args: [
      '--set',
      'existingSecret=stocklab-secrets',
      '--set',
      'database.caBundle.configMap=stocklab-database-ca',
      '--set',
      'serviceAccounts.backtest.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/stocklab-backtest',
    ],
    external: ['stocklab-secrets', 'stocklab-database-ca'],
  },
  'no network policies, the database CA bundle from a Secret': {
    args: [
      '--set',
      'existingSecret=stocklab-secrets',
      '--set',
      'networkPolicies.enabled=false',
      '--set',
      'database.caBundle.secret=rds-ca',
      '--set',
      'database.caBundle.key=global-bundle.pem',
    ],
    external: ['stocklab-secrets', 'rds-ca'],
  },
  'fixed replicas and no LEASE_NAME': {
    args: [
      '--set',
      'existingSecret=stocklab-secrets',
      '--set',
      'services.auth.autoscaling.enabled=false',
      '--set',
      'services.trading.env.LEASE_NAME=null',
    ],
    external: ['stocklab-secrets'],
  },
};

describe('helm/stocklab rendered by the real helm', () => {
  let schemas: Record<ServiceName, ConfigSchemaLike>;
  let served: string[];
  let maxUpload: number;
  const rendered = new Map<string, K8sObject[]>();

  beforeAll(async () => {
    schemas = await loadServiceSchemas(root);
    served = servedRootPaths(root);
    maxUpload = Number(schemas.backtest.DATASET_MAX_BYTES?.defaultValue);
    for (const [name, set] of Object.entries(VALUE_SETS)) {
      rendered.set(name, helmTemplate(set.args, root));
    }
  });

  const objectsOf = (name: string): K8sObject[] => {
    const objects = rendered.get(name);
    assert.ok(objects, name);
    return objects;
  };

  for (const [name, set] of Object.entries(VALUE_SETS)) {
    describe(`with ${name}`, () => {
      it('passes helm lint --strict', () => {
        assert.match(helmLint(set.args, root), /0 chart\(s\) failed/);
      });
      it('validates against the Kubernetes schemas', () => {
        assert.deepEqual(validateAgainstSchemas(objectsOf(name)), []);
      });
      it('passes the rules the kustomize overlays pass', () => {
        const objects = objectsOf(name);
        const leaseName = envValue(objects, 'trading', 'LEASE_NAME') ?? schemas.trading.LEASE_NAME?.defaultValue;
        assert.deepEqual(
          [
            ...checkResourcesAndSecurity(objects),
            ...checkImages(objects),
            ...checkProbes(objects, served),
            ...checkSelectors(objects),
            ...checkAutoscalers(objects),
            ...checkIngress(objects),
            ...checkIngressBodySize(objects, maxUpload),
            ...checkRbac(objects, leaseName),
            ...checkServiceAccounts(objects),
            ...checkEnv(objects, schemas),
            ...checkReferences(objects, set.external),
            ...checkChartSecrets(objects, set.external),
            ...checkShutdownAndSpread(objects, schemas),
            ...checkEntryPoints(objects, root),
          ],
          // a Deployment the chart leaves without an autoscaler (a value set's choice) is named, nothing else
          set.args.includes('services.auth.autoscaling.enabled=false')
            ? ['Deployment/stocklab-auth: no HorizontalPodAutoscaler or ScaledObject']
            : [],
        );
      });
    });
  }

  it('matches kustomize prod: grace periods, service accounts, volumes, resources, security contexts, probes, autoscaling, budgets, body size, network flows', () => {
    assert.deepEqual(checkChartParity(objectsOf('an existing Secret'), kustomize(join(root, 'k8s/overlays/prod'))), []);
  });
  it('matches kustomize prod with its database-ca component when the chart mounts the same bundle', () => {
    const prodWithCa = kustomizeComposed([join(root, 'k8s/overlays/prod')], [join(root, 'k8s/components/database-ca')]);
    assert.deepEqual(validateAgainstSchemas(prodWithCa), []);
    // the IRSA annotation is the one difference: kustomize prod leaves it to the operator
    assert.deepEqual(checkChartParity(objectsOf('a database CA bundle and IRSA'), prodWithCa), [
      'ServiceAccount backtest: annotations differs: chart {"eks.amazonaws.com/role-arn":"arn:aws:iam::123456789012:role/stocklab-backtest"} / kustomize undefined',
    ]);
  });

  it('rejects a misspelt field in a rendering (strict Kubernetes 1.34 schemas)', () => {
    const objects = structuredClone(objectsOf('an existing Secret'));
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
      metadata: { name: string };
      spec: { template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } };
    };
    deployment.spec.template.spec.containers[0] = {
      ...deployment.spec.template.spec.containers[0],
      imagePullPolicyy: 'Always',
    };
    deployment.spec.template.spec.securityContxt = { runAsNonRoot: true };
    assert.deepEqual(validateAgainstSchemas(objects), [
      `Deployment/${deployment.metadata.name}: /spec/template/spec: unknown field securityContxt`,
      `Deployment/${deployment.metadata.name}: /spec/template/spec/containers/0: unknown field imagePullPolicyy`,
    ]);
    // a typo in values the chart copies verbatim (resources is passed through toYaml) reaches the manifest
    const typo = helmTemplate(['--set', 'existingSecret=x', '--set', 'services.auth.resources.requestz.cpu=1'], root);
    assert.deepEqual(validateAgainstSchemas(typo), [
      'Deployment/stocklab-auth: /spec/template/spec/containers/0/resources: unknown field requestz',
    ]);
  });

  it('renders the network policies by default, none when networkPolicies.enabled=false', () => {
    const count = (name: string): number => objectsOf(name).filter((o) => o.kind === 'NetworkPolicy').length;
    assert.equal(count('an existing Secret'), 11);
    assert.equal(count('no network policies, the database CA bundle from a Secret'), 0);
  });
  it('lets the helm test pod reach every API and keeps everyone else outside the ingress controller away', () => {
    const objects = objectsOf('an existing Secret');
    const role = (name: string): string => name.replace(/^stocklab-/, '');
    for (const [api, port] of [
      ['auth', 3001],
      ['backtest', 3002],
      ['trading', 3003],
    ] as const) {
      assert.ok(reaches(objects, role, 'test-readiness', api, port), `test pod -> ${api}`);
      assert.ok(!reaches(objects, role, 'backtest-worker', api, port), `worker -> ${api}`);
    }
    assert.ok(reaches(objects, role, 'trading', 'backtest', 3002), 'trading -> backtest');
  });
  it('fails the parity check when the chart allows flows kustomize prod denies (no policies)', () => {
    const problems = checkChartParity(
      objectsOf('no network policies, the database CA bundle from a Secret'),
      kustomize(join(root, 'k8s/overlays/prod')),
    );
    assert.ok(
      problems.includes(
        'NetworkPolicy: ingress another namespace -> auth:3001/TCP allowed by the chart, denied by kustomize prod',
      ),
    );
    assert.ok(
      problems.includes(
        'NetworkPolicy: egress auth -> outside the cluster:443/TCP allowed by the chart, denied by kustomize prod',
      ),
    );
  });

  it('mounts the database CA bundle into every pod that reads DATABASE_URL when database.caBundle is set', () => {
    assert.deepEqual(checkDatabaseCa(objectsOf('a database CA bundle and IRSA')), []);
    assert.deepEqual(checkDatabaseCa(objectsOf('no network policies, the database CA bundle from a Secret')), []);
    // without it, each of them is named: the 4 Deployments and the migration Job's 3 containers
    const without = checkDatabaseCa(objectsOf('an existing Secret'));
    assert.equal(without.length, 7);
    assert.ok(
      without.includes(
        'Job/stocklab-migrate container migrate-auth: reads DATABASE_URL without NODE_EXTRA_CA_CERTS naming the database CA bundle',
      ),
    );
  });
  it('gives the backtest API and worker a ServiceAccount of their own, annotated from values', () => {
    const objects = objectsOf('a database CA bundle and IRSA');
    const account = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'stocklab-backtest');
    assert.deepEqual(account?.metadata.annotations, {
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/stocklab-backtest',
    });
    assert.equal(account?.automountServiceAccountToken, false);
    const accountOf = (name: string): unknown =>
      (
        objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)?.spec as {
          template: { spec: { serviceAccountName?: string } };
        }
      ).template.spec.serviceAccountName;
    assert.equal(accountOf('stocklab-backtest'), 'stocklab-backtest');
    assert.equal(accountOf('stocklab-backtest-worker'), 'stocklab-backtest');
    assert.equal(accountOf('stocklab-trading'), 'stocklab-trading');
  });
  it('names backtest pods left on the default ServiceAccount (as the chart had them)', () => {
    const objects = structuredClone(objectsOf('an existing Secret')).filter(
      (o) => !(o.kind === 'ServiceAccount' && o.metadata.name === 'stocklab-backtest'),
    );
    for (const o of objects.filter((x) => x.kind === 'Deployment' && x.metadata.name.startsWith('stocklab-backtest'))) {
      delete (o.spec as { template: { spec: { serviceAccountName?: string } } }).template.spec.serviceAccountName;
    }
    assert.deepEqual(checkServiceAccounts(objects), [
      "Deployment/stocklab-backtest: runs under the namespace's default ServiceAccount (nothing of its own to annotate for S3)",
      "Deployment/stocklab-backtest-worker: runs under the namespace's default ServiceAccount (nothing of its own to annotate for S3)",
    ]);
  });
});
