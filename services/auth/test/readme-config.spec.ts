import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { authConfigSchema } from '../src/config.js';

const README = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../README.md');

describe('README configuration table', () => {
  it('lists every variable the auth service reads, with its default', () => {
    const readme = readFileSync(README, 'utf8');
    for (const [name, spec] of Object.entries(authConfigSchema)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      assert.ok(row, `${name} has a row`);
      if (spec.defaultValue !== undefined) {
        assert.ok(row.includes(`\`${spec.defaultValue}\``), `${name}'s row shows its default ${spec.defaultValue}`);
      }
    }
  });
});
