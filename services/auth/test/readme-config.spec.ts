import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from '@jest/globals';
import { undocumentedVariables } from '@stocklab/test-support';
import { authConfigSchema } from '../src/config.js';

const README = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../README.md');

describe('README configuration table', () => {
  it('lists every variable the auth service reads, with its default', () => {
    assert.deepEqual(undocumentedVariables(README, authConfigSchema), []);
  });
});
