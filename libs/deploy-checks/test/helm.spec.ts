import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, it } from '@jest/globals';
import {
  chartDir,
  checkAutoscalers,
  checkChartParity,
  checkChartSecrets,
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
  checkShutdownAndSpread,
  checkTemplateValues,
  checkValuesDocumented,
  checkValuesSchema,
  envValue,
  helmLint,
  helmTemplate,
  kustomize,
  loadServiceSchemas,
  loadValues,
  repoRoot,
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
  it('the schema rejects what it should (a latest tag, one replica of HPA minimum)', () => {
    const values = loadValues(root);
    const bad = structuredClone(values) as {
      image: { tag: string };
      services: { auth: { autoscaling: { minReplicas: number } } };
    };
    bad.image.tag = 'latest';
    bad.services.auth.autoscaling.minReplicas = 1;
    assert.equal(checkValuesSchema(bad, root).length, 2);
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

  it('matches kustomize prod: grace periods, resources, security contexts, probes, autoscaling, budgets, body size', () => {
    assert.deepEqual(checkChartParity(objectsOf('an existing Secret'), kustomize(join(root, 'k8s/overlays/prod'))), []);
  });
});
