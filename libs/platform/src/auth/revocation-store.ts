import type { Redis } from 'ioredis';
import { DomainError } from '../errors/domain-error.js';
import type { AccessTokenClaims } from './access-token-verifier.js';

/** A revocation as the auth service records it in PostgreSQL. */
export interface RecordedRevocation {
  kind: 'jti' | 'user';
  /** the token's jti, or the user's id */
  subject: string;
  /** for kind 'user': tokens issued at or before this instant (ms) are refused */
  revokedBefore: number | null;
  /** when the revocation no longer matters (every token it concerns has expired) */
  expiresAt: Date;
}

/**
 * Revoked access tokens, shared by every replica of every service through Redis:
 * a key per revoked jti (expiring with the token) and a per-user "revoked before" instant
 * written by logout-all. A request is checked against both in a single MGET.
 *
 * Fail closed: when Redis cannot answer, the check throws a 503 rather than accept the token.
 * Redis is only a fast copy of the revocations the auth service records in PostgreSQL: a
 * "restored" marker says the copy is complete. A Redis that restarted empty (or was flushed)
 * has lost the marker with everything else, and every check answers 503 until an auth replica
 * has copied the recorded revocations back, so a revoked token never comes back to life.
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

  private static keyOf(r: RecordedRevocation): string {
    return r.kind === 'jti' ? RevocationStore.jtiKey(r.subject) : RevocationStore.userKey(r.subject);
  }

  private static valueOf(r: RecordedRevocation): string {
    return r.kind === 'jti' ? '1' : String(r.revokedBefore);
  }

  static readonly restoredKey = 'revoked:restored';
  static readonly restoringLockKey = 'revoked:restoring';

  /** Whether Redis holds the complete copy (false after it lost its data). */
  async isRestored(): Promise<boolean> {
    return (await this.redis.exists(RevocationStore.restoredKey)) === 1;
  }

  /**
   * Copies recorded revocations into Redis, then marks the copy complete. Only one replica at a
   * time does it (a lock with an expiry); returns false when another one holds the lock.
   */
  async restore(load: () => Promise<RecordedRevocation[]>, holder: string): Promise<boolean> {
    const locked = await this.redis.set(RevocationStore.restoringLockKey, holder, 'PX', 30_000, 'NX');
    if (locked !== 'OK') {
      return false;
    }
    try {
      const now = Date.now();
      const batch = this.redis.multi();
      for (const r of await load()) {
        const ttlMs = r.expiresAt.getTime() - now;
        if (ttlMs > 0) {
          // NX: a key present now was written after the loss by a revocation recorded in
          // PostgreSQL after `load` read it, so it is at least as new as this copy
          batch.set(RevocationStore.keyOf(r), RevocationStore.valueOf(r), 'PX', ttlMs, 'NX');
        }
      }
      batch.set(RevocationStore.restoredKey, new Date(now).toISOString());
      await batch.exec();
      return true;
    } finally {
      if ((await this.redis.get(RevocationStore.restoringLockKey)) === holder) {
        await this.redis.del(RevocationStore.restoringLockKey);
      }
    }
  }

  async isRevoked(claims: Pick<AccessTokenClaims, 'jti' | 'sub' | 'iat'>): Promise<boolean> {
    let jtiMark: string | null;
    let revokedBefore: string | null;
    const marks = () =>
      this.redis.mget(
        RevocationStore.jtiKey(claims.jti),
        RevocationStore.userKey(claims.sub),
        RevocationStore.restoredKey,
      );
    try {
      let restored: string | null;
      [jtiMark, revokedBefore, restored] = await marks().catch((error: unknown) => {
        // A process stalled past the command timeout (a long GC pause, a starved CPU) runs the
        // expired timer before it reads the reply already waiting in its socket: asked once more,
        // a Redis that answered answers again at once, and one that does not fails this check too.
        if (isCommandTimeout(error)) {
          return marks();
        }
        throw error;
      });
      if (restored === null) {
        throw new Error('the revocation list is not (yet) restored in Redis');
      }
    } catch {
      throw RevocationStore.unavailable();
    }
    if (jtiMark !== null) {
      return true;
    }
    return revokedBefore !== null && claims.iat * 1000 <= Number(revokedBefore);
  }

  /** The revocation of one token, kept until a second after it would have expired anyway. */
  static tokenRevocation(jti: string, expSeconds: number): RecordedRevocation {
    return { kind: 'jti', subject: jti, revokedBefore: null, expiresAt: new Date(Math.ceil(expSeconds + 1) * 1000) };
  }

  /** The revocation of every token of a user issued up to `at`, kept as long as such a token can live. */
  userRevocation(userId: string, at = Date.now()): RecordedRevocation {
    return {
      kind: 'user',
      subject: userId,
      revokedBefore: at,
      expiresAt: new Date(at + (this.maxTokenLifetimeSeconds + 60) * 1000),
    };
  }

  /** Makes a revocation effective on every replica (a no-op for one that has expired already). */
  async apply(revocation: RecordedRevocation): Promise<void> {
    const ttlMs = revocation.expiresAt.getTime() - Date.now();
    if (ttlMs <= 0) {
      return;
    }
    try {
      await this.redis.set(RevocationStore.keyOf(revocation), RevocationStore.valueOf(revocation), 'PX', ttlMs);
    } catch {
      throw RevocationStore.unavailable();
    }
  }

  /** Refuses this one token from now until it would have expired anyway. */
  revokeToken(jti: string, expSeconds: number): Promise<void> {
    return this.apply(RevocationStore.tokenRevocation(jti, expSeconds));
  }

  /** Refuses every token of the user issued up to now. */
  revokeAllForUser(userId: string, at = Date.now()): Promise<void> {
    return this.apply(this.userRevocation(userId, at));
  }

  static unavailable(): DomainError {
    return new DomainError(
      503,
      'REVOCATION_UNAVAILABLE',
      'Token revocation cannot be checked right now; try again shortly',
      // like every other 503 of the platform: the client is told when to come back
      { 'Retry-After': '1' },
    );
  }
}

/** ioredis's rejection of a command its `commandTimeout` expired on. */
function isCommandTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Command timed out';
}
