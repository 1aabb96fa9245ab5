import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CONFIG, DomainError, type AuthenticatedUser } from '@stocklab/platform';
import { DataSource } from 'typeorm';
import type { AuthConfig } from '../config.js';
import { RevocationLedger } from '../revocations/revocation-ledger.js';
import { PasswordHasher } from '../accounts/password-hasher.js';
import { SessionTokens } from '../tokens/session-tokens.service.js';
import { hashRefreshToken } from '../tokens/token-issuer.js';
import { User } from '../users/user.entity.js';
import type { LoginDto, TokenPairDto } from './dto/login.dto.js';
import { openGraceAnswer, sealGraceAnswer } from './grace-answer.js';
import { LoginThrottle } from './login-throttle.js';
import { RefreshToken } from './refresh-token.entity.js';

const invalidCredentials = () => new DomainError(401, 'INVALID_CREDENTIALS', 'Email or password is incorrect');
const invalidRefresh = () => new DomainError(401, 'INVALID_REFRESH_TOKEN', 'The refresh token is not valid');

@Injectable()
export class SessionsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(PasswordHasher) private readonly passwords: PasswordHasher,
    @Inject(LoginThrottle) private readonly throttle: LoginThrottle,
    @Inject(SessionTokens) private readonly sessions: SessionTokens,
    @Inject(RevocationLedger) private readonly revocations: RevocationLedger,
    @Inject(CONFIG) private readonly config: AuthConfig,
  ) {}

  async login(dto: LoginDto, clientAddress: string): Promise<TokenPairDto> {
    // counted against the email before the password is looked at, so that simultaneous attempts
    // cannot all pass the check; forgiven below when the password is right
    await this.throttle.reserve(dto.email, clientAddress);
    let user: User | null;
    let correct: boolean;
    try {
      user = await this.dataSource.getRepository(User).findOne({
        where: { email: dto.email, isActive: true },
        select: { id: true, roles: true, passwordHash: true },
      });
      correct = await this.passwords.verify(user?.passwordHash, dto.password);
    } catch (error) {
      await this.throttle.abandoned(dto.email);
      throw error;
    }
    if (!correct || !user) {
      await this.throttle.failed(clientAddress);
      throw invalidCredentials();
    }
    await this.throttle.succeeded(dto.email);
    const authenticated = user;
    return this.dataSource.transaction((manager) => this.sessions.issuePair(manager, authenticated));
  }

  /**
   * Rotates a refresh token. Presented again within REFRESH_REUSE_GRACE_SECONDS while its
   * successor is unused, it gets the same answer (two tabs, a retry after a lost answer);
   * anything later is a reuse and revokes the whole family.
   */
  async refresh(refreshToken: string): Promise<TokenPairDto> {
    const hash = hashRefreshToken(refreshToken);
    const rotated = await this.dataSource.transaction(async (manager) => {
      // TypeORM returns [rows, affectedCount] for an UPDATE ... RETURNING on PostgreSQL
      const [claimed] = await manager.query<[Pick<RefreshToken, 'userId' | 'familyId'>[], number]>(
        `UPDATE auth.refresh_tokens SET used_at = now()
          WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
          RETURNING user_id AS "userId", family_id AS "familyId"`,
        [hash],
      );
      const row = claimed[0];
      if (!row) {
        return undefined;
      }
      const user = await manager.findOne(User, {
        where: { id: row.userId, isActive: true },
        select: { id: true, roles: true },
      });
      if (!user) {
        throw invalidRefresh();
      }
      const pair = await this.sessions.issuePair(manager, user, row.familyId);
      if (this.config.REFRESH_REUSE_GRACE_SECONDS > 0) {
        await manager.query(
          `UPDATE auth.refresh_tokens SET grace_answer = $2, successor_hash = $3 WHERE token_hash = $1`,
          [hash, sealGraceAnswer(refreshToken, pair), hashRefreshToken(pair.refreshToken)],
        );
      }
      return pair;
    });
    if (rotated) {
      return rotated;
    }
    // presented again: within the grace period, and while its successor is unused, the same answer
    // (a concurrent refresh waited on the row lock above and reads the committed rotation here)
    const [again] = await this.dataSource.query<Array<{ grace_answer: Buffer | null }>>(
      `SELECT r.grace_answer FROM auth.refresh_tokens r
        WHERE r.token_hash = $1 AND r.revoked_at IS NULL AND r.used_at > now() - make_interval(secs => $2)
          AND EXISTS (SELECT 1 FROM auth.refresh_tokens s
                       WHERE s.token_hash = r.successor_hash AND s.used_at IS NULL AND s.revoked_at IS NULL)`,
      [hash, this.config.REFRESH_REUSE_GRACE_SECONDS],
    );
    const replayed = again?.grace_answer ? openGraceAnswer(refreshToken, again.grace_answer) : undefined;
    if (replayed) {
      return replayed;
    }
    const known = await this.dataSource.getRepository(RefreshToken).findOne({
      where: { tokenHash: hash },
      select: { id: true, familyId: true, usedAt: true, revokedAt: true },
    });
    if (known?.usedAt && !known.revokedAt) {
      // Reuse of a rotated token: someone else holds a copy. Kill the whole session.
      await this.dataSource.transaction((manager) =>
        this.sessions.revokeSessions(manager, { familyId: known.familyId }),
      );
      throw new DomainError(
        401,
        'REFRESH_TOKEN_REUSED',
        'The refresh token was already used; the session has been revoked',
      );
    }
    throw invalidRefresh();
  }

  async logout(user: AuthenticatedUser): Promise<void> {
    await this.revocations.revokeToken(user.claims.jti, user.claims.exp);
    const familyId = user.claims.sid;
    if (familyId) {
      await this.dataSource.transaction((manager) =>
        this.sessions.revokeSessions(manager, { familyId, userId: user.id }),
      );
    }
  }

  async logoutAll(user: AuthenticatedUser): Promise<void> {
    await this.revocations.revokeAllForUser(user.id);
    await this.dataSource.transaction((manager) => this.sessions.revokeSessions(manager, { userId: user.id }));
  }
}
