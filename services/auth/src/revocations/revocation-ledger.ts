import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { RevocationStore, type RecordedRevocation } from '@stocklab/platform';
import { DataSource, type EntityManager } from 'typeorm';

/**
 * Revokes access tokens durably: recorded in PostgreSQL first (the source of truth, from which
 * Redis is restored if it loses its data), then made effective on every replica through Redis.
 */
@Injectable()
export class RevocationLedger {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(RevocationStore) private readonly store: RevocationStore,
  ) {}

  /** Refuses one token until it would have expired anyway. */
  revokeToken(jti: string, expSeconds: number, manager?: EntityManager): Promise<void> {
    return this.revoke(RevocationStore.tokenRevocation(jti, expSeconds), manager);
  }

  /** Refuses every token of the user issued up to now. */
  revokeAllForUser(userId: string, manager?: EntityManager): Promise<void> {
    return this.revoke(this.store.userRevocation(userId), manager);
  }

  /** Every revocation that still matters. */
  async live(): Promise<RecordedRevocation[]> {
    const rows = await this.dataSource.query<
      Array<{ kind: 'jti' | 'user'; subject: string; revoked_before: string | null; expires_at: Date }>
    >(`SELECT kind, subject, revoked_before, expires_at FROM auth.access_revocations WHERE expires_at > now()`);
    return rows.map((r) => ({
      kind: r.kind,
      subject: r.subject,
      revokedBefore: r.revoked_before === null ? null : Number(r.revoked_before),
      expiresAt: r.expires_at,
    }));
  }

  /** Forgets revocations whose tokens have all expired. */
  async prune(): Promise<number> {
    const [, deleted] = await this.dataSource.query<[unknown, number]>(
      `DELETE FROM auth.access_revocations WHERE expires_at < now()`,
    );
    return deleted;
  }

  private async revoke(revocation: RecordedRevocation, manager = this.dataSource.manager): Promise<void> {
    await manager.query(
      `INSERT INTO auth.access_revocations (kind, subject, revoked_before, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (kind, subject) DO UPDATE
         SET revoked_before = GREATEST(access_revocations.revoked_before, EXCLUDED.revoked_before),
             expires_at = GREATEST(access_revocations.expires_at, EXCLUDED.expires_at)`,
      [revocation.kind, revocation.subject, revocation.revokedBefore, revocation.expiresAt],
    );
    await this.store.apply(revocation);
  }
}
