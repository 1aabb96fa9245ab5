import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSigningKeyPair } from '@stocklab/platform';
import {
  createTestDatabase,
  PrivateRedis,
  request,
  startReplicas,
  type ReplicaSet,
  type TestDatabase,
} from '@stocklab/test-support';
import { AUTH_ENTRY, authEnv, signupAndLogin } from './support.js';

/** Polls until `check` holds, for at most `ms` (a bound on recovery, not a performance assertion). */
async function eventually(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) {
      return;
    }
    await sleep(100);
  }
  assert.fail(`${what} did not happen within ${ms} ms`);
}

describe('when Redis is unreachable', () => {
  let db: TestDatabase;
  let redis: PrivateRedis;
  let replicas: ReplicaSet;
  let url: string;

  before(async () => {
    db = await createTestDatabase('stocklab_auth');
    redis = await PrivateRedis.start();
    replicas = await startReplicas(1, {
      entry: AUTH_ENTRY,
      env: authEnv(db, generateSigningKeyPair(), { REDIS_URL: redis.url }),
      name: 'auth',
    });
    url = replicas.at(0).url;
  });
  after(async () => {
    await replicas.stopAll(5000);
    await redis.stop();
    await db.drop();
  });

  it('fails closed with 503, reports not ready, and recovers by itself when Redis returns', async () => {
    const { tokens, user } = await signupAndLogin(url);
    assert.equal((await request('GET', `${url}/api/auth/me`, { token: tokens.accessToken })).status, 200);

    await redis.stop();

    const me = await request('GET', `${url}/api/auth/me`, { token: tokens.accessToken });
    assert.equal(me.status, 503, 'a token that cannot be checked is never accepted');
    assert.equal(me.body.code, 'REVOCATION_UNAVAILABLE');
    const ready = await request('GET', `${url}/health/ready`);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.details.redis.status, 'down');
    assert.equal(ready.body.details.postgres.status, 'up');
    assert.equal((await request('GET', `${url}/health/live`)).status, 200, 'liveness does not depend on Redis');
    const loginDuringOutage = await request('POST', `${url}/api/auth/login`, {
      body: { email: user.email, password: user.password },
    });
    assert.equal(loginDuringOutage.status, 503, 'the login throttle cannot be checked either');

    await redis.start();

    await eventually(
      'readiness back to 200',
      15000,
      async () => (await request('GET', `${url}/health/ready`)).status === 200,
    );
    assert.equal((await request('GET', `${url}/api/auth/me`, { token: tokens.accessToken })).status, 200);
    assert.equal(replicas.at(0).running, true, 'no restart was needed');
  });
});
