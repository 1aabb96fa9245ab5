import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import {
  chartDir,
  checkTemplateValues,
  checkValuesDocumented,
  checkValuesSchema,
  loadValues,
  repoRoot,
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
