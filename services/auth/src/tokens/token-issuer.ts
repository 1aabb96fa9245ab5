import { createHash, createPrivateKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import {
  algorithmOf,
  ConfigError,
  devKeyPairOrFail,
  publicPemOf,
  toVerificationKey,
  type JwtAlgorithm,
} from '@stocklab/platform';
import type { AuthConfig } from '../config.js';

export interface IssuedAccessToken {
  token: string;
  jti: string;
  expiresAt: Date;
}

/** Signs access tokens with the configured private key (or the shared development pair). */
export class TokenIssuer {
  private constructor(
    private readonly key: KeyObject,
    private readonly alg: JwtAlgorithm,
    private readonly kid: string,
    private readonly config: AuthConfig,
  ) {}

  static async create(config: AuthConfig): Promise<TokenIssuer> {
    const privatePem = config.JWT_PRIVATE_KEY?.[0] ?? devKeyPairOrFail(config, 'JWT_PRIVATE_KEY').privateKeyPem;
    if ((config.JWT_PRIVATE_KEY?.length ?? 0) > 1) {
      throw new ConfigError('JWT_PRIVATE_KEY', 'must hold exactly one private key');
    }
    const key = createPrivateKey(privatePem);
    const verification = await toVerificationKey(publicPemOf(privatePem));
    if (config.JWT_PUBLIC_KEYS) {
      const listed = await Promise.all(config.JWT_PUBLIC_KEYS.map((pem) => toVerificationKey(pem)));
      if (!listed.some((k) => k.kid === verification.kid)) {
        throw new ConfigError('JWT_PUBLIC_KEYS', 'must include the public key of JWT_PRIVATE_KEY');
      }
    }
    return new TokenIssuer(key, algorithmOf(key), verification.kid, config);
  }

  async issueAccessToken(user: { id: string; roles: string[] }, sessionId: string): Promise<IssuedAccessToken> {
    const nowMs = Date.now();
    const jti = randomUUID();
    const exp = Math.floor(nowMs / 1000) + this.config.ACCESS_TOKEN_TTL_SECONDS;
    const token = await new SignJWT({ roles: user.roles, sid: sessionId })
      .setProtectedHeader({ alg: this.alg, kid: this.kid, typ: 'at+jwt' })
      .setSubject(user.id)
      .setJti(jti)
      // millisecond precision: logout-all must be able to tell tokens of the same second apart
      .setIssuedAt(nowMs / 1000)
      .setExpirationTime(exp)
      .setIssuer(this.config.JWT_ISSUER)
      .setAudience(this.config.JWT_AUDIENCE)
      .sign(this.key);
    return { token, jti, expiresAt: new Date(exp * 1000) };
  }
}

/** Opaque refresh tokens: 256 random bits; the database keeps only their SHA-256. */
export function newRefreshToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
