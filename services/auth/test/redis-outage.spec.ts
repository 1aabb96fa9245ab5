import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { ACCOUNT_EVENTS_STREAM, generateSigningKeyPair } from '@stocklab/platform';
import {
  createTestDatabase,
  PrivateRedis,
  request,
  startReplicas,
  waitFor,
  type ReplicaSet,
  type TestDatabase,
  readinessWithDown,
  readinessUp,
} from '@stocklab/test-support';
import { Redis } from 'ioredis';
import { AUTH_ENTRY, authEnv, signupAndLogin } from './support.js';

describe('when Redis is unreachable', () => {
  let db: TestDatabase;
  let redis: PrivateRedis;
  let replicas: ReplicaSet;
  let url: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('stocklab_auth');
    redis = await PrivateRedis.start();
    env = authEnv(db, generateSigningKeyPair(), { REDIS_URL: redis.url });
    replicas = await startReplicas(1, { entry: AUTH_ENTRY, env, name: 'auth' });
    url = replicas.at(0).url;
  });
  afterAll(async () => {
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
    assert.equal(me.headers.get('retry-after'), '1', 'the client is told when to come back');
    // Redis down (and with it the revocation list), PostgreSQL up
    await readinessWithDown(url, ['redis', 'revocations'], { mayTimeOut: ['redis', 'revocations'] });
    assert.equal((await request('GET', `${url}/health/live`)).status, 200, 'liveness does not depend on Redis');
    const loginDuringOutage = await request('POST', `${url}/api/auth/login`, {
      body: { email: user.email, password: user.password },
    });
    assert.equal(loginDuringOutage.status, 503, 'the login throttle cannot be checked either');

    await redis.start();

    await readinessUp(url);
    assert.equal((await request('GET', `${url}/api/auth/me`, { token: tokens.accessToken })).status, 200);
    assert.equal(replicas.at(0).running, true, 'no restart was needed');
  });

  it('keeps a logged-out token refused after Redis comes back empty: the list is restored from PostgreSQL', async () => {
    const { tokens: loggedOut } = await signupAndLogin(url);
    const { tokens: allOut, user: allOutUser } = await signupAndLogin(url);
    const { tokens: innocent } = await signupAndLogin(url);
    assert.equal((await request('POST', `${url}/api/auth/logout`, { token: loggedOut.accessToken })).status, 204);
    assert.equal((await request('POST', `${url}/api/auth/logout-all`, { token: allOut.accessToken })).status, 204);
    const { tokens: leaving, user: leaver, id: leaverId } = await signupAndLogin(url);
    const deleted = await request('DELETE', `${url}/api/auth/me`, {
      token: leaving.accessToken,
      body: { password: leaver.password },
    });
    assert.equal(deleted.status, 204);
    const deletionOnStream = async (): Promise<true | undefined> => {
      const client = new Redis(redis.url, { keyPrefix: env.REDIS_KEY_PREFIX, maxRetriesPerRequest: 1 });
      try {
        const entries = await client.xrange(ACCOUNT_EVENTS_STREAM, '-', '+');
        return entries.some(([, fields]) => fields[1]?.includes(leaverId)) ? true : undefined;
      } finally {
        client.disconnect();
      }
    };
    await waitFor('the deletion published', deletionOnStream, 10_000, 50);

    await redis.stop(); // SIGKILL of a Redis without persistence: every key is gone
    await redis.start();

    // until the list is back, nothing is accepted; once it is, the revoked tokens are refused again
    const seen: string[] = [];
    await waitFor(
      'readiness back to 200',
      async () => {
        const res = await request('GET', `${url}/api/auth/me`, { token: loggedOut.accessToken });
        seen.push(`${res.status} ${String(res.body.code)}`);
        return (await request('GET', `${url}/health/ready`)).status === 200 ? true : undefined;
      },
      15000,
    );
    assert.ok(
      seen.every((s) => s === '503 REVOCATION_UNAVAILABLE' || s.startsWith('401')),
      `the logged-out token was never accepted meanwhile: ${seen.join(', ')}`,
    );
    for (const token of [loggedOut.accessToken, allOut.accessToken]) {
      const res = await request('GET', `${url}/api/auth/me`, { token });
      assert.equal(res.status, 401, 'a revoked token stays revoked across the Redis restart');
    }
    assert.equal((await request('GET', `${url}/api/auth/me`, { token: innocent.accessToken })).status, 200);
    // the event stream went with the rest: the recent events are published again (consumers
    // that had not taken the deletion yet still get it)
    await waitFor('the deletion published again', deletionOnStream, 10_000, 50);
    const relogin = await request('POST', `${url}/api/auth/login`, {
      body: { email: allOutUser.email, password: allOutUser.password },
    });
    assert.equal(relogin.status, 200);
    assert.equal(
      (await request('GET', `${url}/api/auth/me`, { token: relogin.body.accessToken })).status,
      200,
      'a token issued after logout-all works',
    );
  });
});
