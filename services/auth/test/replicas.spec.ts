import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { request } from '@stocklab/test-support';
import {
  assertErrorBody,
  login,
  newUser,
  signupAndLogin,
  startAuthCluster,
  testNetAddress,
  type AuthCluster,
} from './support.js';

describe('auth across replicas', () => {
  let cluster: AuthCluster;
  let a: string;
  let b: string;

  beforeAll(async () => {
    // low address caps, to see them hold across replicas (their defaults are a coarse 100 and 20)
    cluster = await startAuthCluster(2, { LOGIN_MAX_FAILURES_PER_ADDRESS: '5', SIGNUP_MAX_PER_ADDRESS: '5' });
    a = cluster.replicas.at(0).url;
    b = cluster.replicas.at(1).url;
  });
  afterAll(() => cluster.close());

  it('signs up on A, logs in on B, and reads /me on A with B’s token', async () => {
    const user = newUser();
    const signup = await request('POST', `${a}/api/auth/signup`, {
      body: { ...user, email: `  ${user.email.toUpperCase()} ` },
      headers: { 'x-forwarded-for': testNetAddress() },
    });
    assert.equal(signup.status, 202);
    assert.equal(signup.body.email, user.email, 'email is normalized');
    const tokens = await login(b, user);
    const me = await request('GET', `${a}/api/auth/me`, { token: tokens.accessToken });
    assert.equal(me.status, 200);
    assert.deepEqual(
      { ...me.body, id: undefined },
      { id: undefined, email: user.email, nickname: user.nickname, roles: ['user'] },
    );
  });

  it('answers a taken email as a free one and refuses a taken nickname with 409, whichever replica gets it', async () => {
    const { user } = await signupAndLogin(a);
    const headers = { 'x-forwarded-for': testNetAddress() };
    const sameEmail = await request('POST', `${b}/api/auth/signup`, {
      body: { ...newUser(), email: user.email },
      headers,
    });
    assert.equal(sameEmail.status, 202);
    const sameNick = await request('POST', `${b}/api/auth/signup`, {
      body: { ...newUser(), nickname: user.nickname.toUpperCase() },
      headers,
    });
    assert.equal(sameNick.status, 409);
    assert.equal(sameNick.body.code, 'NICKNAME_TAKEN');
  });

  it('accepts at most SIGNUP_MAX_PER_ADDRESS of 30 signups sent at once from one address to both replicas', async () => {
    const headers = { 'x-forwarded-for': testNetAddress() };
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        request('POST', `${i % 2 === 0 ? a : b}/api/auth/signup`, { body: newUser(), headers }),
      ),
    );
    const statuses = answers.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 202).length, 5, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 25, statuses.join(','));
    const refused = answers.find((r) => r.status === 429);
    assert.equal(refused?.body.code, 'TOO_MANY_SIGNUPS');
    assertErrorBody(refused?.body);
    assert.ok(Number(refused?.headers.get('retry-after')) > 0, 'Retry-After names the wait');
    const elsewhere = await request('POST', `${b}/api/auth/signup`, {
      body: newUser(),
      headers: { 'x-forwarded-for': testNetAddress() },
    });
    assert.equal(elsewhere.status, 202, 'another address is not affected');
  });

  it('answers the same 401 for an unknown email and a wrong password', async () => {
    const { user } = await signupAndLogin(a);
    const headers = { 'x-forwarded-for': '192.0.2.10' };
    const wrong = await request('POST', `${b}/api/auth/login`, {
      body: { email: user.email, password: 'not-the-password' },
      headers,
    });
    const unknown = await request('POST', `${b}/api/auth/login`, {
      body: { email: newUser().email, password: 'whatever-password' },
      headers,
    });
    assert.equal(wrong.status, 401);
    assert.deepEqual(unknown.body, wrong.body);
    assertErrorBody(wrong.body);
  });

  it('refuses a logged-out token on the other replica in the very next request', async () => {
    const { tokens } = await signupAndLogin(a);
    assert.equal((await request('GET', `${b}/api/auth/me`, { token: tokens.accessToken })).status, 200);
    assert.equal((await request('POST', `${a}/api/auth/logout`, { token: tokens.accessToken })).status, 204);
    const onB = await request('GET', `${b}/api/auth/me`, { token: tokens.accessToken });
    assert.equal(onB.status, 401);
    assert.equal(onB.body.code, 'TOKEN_REVOKED');
    const refresh = await request('POST', `${b}/api/auth/refresh`, { body: { refreshToken: tokens.refreshToken } });
    assert.equal(refresh.status, 401, 'the session’s refresh family is revoked too');
  });

  it('logout-all on B refuses every token of the user on A, and only that user’s', async () => {
    const { user, tokens: first } = await signupAndLogin(a);
    const second = await login(b, user);
    const other = await signupAndLogin(a);
    assert.equal((await request('POST', `${b}/api/auth/logout-all`, { token: second.accessToken })).status, 204);
    for (const token of [first.accessToken, second.accessToken]) {
      const res = await request('GET', `${a}/api/auth/me`, { token });
      assert.equal(res.status, 401);
    }
    for (const refreshToken of [first.refreshToken, second.refreshToken]) {
      assert.equal((await request('POST', `${a}/api/auth/refresh`, { body: { refreshToken } })).status, 401);
    }
    assert.equal((await request('GET', `${a}/api/auth/me`, { token: other.tokens.accessToken })).status, 200);
    const again = await login(a, user);
    assert.equal(
      (await request('GET', `${b}/api/auth/me`, { token: again.accessToken })).status,
      200,
      'a new login works',
    );
  });

  it('rotates refresh tokens; one presented again after its successor was used kills its whole family', async () => {
    const { tokens } = await signupAndLogin(a);
    const rotated = await request('POST', `${b}/api/auth/refresh`, { body: { refreshToken: tokens.refreshToken } });
    assert.equal(rotated.status, 200);
    assert.equal(rotated.body.tokenType, 'Bearer');
    assert.notEqual(rotated.body.refreshToken, tokens.refreshToken);
    assert.equal((await request('GET', `${a}/api/auth/me`, { token: rotated.body.accessToken })).status, 200);
    const newest = await request('POST', `${a}/api/auth/refresh`, {
      body: { refreshToken: rotated.body.refreshToken },
    });
    assert.equal(newest.status, 200);

    const reuse = await request('POST', `${a}/api/auth/refresh`, { body: { refreshToken: tokens.refreshToken } });
    assert.equal(reuse.status, 401);
    assert.equal(reuse.body.code, 'REFRESH_TOKEN_REUSED');
    const next = await request('POST', `${b}/api/auth/refresh`, { body: { refreshToken: newest.body.refreshToken } });
    assert.equal(next.status, 401, 'the newest token of the family is dead as well');
    assert.equal(
      (await request('GET', `${b}/api/auth/me`, { token: newest.body.accessToken })).status,
      401,
      'and so are its access tokens',
    );
  });

  it('answers two simultaneous refreshes with the same token on two replicas alike, and the session lives on', async () => {
    const { tokens } = await signupAndLogin(a);
    const [x, y] = await Promise.all([
      request('POST', `${a}/api/auth/refresh`, { body: { refreshToken: tokens.refreshToken } }),
      request('POST', `${b}/api/auth/refresh`, { body: { refreshToken: tokens.refreshToken } }),
    ]);
    assert.deepEqual([x.status, y.status], [200, 200], JSON.stringify([x.body, y.body]));
    assert.deepEqual(x.body, y.body, 'the same answer, not a second session');
    const onward = await request('POST', `${b}/api/auth/refresh`, { body: { refreshToken: x.body.refreshToken } });
    assert.equal(onward.status, 200);
    assert.equal((await request('GET', `${a}/api/auth/me`, { token: onward.body.accessToken })).status, 200);
  });

  it('deactivates an account with its password and refuses all its tokens', async () => {
    const { user, tokens } = await signupAndLogin(a);
    const wrong = await request('DELETE', `${b}/api/auth/me`, {
      token: tokens.accessToken,
      body: { password: 'wrong-password' },
    });
    assert.equal(wrong.status, 403);
    assert.equal(
      (await request('GET', `${a}/api/auth/me`, { token: tokens.accessToken })).status,
      200,
      'a wrong password changes nothing',
    );
    const ok = await request('DELETE', `${b}/api/auth/me`, {
      token: tokens.accessToken,
      body: { password: user.password },
    });
    assert.equal(ok.status, 204);
    assert.equal((await request('GET', `${a}/api/auth/me`, { token: tokens.accessToken })).status, 401);
    const relogin = await request('POST', `${a}/api/auth/login`, {
      body: { email: user.email, password: user.password },
      headers: { 'x-forwarded-for': '192.0.2.11' },
    });
    assert.equal(relogin.status, 401);
  });

  it('gives the 6th failed login within the window a 429 whichever replica it reaches', async () => {
    const { user } = await signupAndLogin(a);
    // the client address as set by a trusted proxy hop (loopback); counters are per cluster key prefix
    const headers = { 'x-forwarded-for': '198.51.100.7' };
    for (let i = 0; i < 5; i += 1) {
      const replica = i % 2 === 0 ? a : b;
      const res = await request('POST', `${replica}/api/auth/login`, {
        body: { email: user.email, password: `wrong-${i}` },
        headers,
      });
      assert.equal(res.status, 401, `failure ${i + 1} is a plain 401`);
    }
    const sixth = await request('POST', `${b}/api/auth/login`, {
      body: { email: user.email, password: user.password },
      headers,
    });
    assert.equal(sixth.status, 429);
    assert.equal(sixth.body.code, 'TOO_MANY_LOGIN_ATTEMPTS');
    assert.ok(Number(sixth.headers.get('retry-after')) > 0, 'Retry-After is set');
    const onA = await request('POST', `${a}/api/auth/login`, { body: { email: user.email, password: user.password } });
    assert.equal(onA.status, 429, 'per-email counter holds from another address and replica');
  });

  it('verifies at most LOGIN_MAX_FAILURES passwords of 30 wrong ones sent at once to both replicas', async () => {
    const { user } = await signupAndLogin(a);
    const headers = { 'x-forwarded-for': '198.51.100.30' };
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        request('POST', `${i % 2 === 0 ? a : b}/api/auth/login`, {
          body: { email: user.email, password: `wrong-${i}` },
          headers,
        }),
      ),
    );
    const statuses = answers.map((res) => res.status);
    // each attempt is counted before its password is checked: the limit holds however they interleave
    assert.equal(statuses.filter((status) => status === 401).length, 5, statuses.join(','));
    assert.equal(statuses.filter((status) => status === 429).length, 25, statuses.join(','));
    const right = await request('POST', `${b}/api/auth/login`, {
      body: { email: user.email, password: user.password },
      headers,
    });
    assert.equal(right.status, 429, 'the right password does not slip in after the limit');
  });

  it('counts failures per client address across emails', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.9' };
    for (let i = 0; i < 5; i += 1) {
      const res = await request('POST', `${i % 2 ? a : b}/api/auth/login`, {
        body: { email: newUser().email, password: 'wrong-password' },
        headers,
      });
      assert.equal(res.status, 401);
    }
    const { user } = await signupAndLogin(a);
    const blocked = await request('POST', `${a}/api/auth/login`, {
      body: { email: user.email, password: user.password },
      headers,
    });
    assert.equal(blocked.status, 429);
  });

  it('serves the same JWKS from every replica', async () => {
    const [ja, jb] = await Promise.all([a, b].map((url) => request('GET', `${url}/api/auth/.well-known/jwks.json`)));
    assert.equal(ja?.status, 200);
    assert.deepEqual(ja?.body, jb?.body);
    const key = (ja?.body as { keys: Array<Record<string, string>> }).keys[0];
    assert.equal(key?.alg, 'EdDSA');
    assert.equal(key?.kty, 'OKP');
    assert.ok(key?.kid && key.kid.length >= 43, 'kid is a SHA-256 thumbprint');
    assert.equal(key?.d, undefined, 'no private part');
  });
});
