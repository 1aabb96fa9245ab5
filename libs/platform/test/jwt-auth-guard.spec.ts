import assert from 'node:assert/strict';
import { createPrivateKey, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { markRevocationListRestored, testRedisUrl, uniqueKeyPrefix } from '@stocklab/test-support';
import {
  AccessTokenVerifier,
  AnyRole,
  createRedisClient,
  DomainError,
  generateSigningKeyPair,
  JwtAuthGuard,
  Public,
  publicPemOf,
  RevocationStore,
  Roles,
  toVerificationKey,
  type AuthenticatedRequest,
} from '../src/index.js';

/** Routes as the services declare them: the guard reads these decorators through Nest's Reflector. */
class Routes {
  @Public()
  health(): void {}

  signedIn(): void {}

  @Roles('admin', 'auditor')
  adminAndAuditor(): void {}

  @AnyRole('admin', 'market-ingest')
  ingest(): void {}
}

@Roles('admin')
class AdminRoutes {
  everything(): void {}

  @Public()
  openAnyway(): void {}
}

describe(JwtAuthGuard.name, () => {
  const keys = generateSigningKeyPair();
  let redis: Redis;
  let revocations: RevocationStore;
  let guard: JwtAuthGuard;
  let kid: string;

  beforeAll(async () => {
    const keyPrefix = uniqueKeyPrefix('guard');
    await markRevocationListRestored(testRedisUrl(), keyPrefix);
    redis = createRedisClient({ url: testRedisUrl(), keyPrefix, connectionName: 'test' });
    await new Promise((resolve) => redis.once('ready', resolve));
    revocations = new RevocationStore(redis, 900);
    kid = (await toVerificationKey(publicPemOf(keys.privateKeyPem))).kid;
    const verifier = await AccessTokenVerifier.fromPems([keys.publicKeyPem], 'stocklab-auth', 'stocklab');
    guard = new JwtAuthGuard(new Reflector(), verifier, revocations);
  });
  afterAll(() => redis.quit());

  const token = (
    roles: string[],
    jti = randomUUID(),
    claims: { issuer?: string; audience?: string; expires?: number | string; privateKeyPem?: string } = {},
  ): Promise<string> =>
    new SignJWT({ roles })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
      .setSubject(randomUUID())
      .setJti(jti)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
      .setExpirationTime(claims.expires ?? '5m')
      .setIssuer(claims.issuer ?? 'stocklab-auth')
      .setAudience(claims.audience ?? 'stocklab')
      .sign(createPrivateKey(claims.privateKeyPem ?? keys.privateKeyPem));

  /** What the guard decides for a request to `handler` of `controller`: allowed, or the DomainError's status and code. */
  const decide = async (
    controller: new () => object,
    handler: string,
    authorization?: string,
  ): Promise<{ allowed: true; request: AuthenticatedRequest } | { status: number; code: string }> => {
    const request = { headers: authorization === undefined ? {} : { authorization } } as AuthenticatedRequest;
    const context = new ExecutionContextHost(
      [request, {}, () => undefined],
      controller,
      (controller.prototype as Record<string, () => void>)[handler],
    );
    try {
      assert.equal(await guard.canActivate(context), true);
      return { allowed: true, request };
    } catch (error) {
      assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
      return { status: error.status, code: error.code };
    }
  };
  const bearer = async (roles: string[]): Promise<string> => `Bearer ${await token(roles)}`;

  it('lets a public route through without a token, and refuses others without one (401 AUTH_REQUIRED)', async () => {
    assert.ok('allowed' in (await decide(Routes, 'health')));
    assert.deepEqual(await decide(Routes, 'signedIn'), { status: 401, code: 'AUTH_REQUIRED' });
    assert.ok('allowed' in (await decide(AdminRoutes, 'openAnyway')));
  });

  it('refuses what is not a Bearer compact JWS (401 INVALID_TOKEN)', async () => {
    const valid = await token(['user']);
    for (const header of [valid, `Basic ${valid}`, 'Bearer abc', `Bearer ${valid} extra`, `Bearer  ${valid}`]) {
      assert.deepEqual(
        await decide(Routes, 'signedIn', header),
        { status: 401, code: 'INVALID_TOKEN' },
        header.slice(0, 20),
      );
    }
  });

  it('refuses a token it cannot verify (401 INVALID_TOKEN) and an expired one (401 TOKEN_EXPIRED)', async () => {
    const valid = await token(['admin']);
    const stranger = generateSigningKeyPair().privateKeyPem;
    for (const forged of [
      `${valid}x`,
      await token(['admin'], undefined, { privateKeyPem: stranger }),
      await token(['admin'], undefined, { issuer: 'somebody-else' }),
      await token(['admin'], undefined, { audience: 'another-service' }),
    ]) {
      assert.deepEqual(await decide(Routes, 'signedIn', `Bearer ${forged}`), { status: 401, code: 'INVALID_TOKEN' });
    }
    const expired = await token(['admin'], undefined, { expires: Math.floor(Date.now() / 1000) - 120 });
    assert.deepEqual(await decide(Routes, 'signedIn', `Bearer ${expired}`), { status: 401, code: 'TOKEN_EXPIRED' });
  });

  it('puts the verified user on the request', async () => {
    const decision = await decide(Routes, 'signedIn', await bearer(['user']));
    assert.ok('allowed' in decision);
    assert.deepEqual(decision.request.user?.roles, ['user']);
    assert.match(decision.request.user?.id ?? '', /^[0-9a-f-]{36}$/);
  });

  it('@Roles needs every role listed; on the class it covers each route', async () => {
    assert.deepEqual(await decide(Routes, 'adminAndAuditor', await bearer(['admin'])), {
      status: 403,
      code: 'FORBIDDEN',
    });
    assert.ok('allowed' in (await decide(Routes, 'adminAndAuditor', await bearer(['admin', 'auditor']))));
    assert.deepEqual(await decide(AdminRoutes, 'everything', await bearer(['user'])), {
      status: 403,
      code: 'FORBIDDEN',
    });
    assert.ok('allowed' in (await decide(AdminRoutes, 'everything', await bearer(['user', 'admin']))));
  });

  it('@AnyRole needs one of the roles listed', async () => {
    assert.ok('allowed' in (await decide(Routes, 'ingest', await bearer(['market-ingest']))));
    assert.ok('allowed' in (await decide(Routes, 'ingest', await bearer(['admin']))));
    assert.deepEqual(await decide(Routes, 'ingest', await bearer(['user', 'trading-jobs'])), {
      status: 403,
      code: 'FORBIDDEN',
    });
    assert.deepEqual(await decide(Routes, 'ingest', await bearer([])), { status: 403, code: 'FORBIDDEN' });
  });

  it('refuses a revoked token (401 TOKEN_REVOKED) and accepts it again nowhere', async () => {
    const jti = randomUUID();
    const header = `Bearer ${await token(['admin'], jti)}`;
    assert.ok('allowed' in (await decide(Routes, 'signedIn', header)));
    await revocations.revokeToken(jti, Date.now() / 1000 + 300);
    assert.deepEqual(await decide(Routes, 'signedIn', header), { status: 401, code: 'TOKEN_REVOKED' });
    assert.deepEqual(await decide(Routes, 'ingest', header), { status: 401, code: 'TOKEN_REVOKED' });
  });
});
