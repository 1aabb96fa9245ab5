import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from '@jest/globals';
import { ConfigError, loadConfig } from '@stocklab/platform';
import { authConfigSchema } from '../src/config.js';
import { TokenIssuer } from '../src/tokens/token-issuer.js';
import { AUTH_ENTRY } from './support.js';

function start(env: Record<string, string>) {
  return spawnSync(process.execPath, [AUTH_ENTRY], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20000,
  });
}

/** What main.ts does with the environment before anything else: the config, then the keys. */
async function configure(env: Record<string, string>): Promise<void> {
  await TokenIssuer.create(loadConfig(authConfigSchema, env));
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
    it(`refuses a malformed ${variable} with an error naming it`, async () => {
      await assert.rejects(configure({ [variable]: value }), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, new RegExp(`^Invalid configuration: ${variable} `));
        return true;
      });
    });
  }

  // The process itself, for both kinds of failure main.ts handles: a variable (loadConfigOrExit)
  // and the signing keys (exitOnConfigError around TokenIssuer.create).
  it('stops the process with exit code 78 and one line on stderr when a variable is malformed', () => {
    const result = start({ PORT: 'eighty' });
    assert.equal(result.status, 78);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', /^Invalid configuration: PORT /);
    assert.equal(result.stdout, '');
  });

  it('stops when NODE_ENV=production and no signing key is configured', () => {
    const result = start({ NODE_ENV: 'production' });
    assert.equal(result.status, 78);
    assert.match(
      result.stderr.trim(),
      /^Invalid configuration: JWT_(PUBLIC|PRIVATE)_KEYS? is required when NODE_ENV=production$/,
    );
  });
});
