import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import pg from 'pg';
import { request, readinessUp } from '@stocklab/test-support';
import { assertErrorBody, newUser, signupAndLogin, startInProcessAuth, type InProcessAuth } from './support.js';

describe('bad input', () => {
  let cluster: InProcessAuth;
  let url: string;
  let token: string;

  beforeAll(async () => {
    cluster = await startInProcessAuth();
    url = cluster.url;
    token = (await signupAndLogin(url)).tokens.accessToken;
  });
  afterAll(() => cluster.close());

  const endpoints: Array<{ method: string; path: string; auth: boolean; valid: Record<string, unknown> }> = [
    {
      method: 'POST',
      path: '/api/auth/signup',
      auth: false,
      valid: { email: 'x@example.com', password: '0123456789', nickname: 'abc' },
    },
    { method: 'POST', path: '/api/auth/login', auth: false, valid: { email: 'x@example.com', password: '0123456789' } },
    { method: 'POST', path: '/api/auth/refresh', auth: false, valid: { refreshToken: 'a'.repeat(43) } },
    { method: 'DELETE', path: '/api/auth/me', auth: true, valid: { password: 'x' } },
  ];

  const cases: Array<[string, (valid: Record<string, unknown>) => { body?: unknown; rawBody?: string }, number]> = [
    ['invalid JSON', () => ({ rawBody: '{"email": ' }), 400],
    ['a JSON array', () => ({ rawBody: '[1,2,3]' }), 400],
    ['a JSON string', () => ({ rawBody: '"hello"' }), 400],
    ['null', () => ({ rawBody: 'null' }), 400],
    ['an empty object', () => ({ body: {} }), 400],
    ['an unknown field', (v) => ({ body: { ...v, isAdmin: true } }), 400],
    ['numbers for strings', (v) => ({ body: Object.fromEntries(Object.keys(v).map((k) => [k, 12345])) }), 400],
    [
      'nested objects for strings',
      (v) => ({ body: Object.fromEntries(Object.keys(v).map((k) => [k, { $ne: null }])) }),
      400,
    ],
    ['a 2 MB body', (v) => ({ body: { ...v, padding: 'x'.repeat(2 * 1024 * 1024) } }), 413],
  ];

  for (const endpoint of endpoints) {
    for (const [name, make, status] of cases) {
      it(`${endpoint.method} ${endpoint.path} with ${name}: ${status} and the stable error body`, async () => {
        const res = await request(endpoint.method, `${url}${endpoint.path}`, {
          ...make(endpoint.valid),
          token: endpoint.auth ? token : undefined,
        });
        assert.equal(res.status, status, JSON.stringify(res.body));
        assertErrorBody(res.body);
        assert.equal(res.body.statusCode, status);
        if (name === 'invalid JSON') {
          assert.equal(res.body.code, 'INVALID_JSON');
        }
        if (status === 413) {
          assert.equal(res.body.code, 'PAYLOAD_TOO_LARGE');
        }
      });
    }
  }

  it('rejects a short password, a bad email and a bad nickname with messages naming them', async () => {
    const res = await request('POST', `${url}/api/auth/signup`, {
      body: { email: 'not-an-email', password: 'short', nickname: 'x' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_FAILED');
    for (const field of ['email', 'password', 'nickname']) {
      assert.match(res.body.message, new RegExp(field));
    }
  });

  it('treats SQL and script injection in fields as plain data', async () => {
    const user = { ...newUser(), nickname: 'robert_drop' };
    const injected = await request('POST', `${url}/api/auth/login`, {
      body: { email: "' OR 1=1; --", password: "' OR '1'='1" },
      headers: { 'x-forwarded-for': '192.0.2.50' },
    });
    assert.equal(injected.status, 401);
    const nick = await request('POST', `${url}/api/auth/signup`, {
      body: { ...user, nickname: '<script>alert(1)</script>' },
    });
    assert.equal(nick.status, 400);
  });

  it('answers unknown routes and methods with the stable 404 body', async () => {
    for (const [method, path] of [
      ['GET', '/api/auth/nope'],
      ['PUT', '/api/auth/login'],
      ['GET', '/api/auth/..%2f..%2fetc%2fpasswd'],
      ['GET', '/%E0%A4%A'],
    ]) {
      const res = await request(method, `${url}${path}`);
      assert.ok(res.status === 404 || res.status === 400, `${method} ${path}: ${res.status}`);
      assertErrorBody(res.body);
    }
  });

  it('writes nothing for a rejected signup', async () => {
    const user = newUser();
    const res = await request('POST', `${url}/api/auth/signup`, { body: { ...user, password: 'short' } });
    assert.equal(res.status, 400);
    const client = new pg.Client({ connectionString: cluster.db.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM auth.users WHERE email = $1', [user.email]);
      assert.equal(rows[0].n, 0);
    } finally {
      await client.end();
    }
  });

  it('is still ready after all of that', async () => {
    await readinessUp(url);
  });
});
