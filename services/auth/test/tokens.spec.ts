import assert from 'node:assert/strict';
import { createPrivateKey, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { SignJWT, base64url } from 'jose';
import { generateSigningKeyPair, toVerificationKey, publicPemOf } from '@stocklab/platform';
import { request } from '@stocklab/test-support';
import { assertErrorBody, signupAndLogin, startInProcessAuth, type InProcessAuth } from './support.js';

describe('access token verification', () => {
  let cluster: InProcessAuth;
  let url: string;
  let userId: string;
  let kid: string;

  beforeAll(async () => {
    cluster = await startInProcessAuth();
    url = cluster.url;
    userId = (await signupAndLogin(url)).id;
    kid = (await toVerificationKey(publicPemOf(cluster.keys.privateKeyPem))).kid;
  });
  afterAll(() => cluster.close());

  interface Forge {
    privateKeyPem?: string;
    kid?: string;
    iat?: number;
    exp?: number;
    aud?: string;
    iss?: string;
  }

  async function forge(opts: Forge = {}): Promise<string> {
    const now = Date.now() / 1000;
    return new SignJWT({ roles: ['user', 'admin'], sid: randomUUID() })
      .setProtectedHeader({ alg: 'EdDSA', kid: opts.kid ?? kid, typ: 'at+jwt' })
      .setSubject(userId)
      .setJti(randomUUID())
      .setIssuedAt(opts.iat ?? now)
      .setExpirationTime(opts.exp ?? Math.floor(now) + 600)
      .setIssuer(opts.iss ?? 'stocklab-auth')
      .setAudience(opts.aud ?? 'stocklab')
      .sign(createPrivateKey(opts.privateKeyPem ?? cluster.keys.privateKeyPem));
  }

  async function me(token: string) {
    return request('GET', `${url}/api/auth/me`, { token });
  }

  it('accepts a token signed with the configured key (control)', async () => {
    assert.equal((await me(await forge())).status, 200);
  });

  it('refuses a token signed by another key, under its own kid or ours', async () => {
    const other = generateSigningKeyPair();
    const otherKid = (await toVerificationKey(other.publicKeyPem)).kid;
    for (const token of [
      await forge({ privateKeyPem: other.privateKeyPem, kid: otherKid }),
      await forge({ privateKeyPem: other.privateKeyPem }),
    ]) {
      const res = await me(token);
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'INVALID_TOKEN');
      assertErrorBody(res.body);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
  });

  it('refuses alg none', async () => {
    const valid = await forge();
    const [, payload] = valid.split('.');
    const header = base64url.encode(JSON.stringify({ alg: 'none', kid, typ: 'at+jwt' }));
    assert.equal((await me(`${header}.${payload}.`)).status, 401);
    assert.equal((await me(`${header}.${payload}.x`)).status, 401);
  });

  it('refuses an HS256 token keyed with the public key (algorithm confusion)', async () => {
    const secret = new TextEncoder().encode(cluster.keys.publicKeyPem);
    const token = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .setSubject(userId)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('10m')
      .setIssuer('stocklab-auth')
      .setAudience('stocklab')
      .sign(secret);
    assert.equal((await me(token)).status, 401);
  });

  it('refuses an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await me(await forge({ iat: now - 1200, exp: now - 300 }));
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'TOKEN_EXPIRED');
  });

  it('refuses a token for another audience or issuer', async () => {
    assert.equal((await me(await forge({ aud: 'another-service' }))).status, 401);
    assert.equal((await me(await forge({ iss: 'someone-else' }))).status, 401);
  });

  it('refuses a missing, malformed or non-Bearer Authorization header', async () => {
    const missing = await request('GET', `${url}/api/auth/me`);
    assert.equal(missing.status, 401);
    assert.equal(missing.body.code, 'AUTH_REQUIRED');
    for (const authorization of [
      'Bearer',
      'Bearer abc',
      'Basic dXNlcjpwYXNz',
      `Token ${await forge()}`,
      'Bearer a.b.c.d',
    ]) {
      const res = await request('GET', `${url}/api/auth/me`, { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assertErrorBody(res.body);
    }
  });
});
