import { errors as joseErrors, jwtVerify, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { DomainError } from '../errors/domain-error.js';
import { toVerificationKey, type JwtAlgorithm, type VerificationKey } from './signing-keys.js';

/** Clock skew allowed between the auth replica that issued a token and the one verifying it. */
const IAT_LEEWAY_SECONDS = 60;

export interface AccessTokenClaims {
  /** user id */
  sub: string;
  jti: string;
  /** seconds, with millisecond fractions so that logout-all can be ordered against issuance */
  iat: number;
  exp: number;
  roles: string[];
  /** the refresh-token family (login session) this access token belongs to */
  sid: string | undefined;
}

const ALGORITHMS: JwtAlgorithm[] = ['EdDSA', 'ES256'];
const DEFAULT_CACHE_SIZE = 10_000;

/**
 * Remembers tokens whose signature and claims have been checked, until they expire.
 * A signature check is a pure function of the token string and the configured keys, so the
 * result can be reused (Envoy's jwt_authn caches the same way); expiry is still checked on every
 * use, and revocation is never cached (the guard asks Redis each time). Bounded, oldest evicted.
 */
class VerifiedTokenCache {
  private readonly entries = new Map<string, AccessTokenClaims>();

  constructor(private readonly capacity: number) {}

  get(token: string, nowSeconds: number): AccessTokenClaims | undefined {
    const claims = this.entries.get(token);
    if (claims && claims.exp <= nowSeconds) {
      this.entries.delete(token);
      return undefined;
    }
    return claims;
  }

  set(token: string, claims: AccessTokenClaims): void {
    if (this.capacity <= 0) {
      return;
    }
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) {
        this.entries.delete(oldest);
      }
    }
    this.entries.set(token, claims);
  }
}

export class AccessTokenVerifier {
  private readonly cache: VerifiedTokenCache;

  private constructor(
    private readonly keys: Map<string, VerificationKey>,
    private readonly issuer: string,
    private readonly audience: string,
    cacheSize: number,
  ) {
    this.cache = new VerifiedTokenCache(cacheSize);
  }

  static async fromPems(
    publicPems: string[],
    issuer: string,
    audience: string,
    cacheSize = DEFAULT_CACHE_SIZE,
  ): Promise<AccessTokenVerifier> {
    const keys = new Map<string, VerificationKey>();
    for (const pem of publicPems) {
      const key = await toVerificationKey(pem);
      keys.set(key.kid, key);
    }
    return new AccessTokenVerifier(keys, issuer, audience, cacheSize);
  }

  get verificationKeys(): VerificationKey[] {
    return [...this.keys.values()];
  }

  async verify(token: string): Promise<AccessTokenClaims> {
    const cached = this.cache.get(token, Date.now() / 1000);
    if (cached) {
      return cached;
    }
    const claims = await this.verifyUncached(token);
    this.cache.set(token, claims);
    return claims;
  }

  private async verifyUncached(token: string): Promise<AccessTokenClaims> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['sub', 'jti', 'iat', 'exp'],
        typ: 'at+jwt',
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) {
        throw new DomainError(401, 'TOKEN_EXPIRED', 'The access token has expired');
      }
      throw new DomainError(401, 'INVALID_TOKEN', 'The access token is not valid');
    }
    // a token issued "in the future" would outlive a logout-all (revocation compares iat): refused
    if (typeof payload.iat !== 'number' || payload.iat > Date.now() / 1000 + IAT_LEEWAY_SECONDS) {
      throw new DomainError(401, 'INVALID_TOKEN', 'The access token is not valid');
    }
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    return {
      sub: payload.sub as string,
      jti: payload.jti as string,
      iat: payload.iat,
      exp: payload.exp as number,
      roles,
      sid: typeof payload.sid === 'string' ? payload.sid : undefined,
    };
  }

  private keyFor(header: JWTHeaderParameters) {
    const key = header.kid ? this.keys.get(header.kid) : undefined;
    if (!key || key.alg !== header.alg) {
      throw new joseErrors.JWKSNoMatchingKey();
    }
    return key.key;
  }
}
