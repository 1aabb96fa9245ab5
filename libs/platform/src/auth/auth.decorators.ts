import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { AccessTokenClaims } from './access-token-verifier.js';

export const IS_PUBLIC = 'stocklab:isPublic';
export const REQUIRED_ROLES = 'stocklab:requiredRoles';
export const ANY_OF_ROLES = 'stocklab:anyOfRoles';

/** Opts a route out of the global JWT guard. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** Requires every listed role on the access token. */
export const Roles = (...roles: string[]): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_ROLES, roles);

/**
 * Requires at least one of the listed roles: an admin, or a service account granted only the
 * role its job needs (least privilege: a leaked scheduler password is not an admin's).
 */
export const AnyRole = (...roles: string[]): MethodDecorator & ClassDecorator => SetMetadata(ANY_OF_ROLES, roles);

export interface AuthenticatedUser {
  id: string;
  roles: string[];
  claims: AccessTokenClaims;
  token: string;
}

export type AuthenticatedRequest = Request & { user?: AuthenticatedUser };

export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): AuthenticatedUser => {
  const request = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!request.user) {
    throw new Error('CurrentUser used on a route without authentication');
  }
  return request.user;
});
