import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { request } from '@stocklab/test-support';
import { login, signupAndLogin, startAuthCluster, type AuthCluster } from './support.js';

const GRANT_ROLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/cli/grant-role.js');

describe('grant-role', () => {
  let cluster: AuthCluster;
  beforeAll(async () => {
    cluster = await startAuthCluster(1);
  });
  afterAll(() => cluster.close());

  const run = (...args: string[]) =>
    spawnSync(process.execPath, [GRANT_ROLE, ...args], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: cluster.db.url },
      encoding: 'utf8',
    });

  it('grants a role that the next login carries, and revokes it', async () => {
    const url = cluster.replicas.at(0).url;
    const { user } = await signupAndLogin(url);
    const granted = run(user.email.toUpperCase(), 'admin');
    assert.equal(granted.status, 0, granted.stderr);
    const me = await request<{ roles: string[] }>('GET', `${url}/api/auth/me`, {
      token: (await login(url, user)).accessToken,
    });
    assert.deepEqual(me.body.roles, ['user', 'admin']);
    assert.equal(run(user.email, 'admin').status, 0, 'granting twice is harmless');
    assert.equal(run(user.email, 'admin', '--revoke').status, 0);
    assert.deepEqual(
      (await request('GET', `${url}/api/auth/me`, { token: (await login(url, user)).accessToken })).body.roles,
      ['user'],
    );
  });

  it('refuses an unknown account and a malformed role', () => {
    assert.equal(run('nobody@example.com', 'admin').status, 1);
    assert.equal(run('x@example.com', 'Admin; DROP TABLE').status, 64);
  });
});
