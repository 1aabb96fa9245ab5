import assert from 'node:assert/strict';
import { createPrivateKey, randomUUID } from 'node:crypto';
import { describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import {
  AccessTokenVerifier,
  DomainError,
  generateSigningKeyPair,
  publicPemOf,
  toVerificationKey,
} from '../src/index.js';

describe(AccessTokenVerifier.name, () => {
  it('stops accepting a token once it expires, even after it was verified and cached', async () => {
    const keys = generateSigningKeyPair();
    const kid = (await toVerificationKey(publicPemOf(keys.privateKeyPem))).kid;
    const verifier = await AccessTokenVerifier.fromPems([keys.publicKeyPem], 'stocklab-auth', 'stocklab');
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await new SignJWT({ roles: ['user'] })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
      .setSubject(randomUUID())
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(exp)
      .setIssuer('stocklab-auth')
      .setAudience('stocklab')
      .sign(createPrivateKey(keys.privateKeyPem));
    assert.equal((await verifier.verify(token)).exp, exp);
    assert.equal((await verifier.verify(token)).exp, exp, 'served again (from the cache)');
    await sleep(exp * 1000 - Date.now() + 50);
    await assert.rejects(
      verifier.verify(token),
      (e: unknown) => e instanceof DomainError && e.code === 'TOKEN_EXPIRED',
    );
  });

  it('does not let a cached token vouch for a tampered copy', async () => {
    const keys = generateSigningKeyPair();
    const kid = (await toVerificationKey(publicPemOf(keys.privateKeyPem))).kid;
    const verifier = await AccessTokenVerifier.fromPems([keys.publicKeyPem], 'stocklab-auth', 'stocklab');
    const token = await new SignJWT({ roles: ['user'] })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
      .setSubject(randomUUID())
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('5m')
      .setIssuer('stocklab-auth')
      .setAudience('stocklab')
      .sign(createPrivateKey(keys.privateKeyPem));
    await verifier.verify(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url')}.${signature}`;
    await assert.rejects(verifier.verify(forged), (e: unknown) => e instanceof DomainError && e.status === 401);
  });

  it('refuses a token issued in the future beyond a minute of clock skew', async () => {
    const keys = generateSigningKeyPair();
    const kid = (await toVerificationKey(publicPemOf(keys.privateKeyPem))).kid;
    const verifier = await AccessTokenVerifier.fromPems([keys.publicKeyPem], 'stocklab-auth', 'stocklab');
    const issuedIn = (seconds: number) =>
      new SignJWT({ roles: ['user'] })
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
        .setSubject(randomUUID())
        .setJti(randomUUID())
        .setIssuedAt(Math.floor(Date.now() / 1000) + seconds)
        .setExpirationTime('2h')
        .setIssuer('stocklab-auth')
        .setAudience('stocklab')
        .sign(createPrivateKey(keys.privateKeyPem));
    await verifier.verify(await issuedIn(30));
    await assert.rejects(
      verifier.verify(await issuedIn(3600)),
      (e: unknown) => e instanceof DomainError && e.code === 'INVALID_TOKEN',
    );
  });
});
