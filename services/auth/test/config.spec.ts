import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { AUTH_ENTRY } from './support.js';

function start(env: Record<string, string>) {
  return spawnSync(process.execPath, [AUTH_ENTRY], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20000,
  });
}

describe('configuration at start', () => {
  for (const [variable, value] of [
    ['PORT', 'eighty'],
    ['DATABASE_URL', 'mysql://localhost/x'],
    ['REDIS_URL', 'not a url'],
    ['RUN_MIGRATIONS', 'maybe'],
    ['ACCESS_TOKEN_TTL_SECONDS', '-5'],
    ['JWT_PUBLIC_KEYS', 'not a pem'],
  ] as const) {
    it(`stops with one line naming ${variable} when it is malformed`, () => {
      const result = start({ [variable]: value });
      assert.equal(result.status, 78);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0] ?? '', new RegExp(`^Invalid configuration: ${variable} `));
      assert.equal(result.stdout, '');
    });
  }

  it('stops when NODE_ENV=production and no signing key is configured', () => {
    const result = start({ NODE_ENV: 'production' });
    assert.equal(result.status, 78);
    assert.match(
      result.stderr.trim(),
      /^Invalid configuration: JWT_(PUBLIC|PRIVATE)_KEYS? is required when NODE_ENV=production$/,
    );
  });
});
