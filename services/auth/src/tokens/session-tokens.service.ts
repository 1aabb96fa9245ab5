import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import { IsNull, MoreThan, type EntityManager, type FindOptionsWhere } from 'typeorm';
import type { AuthConfig } from '../config.js';
import type { TokenPairDto } from '../sessions/dto/login.dto.js';
import { RefreshToken } from '../sessions/refresh-token.entity.js';
import { newRefreshToken, TokenIssuer } from './token-issuer.js';
import { RevocationLedger } from '../revocations/revocation-ledger.js';

/** Mints token pairs inside a session (refresh family) and revokes sessions everywhere. */
@Injectable()
export class SessionTokens {
  constructor(
    @Inject(CONFIG) private readonly config: AuthConfig,
    @Inject(TokenIssuer) private readonly issuer: TokenIssuer,
    @Inject(RevocationLedger) private readonly revocations: RevocationLedger,
  ) {}

  /** Issues an access token and a refresh token in `familyId` (a new family when omitted). */
  async issuePair(
    manager: EntityManager,
    user: { id: string; roles: string[] },
    familyId: string = randomUUID(),
  ): Promise<TokenPairDto> {
    const access = await this.issuer.issueAccessToken(user, familyId);
    const refresh = newRefreshToken();
    await manager.insert(RefreshToken, {
      userId: user.id,
      familyId,
      tokenHash: refresh.hash,
      expiresAt: new Date(Date.now() + this.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
      accessJti: access.jti,
      accessExpiresAt: access.expiresAt,
    });
    return {
      accessToken: access.token,
      refreshToken: refresh.token,
      tokenType: 'Bearer',
      expiresIn: this.config.ACCESS_TOKEN_TTL_SECONDS,
    };
  }

  /**
   * Revokes the matching refresh tokens in PostgreSQL and the still-valid access tokens minted
   * with them in Redis, so a session's earlier access tokens die with it.
   */
  async revokeSessions(manager: EntityManager, where: FindOptionsWhere<RefreshToken>): Promise<void> {
    const live = await manager.find(RefreshToken, {
      where: { ...where, accessExpiresAt: MoreThan(new Date()) },
      select: { id: true, accessJti: true, accessExpiresAt: true },
    });
    for (const row of live) {
      await this.revocations.revokeToken(row.accessJti, row.accessExpiresAt.getTime() / 1000, manager);
    }
    await manager.update(RefreshToken, { ...where, revokedAt: IsNull() }, { revokedAt: new Date() });
  }
}
