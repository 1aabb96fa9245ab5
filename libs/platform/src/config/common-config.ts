import { bool, int, oneOf, optionalStr, pemList, str, url } from './config-schema.js';

/** Variables every service reads. Service schemas spread this and add their own. */
export const commonConfigSchema = {
  NODE_ENV: oneOf(['development', 'test', 'production'] as const, {
    description: 'production makes missing JWT keys fatal instead of generating a development key pair',
    default: 'development',
  }),
  PORT: int({ description: 'HTTP port', min: 1, max: 65535, default: '3000' }),
  DATABASE_URL: url({
    description: 'PostgreSQL connection string',
    protocols: ['postgres', 'postgresql'],
    default: 'postgres://postgres@127.0.0.1:5432/stocklab',
    secret: true,
  }),
  DB_POOL_SIZE: int({ description: 'PostgreSQL connections per process', min: 1, max: 100, default: '10' }),
  REDIS_URL: url({
    description: 'Redis connection string (revocation, cache, queues)',
    protocols: ['redis', 'rediss'],
    default: 'redis://127.0.0.1:6379',
    secret: true,
  }),
  REDIS_KEY_PREFIX: str({
    description: 'Prefix of every Redis key this platform writes (lets environments share one Redis)',
    default: 'stocklab:',
    pattern: /^[A-Za-z0-9:_-]{1,64}$/,
  }),
  JWT_PUBLIC_KEYS: pemList({
    description: 'PEM public keys (Ed25519 or P-256) that access tokens may be signed with; list old and new to rotate',
    label: /PUBLIC KEY/,
  }),
  JWT_ISSUER: str({ description: 'iss of access tokens', default: 'stocklab-auth' }),
  JWT_AUDIENCE: str({ description: 'aud of access tokens', default: 'stocklab' }),
  DEV_KEYS_FILE: optionalStr({
    description: 'Outside production, where the shared development key pair is kept when no keys are configured',
  }),
  RUN_MIGRATIONS: bool({
    description: 'Run migrations at start under a PostgreSQL advisory lock (Kubernetes runs them in a Job instead)',
    default: 'true',
  }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, {
    description: 'pino log level',
    default: 'info',
  }),
  POD_NAME: str({ description: 'Replica name in logs and metrics (Downward API in Kubernetes)', default: 'local' }),
  API_DOCS: oneOf(['auto', 'on', 'off'] as const, {
    description:
      'The OpenAPI document and Swagger UI under /api/<service>/docs: auto = on except with NODE_ENV=production',
    default: 'auto',
  }),
  TRUST_PROXY: str({
    description:
      'Express trust proxy setting: exactly the hops that may set X-Forwarded-For (the Ingress controller, the compose nginx); anyone else reaching a replica directly could choose its address',
    default: 'loopback',
  }),
  SHUTDOWN_DRAIN_MS: int({
    description: 'After SIGTERM: how long readiness reports 503 before the server stops accepting requests',
    min: 0,
    max: 120000,
    default: '5000',
  }),
  SHUTDOWN_TIMEOUT_MS: int({
    description: 'After the drain: how long in-flight requests may take before the process exits anyway',
    min: 100,
    max: 120000,
    default: '10000',
  }),
  BODY_LIMIT: str({ description: 'Largest accepted JSON body', default: '100kb', pattern: /^\d+(b|kb|mb)$/ }),
};
