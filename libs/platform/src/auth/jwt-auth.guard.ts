import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '../errors/domain-error.js';
import { AccessTokenVerifier } from './access-token-verifier.js';
import { ANY_OF_ROLES, IS_PUBLIC, REQUIRED_ROLES, type AuthenticatedRequest } from './auth.decorators.js';
import { RevocationStore } from './revocation-store.js';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/**
 * The one guard every service installs globally: a valid signature from a configured key,
 * issuer, audience and lifetime, then the shared revocation check. Routes opt out with @Public().
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AccessTokenVerifier) private readonly verifier: AccessTokenVerifier,
    @Inject(RevocationStore) private readonly revocations: RevocationStore,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, targets)) {
      return true;
    }
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization;
    if (!header) {
      throw new DomainError(401, 'AUTH_REQUIRED', 'A Bearer access token is required');
    }
    const match = BEARER.exec(header);
    if (!match) {
      throw new DomainError(401, 'INVALID_TOKEN', 'The access token is not valid');
    }
    const token = match[1];
    const claims = await this.verifier.verify(token);
    if (await this.revocations.isRevoked(claims)) {
      throw new DomainError(401, 'TOKEN_REVOKED', 'The access token has been revoked');
    }
    request.user = { id: claims.sub, roles: claims.roles, claims, token };

    const required = this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_ROLES, targets);
    const anyOf = this.reflector.getAllAndOverride<string[] | undefined>(ANY_OF_ROLES, targets);
    if (
      (required && !required.every((role) => claims.roles.includes(role))) ||
      (anyOf && !anyOf.some((role) => claims.roles.includes(role)))
    ) {
      throw new DomainError(403, 'FORBIDDEN', 'This action needs a role the token does not have');
    }
    return true;
  }
}
