import { commonConfigSchema, int, pemList, type ConfigOf } from '@stocklab/platform';

export const authConfigSchema = {
  ...commonConfigSchema,
  PORT: int({ description: 'HTTP port', min: 1, max: 65535, default: '3001' }),
  JWT_PRIVATE_KEY: pemList({
    description:
      'PEM private key (Ed25519 or P-256) that signs access tokens; auth only; its public key must be in JWT_PUBLIC_KEYS',
    label: /PRIVATE KEY/,
    secret: true,
  }),
  ACCESS_TOKEN_TTL_SECONDS: int({ description: 'Access token lifetime', min: 30, max: 86400, default: '900' }),
  REFRESH_TOKEN_TTL_SECONDS: int({ description: 'Refresh token lifetime', min: 60, max: 7776000, default: '1209600' }),
  REFRESH_REUSE_GRACE_SECONDS: int({
    description:
      'A refresh token presented again this soon after its rotation (two tabs, a retry after a lost answer) gets the same answer; later, or once its successor was used, it is a reuse and revokes the session (0 = no grace)',
    min: 0,
    max: 300,
    default: '30',
  }),
  LOGIN_MAX_FAILURES: int({
    description:
      'Failed logins allowed per email within the window; the next attempt gets 429 for the window, doubled for each further lock within a day',
    min: 1,
    max: 1000,
    default: '5',
  }),
  LOGIN_MAX_FAILURES_PER_ADDRESS: int({
    description:
      'Failed logins allowed per client address within the window, a coarse cap (an office behind one NAT shares it); the next attempt gets 429',
    min: 1,
    max: 100000,
    default: '100',
  }),
  LOGIN_FAILURE_WINDOW_SECONDS: int({
    description: 'Window of the failed-login counters',
    min: 1,
    max: 86400,
    default: '900',
  }),
  SIGNUP_MAX_PER_ADDRESS: int({
    description:
      'Signups allowed per client address within the window (each costs an argon2 hash); the next gets 429 until the window ends',
    min: 1,
    max: 1000000,
    default: '20',
  }),
  SIGNUP_WINDOW_SECONDS: int({
    description: 'Window of the signup counter',
    min: 1,
    max: 86400,
    default: '3600',
  }),
};

export type AuthConfig = ConfigOf<typeof authConfigSchema>;
