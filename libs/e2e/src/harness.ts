import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  findRepoRoot,
  runMigration,
  SERVICES,
  startPlatform,
  type RunningPlatform,
  type ServiceSpec,
} from '@stocklab/local-platform';
import {
  createTestDatabase,
  deleteRedisKeys,
  freePort,
  markRevocationListRestored,
  seedMarket,
  mintAccessToken,
  request,
  startLocalS3,
  testRedisUrl,
  tradingCronsLater,
  uniqueKeyPrefix,
  type LocalS3,
  type Replica,
  type TestDatabase,
} from '@stocklab/test-support';

// The crafted market and its fixtures are shared with the trading service's tests.
export {
  CODES,
  cronAt,
  cronLater,
  definition,
  extendMarket,
  MARKET_DATES,
  PRICE,
  prng,
  seedMarket,
  seedMarketDays,
  seedStrategy,
  waitFor,
} from '@stocklab/test-support';

export type ServiceName = 'auth' | 'backtest' | 'backtest-worker' | 'trading';

export interface E2EOptions {
  /** which services to start (default: all of the launcher's SERVICES) */
  services?: readonly ServiceName[];
  /**
   * Extra environment per service, on top of the launcher's (e.g. trading crons). A function is
   * called when the launcher reaches that service (after the services before it are up), so that
   * instants like cron times can be computed from that moment rather than from the start.
   */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string> | (() => Record<string, string>)>>;
  /** replica counts per service, when not the launcher's */
  replicas?: Partial<Record<ServiceName, number>>;
  /** a Redis of the test's own (one it stops and restarts); the shared one with a unique prefix otherwise */
  redisUrl?: string;
  /** the PostgreSQL server to create the run's database on (a URL to its maintenance database) */
  databaseAdminUrl?: string;
  log?: (line: string) => void;
  /** the Redis key prefix of the run (default: a unique one), for keys a test sets before the services start */
  keyPrefix?: string;
  /** the market the database starts with: the crafted one (default), or none (a test that ingests its own) */
  market?: 'crafted' | 'empty';
}

export interface E2EPlatform {
  platform: RunningPlatform;
  db: TestDatabase;
  pool: pg.Pool;
  s3: LocalS3;
  keyPrefix: string;
  /** the gateway's base URL, e.g. http://127.0.0.1:41234 */
  gateway: string;
  /** the replicas of one service, in start order */
  replicas(service: ServiceName): Replica[];
  replica(service: ServiceName, index: number): Replica;
  /** an access token signed with the key the auth replicas sign with */
  token(userId: string, roles?: string[]): string;
  stop(): Promise<void>;
}

/**
 * The whole platform through the launcher (`startPlatform`), isolated for one run: a throwaway
 * database holding the crafted market, a unique Redis key prefix, a private object store, a free
 * gateway port, no demo data, and a signing key pair of our own (handed to the services through
 * their per-service environment, which the launcher applies last) so that tests can mint tokens.
 */
export async function startE2EPlatform(options: E2EOptions = {}): Promise<E2EPlatform> {
  const log = options.log ?? (() => undefined);
  const repoRoot = findRepoRoot();
  // The launcher writes its kubeconfig and replica logs under <root>/.run: a root of our own (its
  // services/ a link to the real one) keeps them apart from any other platform on this machine.
  const root = mkdtempSync(join(tmpdir(), 'stocklab-e2e-'));
  symlinkSync(join(repoRoot, 'services'), join(root, 'services'));
  const removeRoot = (): void => {
    if (process.env.E2E_KEEP_LOGS !== 'true') {
      rmSync(root, { recursive: true, force: true });
    }
  };
  const keys = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const wanted = new Set<string>(options.services ?? SERVICES.map((s) => s.name));
  const backtestSpec = SERVICES.find((s) => s.name === 'backtest');
  if (!backtestSpec) {
    throw new Error('the launcher has no backtest service');
  }
  let db: TestDatabase;
  try {
    db = await createTestDatabase('stocklab_e2e', options.databaseAdminUrl);
  } catch (error) {
    removeRoot();
    throw error;
  }
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  // A test that restarts the server breaks idle connections: the pool replaces them, no crash.
  pool.on('error', () => undefined);
  const keyPrefix = options.keyPrefix ?? uniqueKeyPrefix('e2e');
  const redisUrl = options.redisUrl ?? testRedisUrl();
  let s3: LocalS3 | undefined;
  try {
    // the market schema comes with the backtest migrations; the crafted market goes in before anything starts
    await runMigration(repoRoot, backtestSpec, { DATABASE_URL: db.url, NODE_ENV: 'test', LOG_LEVEL: 'warn' });
    if (options.market !== 'empty') {
      await seedMarket(pool);
    }
    s3 = await startLocalS3('stocklab-e2e');
    // The launcher applies a service's own `env` last, so our key pair replaces the one it generates.
    const services: ServiceSpec[] = SERVICES.filter((s) => wanted.has(s.name)).map((s) => {
      const extra = options.serviceEnv?.[s.name as ServiceName];
      let resolved: Record<string, string> | undefined;
      return {
        ...s,
        replicas: options.replicas?.[s.name as ServiceName] ?? s.replicas,
        // a getter, resolved once: when the launcher builds this service's environment
        get env(): Record<string, string> {
          resolved ??= {
            ...s.env,
            // every client of these tests signs up from loopback through the gateway
            ...(s.name === 'auth' ? { SIGNUP_MAX_PER_ADDRESS: '100000' } : {}),
            ...(s.name === 'trading' ? tradingCronsLater() : {}),
            JWT_PUBLIC_KEYS: keys.publicKey,
            ...(s.signsTokens ? { JWT_PRIVATE_KEY: keys.privateKey } : {}),
            ...(typeof extra === 'function' ? extra() : extra),
          };
          return resolved;
        },
      };
    });
    const gatewayPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...s3.env,
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      DEMO_DATA: 'false',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      GATEWAY_PORT: String(gatewayPort),
    };
    if (!wanted.has('auth')) {
      // no auth replica to restore the revocation list: it is complete (nothing was ever revoked)
      await markRevocationListRestored(redisUrl, keyPrefix);
    }
    const platform = await startPlatform({ env, services, gatewayPort, log, repoRoot: root });
    const store = s3;
    const byName = (service: ServiceName): Replica[] =>
      platform.services.find((s) => s.spec.name === service)?.replicas.replicas ?? [];
    let stopped = false;
    return {
      platform,
      db,
      pool,
      s3: store,
      keyPrefix,
      gateway: platform.gateway.url,
      replicas: byName,
      replica(service, index) {
        const found = byName(service)[index];
        if (!found) {
          throw new Error(`no replica ${service}-${index}`);
        }
        return found;
      },
      token(userId, roles = ['user']) {
        return mintAccessToken(keys.privateKey, userId, { roles });
      },
      async stop() {
        if (stopped) {
          return;
        }
        stopped = true;
        await platform.stop(5000);
        await Promise.allSettled([pool.end(), store.stop(), deleteRedisKeys(redisUrl, keyPrefix)]);
        await db.drop();
        removeRoot();
      },
    };
  } catch (error) {
    await s3?.stop().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await db.drop().catch(() => undefined);
    removeRoot();
    throw error;
  }
}

/**
 * A service account as an operator makes one, at a fresh address (signup answers 202 for a taken
 * one too, without saying so): signed up through the gateway, then given `roles`
 * the way `grant-role <email> <role>` does (in SQL here, without a process per role; the command
 * itself is tested in the auth service). Its tokens carry the roles from its first login on.
 */
export async function createServiceAccount(
  p: Pick<E2EPlatform, 'gateway' | 'pool'>,
  account: { email: string; password: string; roles: readonly string[] },
): Promise<void> {
  // the address's local part, as a nickname may be (2-30 letters, digits, _ or -)
  const nickname = (account.email.split('@')[0] ?? '')
    .replace(/[^\p{L}\p{N}_-]/gu, '-')
    .slice(0, 30)
    .padEnd(2, '-');
  const signup = await request('POST', `${p.gateway}/api/auth/signup`, {
    body: { email: account.email, password: account.password, nickname },
  });
  if (signup.status !== 202) {
    throw new Error(`signup of ${account.email}: ${signup.status} ${JSON.stringify(signup.body)}`);
  }
  const granted = await p.pool.query(
    `UPDATE auth.users SET roles = ARRAY(SELECT DISTINCT unnest(roles || $2::text[])), updated_at = now() WHERE email = $1`,
    [account.email, [...account.roles]],
  );
  if (granted.rowCount !== 1) {
    throw new Error(`no account of ${account.email} after its signup: roles not granted`);
  }
}
