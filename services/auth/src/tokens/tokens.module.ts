import { Module, type DynamicModule } from '@nestjs/common';
import { CONFIG, REDIS } from '@stocklab/platform';
import type { Redis } from 'ioredis';
import { PasswordHasher } from '../accounts/password-hasher.js';
import { SignupThrottle } from '../accounts/signup-throttle.js';
import type { AuthConfig } from '../config.js';
import { OutboxRelay } from '../outbox/outbox-relay.js';
import { RevocationLedger } from '../revocations/revocation-ledger.js';
import { RevocationRestorer } from '../revocations/revocation-restorer.js';
import { LoginThrottle } from '../sessions/login-throttle.js';
import { SessionTokens } from './session-tokens.service.js';
import { TokenIssuer } from './token-issuer.js';

@Module({
  providers: [
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
    {
      provide: SignupThrottle,
      inject: [CONFIG, REDIS],
      useFactory: (config: AuthConfig, redis: Redis) =>
        new SignupThrottle(redis, {
          maxPerAddress: config.SIGNUP_MAX_PER_ADDRESS,
          windowSeconds: config.SIGNUP_WINDOW_SECONDS,
        }),
    },
    SessionTokens,
    RevocationLedger,
    RevocationRestorer,
    OutboxRelay,
  ],
  exports: [TokenIssuer, PasswordHasher, LoginThrottle, SignupThrottle, SessionTokens, RevocationLedger, OutboxRelay],
})
export class TokensModule {
  /** The issuer is built before Nest starts, so that a bad key is a one-line configuration error. */
  static register(issuer: TokenIssuer): DynamicModule {
    return { module: TokensModule, providers: [{ provide: TokenIssuer, useValue: issuer }], exports: [TokenIssuer] };
  }
}
