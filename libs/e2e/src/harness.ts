import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
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
  freePort,
  markRevocationListRestored,
  mintAccessToken,
  startLocalS3,
  testRedisUrl,
  uniqueKeyPrefix,
  type LocalS3,
  type Replica,
  type TestDatabase,
} from '@stocklab/test-support';

/** The crafted market: four stocks, every open and close 10,000 KRW, on weekdays that are KRX trading days. */
export const CODES = ['000010', '000020', '000030', '000040'] as const;
export const PRICE = 10_000;
/** 2026-03-02 is a holiday (substitute for March 1st); every other date here is a trading day. */
export const MARKET_DATES: readonly string[] = [
  '2026-02-26',
  '2026-02-27',
  '2026-03-03',
  '2026-03-04',
  '2026-03-05',
  '2026-03-06',
  '2026-03-09',
  '2026-03-10',
  '2026-03-11',
  '2026-03-12',
  '2026-03-13',
  '2026-03-16',
  '2026-03-17',
  '2026-03-18',
  '2026-03-19',
  '2026-03-20',
  '2026-03-23',
  '2026-03-24',
  '2026-03-25',
  '2026-03-26',
  '2026-03-27',
  '2026-03-30',
  '2026-03-31',
  '2026-04-01',
  '2026-04-02',
  '2026-04-03',
  '2026-04-06',
  '2026-04-07',
  '2026-04-08',
  '2026-04-09',
  '2026-04-10',
];

/** A strategy definition over `codes` that picks all of them, equal weight, no costs. */
export function definition(
  codes: readonly string[],
  maxPositions = codes.length,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    schemaVersion: 1,
    universe: { scope: 'codes', codes: [...codes] },
    ranking: { factor: 'close', order: 'desc' },
    maxPositions,
    weighting: { method: 'equal' },
    rebalance: 'daily',
    costs: { commissionBps: 0, sellTaxBps: 0, slippageBps: 0 },
    initialCapital: 1_000_000,
    ...overrides,
  };
}

/** A cron expression (with seconds) that fires once a day at `at`'s wall-clock time in Asia/Seoul. */
export function cronAt(at: Date): string {
  const seoul = new Date(at.getTime() + 9 * 3600_000);
  return `${seoul.getUTCSeconds()} ${seoul.getUTCMinutes()} ${seoul.getUTCHours()} * * *`;
}

/** A cron whose occurrence today lies hours ahead (it does not fire during a test). */
export function cronLater(): string {
  return cronAt(new Date(Date.now() + 6 * 3600_000));
}

/** Inserts the crafted market (after the backtest migrations created the market schema). */
export async function seedMarket(pool: pg.Pool): Promise<void> {
  for (const code of CODES) {
    await pool.query(
      `INSERT INTO market.securities (code, name, market, sector, listed_on) VALUES ($1, $2, 'KOSPI', 'test', '2020-01-01')`,
      [code, `stock ${code}`],
    );
  }
  await seedMarketDays(pool, MARKET_DATES);
}

/**
 * Adds `dates` to the crafted market: a bar at PRICE for every one of CODES and a trading day each,
 * then bumps market.data_version so that every replica's market snapshot reloads.
 */
export async function seedMarketDays(pool: pg.Pool, dates: readonly string[]): Promise<void> {
  for (const code of CODES) {
    for (const date of dates) {
      await pool.query(
        `INSERT INTO market.daily_bars (code, date, open, high, low, close, volume, trading_value, market_cap, shares_outstanding)
         VALUES ($1, $2, $3, $3, $3, $3, 1000, $4, $5, 1000000)`,
        [code, date, PRICE, PRICE * 1000, PRICE * 1_000_000],
      );
    }
  }
  for (const date of dates) {
    await pool.query(`INSERT INTO market.trading_days (date) VALUES ($1)`, [date]);
  }
  await pool.query(`UPDATE market.data_version SET version = version + 1`);
}

/** 2026-04-10 -> 2026-04-11 (calendar arithmetic on the date alone, no time zone involved). */
function nextCalendarDay(isoDate: string): string {
  return new Date(Date.parse(`${isoDate}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/**
 * Continues the crafted market past MARKET_DATES with `count` further trading days, as trading's
 * own calendar defines them (weekdays not in trading.holidays): a run the trading service refuses
 * as a holiday could not be a chaos iteration. Needs the trading migrations (they create and fill
 * trading.holidays); call it once. Returns the added days, in order.
 */
export async function extendMarket(pool: pg.Pool, count: number): Promise<string[]> {
  if (count <= 0) {
    return [];
  }
  const { rows } = await pool.query<{ date: string }>(
    `SELECT to_char(date, 'YYYY-MM-DD') AS date FROM trading.holidays`,
  );
  const holidays = new Set(rows.map((r) => r.date));
  const added: string[] = [];
  let day = MARKET_DATES.at(-1) ?? '';
  while (added.length < count) {
    day = nextCalendarDay(day);
    const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
    if (weekday !== 0 && weekday !== 6 && !holidays.has(day)) {
      added.push(day);
    }
  }
  await seedMarketDays(pool, added);
  return added;
}

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

async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) {
        await redis.del(...keys);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
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
  const keyPrefix = uniqueKeyPrefix('e2e');
  const redisUrl = options.redisUrl ?? testRedisUrl();
  let s3: LocalS3 | undefined;
  try {
    // the market schema comes with the backtest migrations; the crafted market goes in before anything starts
    await runMigration(repoRoot, backtestSpec, { DATABASE_URL: db.url, NODE_ENV: 'test', LOG_LEVEL: 'warn' });
    await seedMarket(pool);
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

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** mulberry32: a small seeded PRNG, the same sequence everywhere for a given seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
