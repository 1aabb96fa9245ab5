import { Module } from '@nestjs/common';
import { CONFIG, REDIS } from '@stocklab/platform';
import type { Redis } from 'ioredis';
import { PasswordHasher } from '../accounts/password-hasher.js';
import type { AuthConfig } from '../config.js';
import { LoginThrottle } from '../sessions/login-throttle.js';
import { SessionTokens } from './session-tokens.service.js';
import { TokenIssuer } from './token-issuer.js';

@Module({
  providers: [
    { provide: TokenIssuer, inject: [CONFIG], useFactory: (config: AuthConfig) => TokenIssuer.create(config) },
    { provide: PasswordHasher, useValue: new PasswordHasher() },
    {
      provide: LoginThrottle,
      inject: [CONFIG, REDIS],
      useFactory: (config: AuthConfig, redis: Redis) =>
        new LoginThrottle(redis, {
          maxPerEmail: config.LOGIN_MAX_FAILURES,
          maxPerAddress: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
          windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
        }),
    },
    SessionTokens,
  ],
  exports: [TokenIssuer, PasswordHasher, LoginThrottle, SessionTokens],
})
export class TokensModule {}
