import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { ACCOUNT_EVENTS_STREAM } from '@stocklab/platform';
import { assertErrorBody, waitFor } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import pg from 'pg';
import { newUser, startInProcessAuth, type InProcessAuth, type NewUser } from './support.js';

/**
 * Every route of the auth service, in-process (supertest against the application built from a
 * TestingModule on a real PostgreSQL and Redis): the guard, the validation and the error filter
 * on each. What needs several replicas or a process lifecycle is in replicas/shutdown/redis-outage.
 */
describe('auth API (in-process)', () => {
  let auth: InProcessAuth;

  beforeAll(async () => {
    auth = await startInProcessAuth({ LOGIN_MAX_FAILURES: '3' });
  });
  afterAll(() => auth.close());

  async function signup(user: NewUser = newUser()): Promise<{ user: NewUser; id: string }> {
    await auth.http().post('/api/auth/signup').send(user).expect(202);
    const { accessToken } = await login(user);
    const me = await auth.http().get('/api/auth/me').set('authorization', `Bearer ${accessToken}`).expect(200);
    return { user, id: me.body.id };
  }

  async function accountsWithEmail(email: string): Promise<number> {
    return withPool(async (pool) => {
      const { rows } = await pool.query('SELECT count(*)::int AS n FROM auth.users WHERE email = $1', [email]);
      return rows[0].n as number;
    });
  }

  async function withPool<T>(work: (pool: pg.Pool) => Promise<T>): Promise<T> {
    const pool = new pg.Pool({ connectionString: auth.db.url, max: 1 });
    try {
      return await work(pool);
    } finally {
      await pool.end();
    }
  }

  async function login(user: Pick<NewUser, 'email' | 'password'>) {
    const res = await auth.http().post('/api/auth/login').send({ email: user.email, password: user.password });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { accessToken: string; refreshToken: string; tokenType: string; expiresIn: number };
  }

  describe('POST /signup', () => {
    it('creates an account, answers 202 without an id or any secret, and the account logs in', async () => {
      const user = newUser();
      const res = await auth.http().post('/api/auth/signup').send(user).expect(202);
      assert.deepEqual(Object.keys(res.body).sort(), ['email', 'message', 'nickname']);
      assert.equal(res.body.email, user.email);
      await login(user);
    });

    it('answers a taken email exactly as a free one (no enumeration) and leaves its account as it was', async () => {
      const { user: owner } = await signup();
      const prober = { ...newUser(), email: owner.email };
      const taken = await auth.http().post('/api/auth/signup').send(prober);
      const free = await auth
        .http()
        .post('/api/auth/signup')
        .send({ ...newUser(), nickname: prober.nickname });
      assert.equal(taken.status, 202, JSON.stringify(taken.body));
      assert.equal(free.status, 202, JSON.stringify(free.body));
      assert.deepEqual({ ...taken.body, email: '' }, { ...free.body, email: '' }, 'the same body either way');
      assert.deepEqual(Object.keys(taken.headers).sort(), Object.keys(free.headers).sort(), 'the same headers');
      assert.equal(await accountsWithEmail(owner.email), 1);
      await login(owner);
      const probe = await auth.http().post('/api/auth/login').send({ email: owner.email, password: prober.password });
      assert.equal(probe.status, 401, 'the prober’s password did not replace the owner’s');
    });

    it('normalises the email (trim, lower case) so that it is unique however typed', async () => {
      const user = newUser();
      await signup({ ...user, email: `  ${user.email.toUpperCase()} ` });
      await auth
        .http()
        .post('/api/auth/signup')
        .send({ ...newUser(), email: user.email })
        .expect(202);
      assert.equal(await accountsWithEmail(user.email), 1);
      await login(user);
    });

    it('refuses a taken nickname with 409 NICKNAME_TAKEN', async () => {
      const { user } = await signup();
      const res = await auth
        .http()
        .post('/api/auth/signup')
        .send({ ...newUser(), nickname: user.nickname });
      assert.equal(res.status, 409);
      assert.equal(res.body.code, 'NICKNAME_TAKEN');
      assertErrorBody(res.body);
      const withTakenEmail = await auth
        .http()
        .post('/api/auth/signup')
        .send({ ...newUser(), email: user.email, nickname: user.nickname.toUpperCase() });
      assert.deepEqual(withTakenEmail.body, res.body, 'a public nickname is refused the same way whatever the email');
    });

    it('takes a Hangul nickname typed as conjoining jamo (NFD) as the same nickname precomposed (NFC)', async () => {
      const suffix = randomUUID().slice(0, 6);
      const composed = `가치${suffix}`;
      await signup({ ...newUser(), nickname: composed });
      const decomposed = composed.normalize('NFD');
      assert.notEqual(decomposed, composed);
      const res = await auth
        .http()
        .post('/api/auth/signup')
        .send({ ...newUser(), nickname: decomposed });
      assert.equal(res.status, 409, 'a look-alike of a taken nickname is the taken nickname');
      assert.equal(res.body.code, 'NICKNAME_TAKEN');
      const other = newUser();
      const accepted = await auth
        .http()
        .post('/api/auth/signup')
        .send({ ...other, nickname: `투자${suffix}`.normalize('NFD') })
        .expect(202);
      assert.equal(accepted.body.nickname, `투자${suffix}`, 'stored and answered in NFC');
    });

    it('validates every field and names the bad ones', async () => {
      const res = await auth
        .http()
        .post('/api/auth/signup')
        .send({ email: 'not-an-email', password: 'short', nickname: '!' });
      assert.equal(res.status, 400);
      assertErrorBody(res.body);
      assert.equal(res.body.code, 'VALIDATION_FAILED');
      for (const field of ['email', 'password', 'nickname']) {
        assert.match(res.body.message, new RegExp(field));
      }
    });
  });

  describe('input hygiene (before parsing and validation)', () => {
    it('answers 400 BODY_TOO_DEEP to a 45,000-level body, no token needed, where it was a 500', async () => {
      for (const path of ['/api/auth/login', '/api/auth/signup']) {
        const res = await auth
          .http()
          .post(path)
          .set('content-type', 'application/json')
          .send(`{"email":${'['.repeat(45_000)}${']'.repeat(45_000)}}`);
        assert.equal(res.status, 400, path);
        assertErrorBody(res.body);
        assert.equal(res.body.code, 'BODY_TOO_DEEP');
      }
    });

    it('answers 400 INVALID_CHARACTERS to NUL and bidi overrides in text fields, and stores nothing', async () => {
      const user = newUser();
      for (const body of [
        { ...user, email: `nul\u0000${user.email}` },
        { ...user, nickname: `evil\u202Etxt.exe` },
      ]) {
        const res = await auth.http().post('/api/auth/signup').send(body);
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assertErrorBody(res.body);
        assert.equal(res.body.code, 'INVALID_CHARACTERS');
      }
      const login = await auth.http().post('/api/auth/login').send({ email: user.email, password: user.password });
      assert.equal(login.status, 401, 'no account was created');
    });
  });

  describe('POST /login', () => {
    it('answers a Bearer token pair with the access token lifetime', async () => {
      const { user } = await signup();
      const tokens = await login(user);
      assert.equal(tokens.tokenType, 'Bearer');
      assert.equal(tokens.expiresIn, auth.config.ACCESS_TOKEN_TTL_SECONDS);
      assert.match(tokens.refreshToken, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(tokens.accessToken.split('.').length, 3);
    });

    it('answers the same 401 for a wrong password and an unknown email', async () => {
      const { user } = await signup();
      const wrong = await auth.http().post('/api/auth/login').send({ email: user.email, password: 'wrong-password' });
      const unknown = await auth.http().post('/api/auth/login').send({ email: newUser().email, password: 'x' });
      for (const res of [wrong, unknown]) {
        assert.equal(res.status, 401);
        assert.equal(res.body.code, 'INVALID_CREDENTIALS');
      }
      assert.equal(wrong.body.message, unknown.body.message);
    });

    it('doubles an account’s lock each time it is locked again within a day; a right password resets it', async () => {
      const { user } = await signup();
      const redis = new Redis(auth.env.REDIS_URL, { keyPrefix: auth.env.REDIS_KEY_PREFIX });
      try {
        const lockFor = async (): Promise<number> => {
          for (let i = 0; i < 3; i += 1) {
            await auth
              .http()
              .post('/api/auth/login')
              .send({ email: user.email, password: `wrong-${i}` })
              .expect(401);
          }
          const locked = await auth.http().post('/api/auth/login').send({ email: user.email, password: user.password });
          assert.equal(locked.status, 429);
          return Number(locked.headers['retry-after']);
        };
        const first = await lockFor();
        assert.ok(first > 850 && first <= 900, `first lock ${first} s (the window)`);
        // the first lock over (its counter gone, as at the end of the window)
        const digest = createHash('sha256').update(user.email).digest('hex').slice(0, 32);
        await redis.del(`login-fail:email:${digest}`);
        const second = await lockFor();
        assert.ok(second > 1750 && second <= 1800, `second lock ${second} s (twice the window)`);
        await redis.del(`login-fail:email:${digest}`);
        await login(user);
        assert.equal(await redis.exists(`login-lock-level:${digest}`), 0, 'the back-off is forgiven');
      } finally {
        redis.disconnect();
      }
    });

    it('does not lock out an address (an office behind one NAT) over a few people’s wrong passwords', async () => {
      const office = { 'x-forwarded-for': '192.0.2.50' };
      for (let i = 0; i < 8; i += 1) {
        const { user } = await signup();
        await auth
          .http()
          .post('/api/auth/login')
          .set(office)
          .send({ email: user.email, password: 'wrong-password' })
          .expect(401);
      }
      const { user: admin } = await signup();
      const res = await auth
        .http()
        .post('/api/auth/login')
        .set(office)
        .send({ email: admin.email, password: admin.password });
      assert.equal(res.status, 200, 'the right password from the same address');
    });

    it('throttles an email after LOGIN_MAX_FAILURES failures: 429 even with the right password', async () => {
      const { user } = await signup();
      for (let i = 0; i < 3; i += 1) {
        await auth.http().post('/api/auth/login').send({ email: user.email, password: 'wrong-password' }).expect(401);
      }
      const res = await auth.http().post('/api/auth/login').send({ email: user.email, password: user.password });
      assert.equal(res.status, 429);
      assert.equal(res.body.code, 'TOO_MANY_LOGIN_ATTEMPTS');
      assert.ok(Number(res.headers['retry-after']) > 0, 'Retry-After says when to come back');
    });
  });

  describe('POST /refresh', () => {
    it('rotates; the old token again within the grace period gets the same answer, later it kills the family', async () => {
      const { user } = await signup();
      const first = await login(user);
      const second = (
        await auth.http().post('/api/auth/refresh').send({ refreshToken: first.refreshToken }).expect(200)
      ).body as { accessToken: string; refreshToken: string };
      assert.notEqual(second.refreshToken, first.refreshToken);
      await auth.http().get('/api/auth/me').auth(second.accessToken, { type: 'bearer' }).expect(200);

      // a retry after a lost answer: the same pair, no new session, nothing revoked
      const retried = await auth
        .http()
        .post('/api/auth/refresh')
        .send({ refreshToken: first.refreshToken })
        .expect(200);
      assert.deepEqual(retried.body, second);
      const stored = await withPool((pool) =>
        pool.query<{ answer: string | null }>(
          `SELECT encode(grace_answer, 'escape') AS answer FROM auth.refresh_tokens WHERE grace_answer IS NOT NULL`,
        ),
      );
      assert.ok(
        stored.rows.every((r) => !String(r.answer).includes(second.refreshToken)),
        'the kept answer is sealed for the token holder',
      );

      // the grace period over (the rotation moved 31 s into the past): a reuse
      await withPool((pool) =>
        pool.query(
          `UPDATE auth.refresh_tokens SET used_at = used_at - interval '31 seconds' WHERE grace_answer IS NOT NULL AND user_id = (SELECT id FROM auth.users WHERE email = $1)`,
          [user.email],
        ),
      );
      const reuse = await auth.http().post('/api/auth/refresh').send({ refreshToken: first.refreshToken });
      assert.equal(reuse.status, 401);
      assert.equal(reuse.body.code, 'REFRESH_TOKEN_REUSED');
      const afterReuse = await auth.http().post('/api/auth/refresh').send({ refreshToken: second.refreshToken });
      assert.equal(afterReuse.status, 401, 'the whole family is revoked');
    });

    it('refuses an unknown token (401) and a malformed one (400)', async () => {
      const unknown = await auth
        .http()
        .post('/api/auth/refresh')
        .send({ refreshToken: 'a'.repeat(43) });
      assert.equal(unknown.status, 401);
      assert.equal(unknown.body.code, 'INVALID_REFRESH_TOKEN');
      const malformed = await auth.http().post('/api/auth/refresh').send({ refreshToken: 'short' });
      assert.equal(malformed.status, 400);
      assertErrorBody(malformed.body);
    });
  });

  describe('POST /logout and /logout-all', () => {
    it('logout revokes that access token and its refresh family, and only those', async () => {
      const { user } = await signup();
      const a = await login(user);
      const b = await login(user);
      await auth.http().post('/api/auth/logout').auth(a.accessToken, { type: 'bearer' }).expect(204);
      await auth.http().get('/api/auth/me').auth(a.accessToken, { type: 'bearer' }).expect(401);
      await auth.http().post('/api/auth/refresh').send({ refreshToken: a.refreshToken }).expect(401);
      await auth.http().get('/api/auth/me').auth(b.accessToken, { type: 'bearer' }).expect(200);
    });

    it('logout-all revokes every session of the user', async () => {
      const { user } = await signup();
      const a = await login(user);
      const b = await login(user);
      await auth.http().post('/api/auth/logout-all').auth(b.accessToken, { type: 'bearer' }).expect(204);
      for (const tokens of [a, b]) {
        await auth.http().get('/api/auth/me').auth(tokens.accessToken, { type: 'bearer' }).expect(401);
        await auth.http().post('/api/auth/refresh').send({ refreshToken: tokens.refreshToken }).expect(401);
      }
      await login(user);
    });

    it('need a token', async () => {
      for (const path of ['/api/auth/logout', '/api/auth/logout-all']) {
        const res = await auth.http().post(path);
        assert.equal(res.status, 401);
        assert.equal(res.body.code, 'AUTH_REQUIRED');
        assert.equal(res.headers['www-authenticate'], 'Bearer');
      }
    });
  });

  describe('GET and DELETE /me', () => {
    it('GET answers the caller with its roles', async () => {
      const { user, id } = await signup();
      const tokens = await login(user);
      const res = await auth.http().get('/api/auth/me').auth(tokens.accessToken, { type: 'bearer' }).expect(200);
      assert.deepEqual(res.body, { id, email: user.email, nickname: user.nickname, roles: ['user'] });
    });

    it('DELETE needs the password (403), then deactivates: tokens refused, login refused', async () => {
      const { user } = await signup();
      const tokens = await login(user);
      const wrong = await auth
        .http()
        .delete('/api/auth/me')
        .auth(tokens.accessToken, { type: 'bearer' })
        .send({ password: 'wrong-password' });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.code, 'INVALID_PASSWORD');
      await auth
        .http()
        .delete('/api/auth/me')
        .auth(tokens.accessToken, { type: 'bearer' })
        .send({ password: user.password })
        .expect(204);
      await auth.http().get('/api/auth/me').auth(tokens.accessToken, { type: 'bearer' }).expect(401);
      await auth.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(401);
    });

    it('DELETE publishes account.deleted (from the outbox, committed with the deletion) with the strategies choice', async () => {
      const redis = new Redis(auth.env.REDIS_URL, { keyPrefix: auth.env.REDIS_KEY_PREFIX });
      try {
        const events = async (): Promise<Array<Record<string, unknown>>> =>
          (await redis.xrange(ACCOUNT_EVENTS_STREAM, '-', '+')).map(
            ([, fields]) => JSON.parse(fields[1] ?? '{}') as Record<string, unknown>,
          );
        const first = await signup();
        const second = await signup();
        const bad = await auth
          .http()
          .delete('/api/auth/me')
          .auth((await login(first.user)).accessToken, { type: 'bearer' })
          .send({ password: first.user.password, strategies: 'sell-later' });
        assert.equal(bad.status, 400);
        assertErrorBody(bad.body);
        for (const [{ user }, strategies] of [
          [first, undefined],
          [second, 'stop'],
        ] as const) {
          await auth
            .http()
            .delete('/api/auth/me')
            .auth((await login(user)).accessToken, { type: 'bearer' })
            .send({ password: user.password, ...(strategies ? { strategies } : {}) })
            .expect(204);
        }
        const published = await waitFor(
          'both deletions on the account event stream',
          async () => {
            const all = (await events()).filter((e) => e.userId === first.id || e.userId === second.id);
            return all.length === 2 ? all : undefined;
          },
          10_000,
          50,
        );
        assert.deepEqual(
          published.map((e) => [e.type, e.userId, e.strategies]),
          [
            ['account.deleted', first.id, 'liquidate'],
            ['account.deleted', second.id, 'stop'],
          ],
        );
        assert.notEqual(published[0]?.eventId, published[1]?.eventId);
        const pool = new pg.Pool({ connectionString: auth.db.url, max: 1 });
        const outbox = await pool
          .query<{ n: string }>(`SELECT count(*) AS n FROM auth.outbox WHERE published_at IS NULL`)
          .finally(() => pool.end());
        assert.equal(outbox.rows[0]?.n, '0');
      } finally {
        redis.disconnect();
      }
    });

    it('DELETE throttles password guesses as a login does: 429 after LOGIN_MAX_FAILURES, even with the right one', async () => {
      const { user } = await signup();
      const tokens = await login(user);
      const remove = (password: string) =>
        auth.http().delete('/api/auth/me').auth(tokens.accessToken, { type: 'bearer' }).send({ password });
      for (let i = 0; i < 3; i += 1) {
        const wrong = await remove('wrong-password');
        assert.equal(wrong.status, 403, JSON.stringify(wrong.body));
      }
      const blocked = await remove(user.password);
      assert.equal(blocked.status, 429);
      assert.equal(blocked.body.code, 'TOO_MANY_LOGIN_ATTEMPTS');
      await auth.http().get('/api/auth/me').auth(tokens.accessToken, { type: 'bearer' }).expect(200);
    });

    it('refuses a forged token with 401 INVALID_TOKEN', async () => {
      const res = await auth.http().get('/api/auth/me').auth('a.b.c', { type: 'bearer' });
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'INVALID_TOKEN');
      assertErrorBody(res.body);
    });
  });

  describe('platform routes', () => {
    it('serves the JWKS publicly, cacheable, with the signing key only', async () => {
      const res = await auth.http().get('/api/auth/.well-known/jwks.json').expect(200);
      assert.equal(res.headers['cache-control'], 'public, max-age=300');
      assert.equal(res.body.keys.length, 1);
      assert.equal(res.body.keys[0].kty, 'OKP');
      assert.equal(res.body.keys[0].d, undefined, 'no private part');
    });

    it('answers liveness and readiness with the checks it made', async () => {
      // liveness judges the event loop since the previous probe; the first covers the whole set-up
      await auth.http().get('/health/live');
      await auth.http().get('/health/live').expect(200);
      const ready = await waitFor(
        'readiness',
        async () => {
          const res = await auth.http().get('/health/ready');
          return res.status === 200 ? res : undefined;
        },
        15_000,
      );
      assert.equal(ready.body.status, 'ok');
      assert.ok(Object.keys(ready.body.info as object).length >= 2, JSON.stringify(ready.body));
    });

    it('exposes Prometheus metrics with the route template, not the raw path', async () => {
      await auth.http().get('/api/auth/me');
      const res = await auth.http().get('/metrics').expect(200);
      assert.match(res.text, /http_request_duration_seconds_bucket\{[^}]*route="\/api\/auth\/me"/);
    });

    it('serves the OpenAPI document listing every route', async () => {
      const res = await auth.http().get('/api/auth/docs/openapi.json').expect(200);
      const paths = Object.keys(res.body.paths as object);
      for (const path of ['signup', 'login', 'refresh', 'logout', 'logout-all', 'me', '.well-known/jwks.json']) {
        assert.ok(paths.includes(`/api/auth/${path}`), `${path} in ${paths.join(', ')}`);
      }
    });

    it('sets the security headers: no sniffing, framing or caching, a strict CSP (the docs UI its own), HSTS over TLS', async () => {
      const { user } = await signup();
      const res = await auth.http().post('/api/auth/login').send({ email: user.email, password: user.password });
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(res.headers['cache-control'], 'no-store', 'a token answer is never cached');
      assert.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
      assert.equal(res.headers['strict-transport-security'], undefined, 'plain HTTP: no HSTS');
      const error = await auth.http().get('/api/auth/nope');
      assert.equal(error.headers['x-content-type-options'], 'nosniff', 'error answers too');
      const jwks = await auth.http().get('/api/auth/.well-known/jwks.json');
      assert.equal(jwks.headers['cache-control'], 'public, max-age=300', 'a route that sets its own caching keeps it');
      const docs = await auth.http().get('/api/auth/docs/');
      assert.equal(docs.status, 200);
      assert.match(String(docs.headers['content-security-policy']), /script-src 'self'/);
      // behind the Ingress (a trusted proxy: loopback here) that terminated TLS
      const overTls = await auth.http().get('/health/live').set('x-forwarded-proto', 'https');
      assert.equal(overTls.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    });

    it('answers an unknown route and invalid JSON with the stable error body', async () => {
      const missing = await auth.http().get('/api/auth/nope');
      assert.equal(missing.status, 404);
      assertErrorBody(missing.body);
      const bad = await auth.http().post('/api/auth/login').set('content-type', 'application/json').send('{"email":');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'INVALID_JSON');
    });
  });
});
