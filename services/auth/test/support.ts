import { randomUUID } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createServiceApp,
  generateSigningKeyPair,
  initServiceApp,
  loadConfig,
  runMigrationsWithLock,
  type SigningKeyPair,
} from '@stocklab/platform';
import {
  createMigratedDatabase,
  deleteRedisKeys,
  request,
  serveInProcess,
  startReplicas,
  testingModuleFactory,
  testRedisUrl,
  uniqueKeyPrefix,
  type InProcessService,
  type ReplicaSet,
  type MigratedSchemas,
  type TestDatabase,
} from '@stocklab/test-support';
import { authConfigSchema, type AuthConfig } from '../src/config.js';
import { authServiceOptions } from '../src/service-options.js';
import { TokenIssuer } from '../src/tokens/token-issuer.js';

/** dist-spec/test/support.js -> services/auth/dist/bundle/main.js */
export const AUTH_ENTRY = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/bundle/main.js');
/** The auth schema, as the service's migrations create it (each test's database is a copy). */
export const AUTH_SCHEMAS: MigratedSchemas = {
  family: 'auth',
  migrations: [resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/bundle/migrate.js')],
};

export interface AuthCluster {
  db: TestDatabase;
  keys: SigningKeyPair;
  env: Record<string, string>;
  replicas: ReplicaSet;
  close(): Promise<void>;
}

export function authEnv(
  db: TestDatabase,
  keys: SigningKeyPair,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: uniqueKeyPrefix('auth'),
    JWT_PRIVATE_KEY: keys.privateKeyPem,
    JWT_PUBLIC_KEYS: keys.publicKeyPem,
    LOG_LEVEL: 'warn',
    SHUTDOWN_DRAIN_MS: '100',
    // every test client signs up from loopback; the throttle's own tests set a low limit
    SIGNUP_MAX_PER_ADDRESS: '1000',
    ...overrides,
  };
}

/** A throwaway database and `count` auth replicas as real processes sharing it and Redis. */
export async function startAuthCluster(count: number, overrides: Record<string, string> = {}): Promise<AuthCluster> {
  const db = await createMigratedDatabase('stocklab_auth', AUTH_SCHEMAS);
  const keys = generateSigningKeyPair();
  const env = authEnv(db, keys, overrides);
  let replicas: ReplicaSet;
  try {
    replicas = await startReplicas(count, { entry: AUTH_ENTRY, env, name: 'auth' });
  } catch (error) {
    await db.drop();
    throw error;
  }
  return {
    db,
    keys,
    env,
    replicas,
    async close() {
      await replicas.stopAll(5000);
      await db.drop();
    },
  };
}

export interface InProcessAuth extends InProcessService {
  db: TestDatabase;
  keys: SigningKeyPair;
  env: Record<string, string>;
  config: AuthConfig;
}

/**
 * The auth application in this process (a TestingModule, set up as a replica is) on a throwaway
 * database and Redis key prefix: what one replica proves, in milliseconds per request.
 */
export async function startInProcessAuth(overrides: Record<string, string> = {}): Promise<InProcessAuth> {
  const db = await createMigratedDatabase('stocklab_auth', AUTH_SCHEMAS);
  const keys = generateSigningKeyPair();
  const env = authEnv(db, keys, { LOG_LEVEL: 'error', ...overrides });
  const cleanup = async () => {
    await db.drop();
    await deleteRedisKeys(env.REDIS_URL, env.REDIS_KEY_PREFIX);
  };
  try {
    const config = loadConfig(authConfigSchema, env);
    const options = authServiceOptions(config, await TokenIssuer.create(config));
    await runMigrationsWithLock(options.dataSource);
    const app = await createServiceApp(options, testingModuleFactory);
    await initServiceApp(app);
    return { ...(await serveInProcess(app, cleanup)), db, keys, env, config };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export interface NewUser {
  email: string;
  password: string;
  nickname: string;
}

/** A fresh, unique user (fixtures are factories, never shared seed state). */
export function newUser(): NewUser {
  const id = randomUUID().slice(0, 8);
  return { email: `user-${id}@example.com`, password: `pw-${id}-long-enough`, nickname: `u_${id}` };
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

export async function signupAndLogin(
  baseUrl: string,
  user = newUser(),
  loginUrl = baseUrl,
): Promise<{ user: NewUser; id: string; tokens: TokenPair }> {
  // each test user signs up from an address of its own, as people do (the signup throttle counts per address)
  const signup = await request('POST', `${baseUrl}/api/auth/signup`, {
    body: user,
    headers: { 'x-forwarded-for': testNetAddress() },
  });
  if (signup.status !== 202) {
    throw new Error(`signup failed: ${signup.status} ${JSON.stringify(signup.body)}`);
  }
  const tokens = await login(loginUrl, user);
  const me = await request<{ id: string }>('GET', `${baseUrl}/api/auth/me`, { token: tokens.accessToken });
  return { user, id: me.body.id, tokens };
}

let addressesGiven = 0;

/** A client address no other call in this process gets (198.18.0.0/15, RFC 2544's test range). */
export function testNetAddress(): string {
  addressesGiven += 1;
  return `198.18.${addressesGiven >> 8}.${addressesGiven & 255}`;
}

export async function login(baseUrl: string, user: Pick<NewUser, 'email' | 'password'>): Promise<TokenPair> {
  const res = await request<TokenPair>('POST', `${baseUrl}/api/auth/login`, {
    body: { email: user.email, password: user.password },
  });
  if (res.status !== 200) {
    throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

export { assertErrorBody } from '@stocklab/test-support';
