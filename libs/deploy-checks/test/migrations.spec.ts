import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import {
  checkMigrationRelease,
  immutableJobChanges,
  kustomize,
  kustomizeComposed,
  migrationJobs,
  repoRoot,
  SERVICE_NAMES,
  type K8sObject,
} from '../src/index.js';

const root = repoRoot();

/** A release as the README tells an operator to make one: the three tags and the Job's name. */
function release(overlay: string, tag: string, renameJob: boolean): K8sObject[] {
  return kustomizeComposed(
    [overlay],
    [],
    [
      'images:',
      ...SERVICE_NAMES.map((s) => `  - { name: ghcr.io/stocklab/${s}, newTag: "${tag}" }`),
      ...(renameJob
        ? [
            'patches:',
            '  - target: { kind: Job, labelSelector: app.kubernetes.io/component=migrations }',
            '    patch: |-',
            `      - { op: replace, path: /metadata/name, value: stocklab-migrate-${tag.replace(/\./g, '-')} }`,
          ]
        : []),
    ],
  );
}

/** Configuration changed without a new release: every generated ConfigMap (and dev's Secret). */
function configChange(overlay: string, secrets: boolean): K8sObject[] {
  return kustomizeComposed(
    [overlay],
    [],
    [
      'configMapGenerator:',
      ...['stocklab-common', 'auth-config', 'backtest-config', 'trading-config'].map(
        (name) => `  - { name: ${name}, behavior: merge, literals: [LOG_LEVEL=warn] }`,
      ),
      ...(secrets
        ? ['secretGenerator:', '  - { name: stocklab-secrets, behavior: merge, literals: [S3_ACCESS_KEY_ID=rotated] }']
        : []),
    ],
  );
}

const configMapNames = (objs: K8sObject[]): string[] =>
  objs
    .filter((o) => o.kind === 'ConfigMap')
    .map((o) => o.metadata.name)
    .sort();

for (const [name, secrets] of [
  ['dev', true],
  ['prod', false],
] as const) {
  const overlay = join(root, 'k8s/overlays', name);
  describe(`kustomize migrations, overlay ${name}`, () => {
    const current = kustomize(overlay);

    it('runs one migration Job per release, named after the tag all its images carry', () => {
      assert.deepEqual(checkMigrationRelease(current), []);
    });

    it('applies over itself after a configuration change: the Job keeps its name and its template', () => {
      const changed = configChange(overlay, secrets);
      // the change is real: the generated ConfigMaps got new names, so the Deployments roll
      assert.notDeepEqual(configMapNames(changed), configMapNames(current));
      assert.deepEqual(immutableJobChanges(current, changed), []);
      assert.deepEqual(
        migrationJobs(changed).map((j) => j.metadata.name),
        migrationJobs(current).map((j) => j.metadata.name),
      );
    });
  });
}

describe('kustomize migrations, a new release of prod', () => {
  const overlay = join(root, 'k8s/overlays/prod');
  const current = kustomize(overlay);

  it('is a new Job when the release renames it with the tags (the README procedure)', () => {
    const next = release(overlay, '0.2.0', true);
    assert.deepEqual(checkMigrationRelease(next), []);
    assert.deepEqual(immutableJobChanges(current, next), []);
    assert.deepEqual(
      migrationJobs(next).map((j) => j.metadata.name),
      ['stocklab-migrate-0-2-0'],
    );
  });

  it('is caught when the tags change and the Job name does not (apply would be refused)', () => {
    const forgotten = release(overlay, '0.2.0', false);
    const job = migrationJobs(current)[0]?.metadata.name;
    assert.deepEqual(checkMigrationRelease(forgotten), [
      `Job/${String(job)}: must be named stocklab-migrate-0-2-0 after the release its images carry`,
    ]);
    assert.deepEqual(immutableJobChanges(current, forgotten), [
      `Job/${String(job)}: same name, different pod template: kubectl apply would be refused`,
    ]);
  });
});
