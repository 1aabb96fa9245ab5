import type { Redis } from 'ioredis';
import { DomainError } from '../errors/domain-error.js';
import type { AccessTokenClaims } from './access-token-verifier.js';

/**
 * Revoked access tokens, shared by every replica of every service through Redis:
 * a key per revoked jti (expiring with the token) and a per-user "revoked before" instant
 * written by logout-all. A request is checked against both in a single MGET.
 *
 * Fail closed: when Redis cannot answer, the check throws a 503 rather than accept the token.
 */
export class RevocationStore {
  constructor(
    private readonly redis: Redis,
    /** how long a per-user "revoked before" marker must outlive: the longest access-token lifetime */
    private readonly maxTokenLifetimeSeconds: number,
  ) {}

  private static jtiKey(jti: string): string {
    return `revoked:jti:${jti}`;
  }

  private static userKey(userId: string): string {
    return `revoked:user:${userId}`;
  }

  async isRevoked(claims: Pick<AccessTokenClaims, 'jti' | 'sub' | 'iat'>): Promise<boolean> {
    let jtiMark: string | null;
    let revokedBefore: string | null;
    try {
      [jtiMark, revokedBefore] = await this.redis.mget(
        RevocationStore.jtiKey(claims.jti),
        RevocationStore.userKey(claims.sub),
      );
    } catch {
      throw RevocationStore.unavailable();
    }
    if (jtiMark !== null) {
      return true;
    }
    return revokedBefore !== null && claims.iat * 1000 <= Number(revokedBefore);
  }

  /** Refuses this one token from now until it would have expired anyway. */
  async revokeToken(jti: string, expSeconds: number): Promise<void> {
    const ttl = Math.ceil(expSeconds - Date.now() / 1000) + 1;
    if (ttl <= 0) {
      return;
    }
    try {
      await this.redis.set(RevocationStore.jtiKey(jti), '1', 'EX', ttl);
    } catch {
      throw RevocationStore.unavailable();
    }
  }

  /** Refuses every token of the user issued up to now. */
  async revokeAllForUser(userId: string, at = Date.now()): Promise<void> {
    try {
      await this.redis.set(RevocationStore.userKey(userId), String(at), 'EX', this.maxTokenLifetimeSeconds + 60);
    } catch {
      throw RevocationStore.unavailable();
    }
  }

  static unavailable(): DomainError {
    return new DomainError(
      503,
      'REVOCATION_UNAVAILABLE',
      'Token revocation cannot be checked right now; try again shortly',
    );
  }
}
