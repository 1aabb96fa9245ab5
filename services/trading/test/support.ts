import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { LeaseApiDouble, writeKubeconfig } from '@stocklab/leader-election';
import {
  algorithmOf,
  createServiceApp,
  generateSigningKeyPair,
  initServiceApp,
  loadConfig,
  toVerificationKey,
  type SigningKeyPair,
} from '@stocklab/platform';
import {
  createMigratedDatabase,
  cronAt,
  tradingCronsLater,
  definition,
  MARKET_DATES,
  request,
  requestPatiently,
  seedMarket as seedCraftedMarket,
  startLocalS3,
  startReplicas,
  testRedisUrl,
  markRevocationListRestored,
  serveInProcess,
  testingModuleFactory,
  uniqueKeyPrefix,
  waitFor,
  type InProcessService,
  type LocalS3,
  type MigratedSchemas,
  type Replica,
  type ReplicaSet,
  type TestDatabase,
} from '@stocklab/test-support';

import { tradingConfigSchema } from '../src/config.js';
import { tradingServiceOptions } from '../src/service-options.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist-spec/test/support.js -> services/trading/dist/bundle/main.js */
export const TRADING_ENTRY = resolve(here, '../../dist/bundle/main.js');
export const TRADING_MIGRATE = resolve(here, '../../dist/bundle/migrate.js');
export const BACKTEST_ENTRY = resolve(here, '../../../backtest/dist/bundle/main.js');
export const BACKTEST_MIGRATE = resolve(here, '../../../backtest/dist/bundle/migrate.js');
/** The market schema (the backtest service's migrations) and the trading schema. */
export const TRADING_SCHEMAS: MigratedSchemas = { family: 'trading', migrations: [BACKTEST_MIGRATE, TRADING_MIGRATE] };

/** The replayed trading day (a Tuesday); its signal day is Monday 2026-03-09. */
export const AS_OF = '2026-03-10';
/** The crafted market up to AS_OF, the trading clock of these tests. */
export async function seedMarket(pool: pg.Pool): Promise<void> {
  await seedCraftedMarket(
    pool,
    MARKET_DATES.filter((date) => date <= AS_OF),
  );
}

export { CODES, cronAt, cronLater, definition, PRICE, seedStrategy, waitFor } from '@stocklab/test-support';

/** When a test's select and execute crons fire (set by `schedule`). */
export interface Schedule {
  selectAt: Date;
  executeAt: Date;
}

/**
 * Cron variables that fire select `leadMs` from now and execute `gapMs` after it, recording the
 * instants in `into`. Passed as a ClusterOptions.env function, "now" is when the replicas are
 * about to start, so a slow set-up on a loaded machine cannot push the ticks into the past.
 */
export function schedule(into: Schedule, leadMs: number, gapMs: number): Record<string, string> {
  into.selectAt = new Date(Math.ceil((Date.now() + leadMs) / 1000) * 1000);
  into.executeAt = new Date(into.selectAt.getTime() + gapMs);
  return { TRADING_SELECT_CRON: cronAt(into.selectAt), TRADING_EXECUTE_CRON: cronAt(into.executeAt) };
}

export const LEASE = { duration: 3, renewDeadline: 2, retry: 0.5 } as const;

function signJwt(key: KeyObject, kid: string, payload: Record<string, unknown>): string {
  const alg = algorithmOf(key);
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg, kid, typ: 'at+jwt' })}.${encode(payload)}`;
  const signature =
    alg === 'EdDSA'
      ? sign(null, Buffer.from(input), key)
      : sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** Where a service answers: a set of replicas, or one in-process application. */
export interface Endpoints {
  at(index: number): { url: string };
}

export interface TradingCluster {
  db: TestDatabase;
  pool: pg.Pool;
  double: LeaseApiDouble | undefined;
  backtest: ReplicaSet;
  trading: ReplicaSet;
  env: Record<string, string>;
  tokenFor(userId: string, roles?: string[]): string;
  close(): Promise<void>;
}

export interface ClusterOptions {
  backend?: 'kubernetes' | 'postgres';
  replicas?: number;
  /** a function is called once the ground is ready, just before the trading replicas start */
  env?: Record<string, string> | (() => Record<string, string>);
  /** runs after the schemas exist and before the trading replicas start (fixtures) */
  seed?: (pool: pg.Pool) => Promise<void>;
}

/** What both kinds of trading test stand on: the database, its fixtures, a backtest replica, tokens. */
interface TradingGround {
  db: TestDatabase;
  pool: pg.Pool;
  s3: LocalS3;
  backtest: ReplicaSet;
  /** the variables every trading replica (or in-process app) gets */
  env: Record<string, string>;
  tokenFor(userId: string, roles?: string[]): string;
  close(): Promise<void>;
}

/**
 * A throwaway database with the market schema (the backtest service's migrations) and a crafted
 * market, the trading schema, fixtures, and one backtest replica (strategies API, local S3).
 */
async function prepareGround(options: ClusterOptions): Promise<TradingGround> {
  const keys: SigningKeyPair = generateSigningKeyPair();
  const { kid } = await toVerificationKey(keys.publicKeyPem);
  const privateKey = createPrivateKey(keys.privateKeyPem);
  const db = await createMigratedDatabase('stocklab_trading', TRADING_SCHEMAS);
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  let s3: LocalS3 | undefined;
  let backtest: ReplicaSet | undefined;
  try {
    await seedMarket(pool);
    await options.seed?.(pool);
    s3 = await startLocalS3();
    const common = {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      REDIS_URL: testRedisUrl(),
      JWT_PUBLIC_KEYS: keys.publicKeyPem,
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_MS: '100',
    };
    const backtestPrefix = uniqueKeyPrefix('backtest');
    await markRevocationListRestored(common.REDIS_URL, backtestPrefix);
    backtest = await startReplicas(1, {
      entry: BACKTEST_ENTRY,
      name: 'backtest',
      env: {
        ...common,
        ...s3.env,
        REDIS_KEY_PREFIX: backtestPrefix,
        BACKTEST_CONCURRENCY: '0',
        IMPORT_CONCURRENCY: '0',
      },
    });
    const env: Record<string, string> = {
      ...common,
      REDIS_KEY_PREFIX: uniqueKeyPrefix('trading'),
      BACKTEST_URL: backtest.at(0).url,
      LEADER_ELECTION: options.backend ?? 'kubernetes',
      LEASE_DURATION_SECONDS: String(LEASE.duration),
      RENEW_DEADLINE_SECONDS: String(LEASE.renewDeadline),
      RETRY_PERIOD_SECONDS: String(LEASE.retry),
      TRADING_AS_OF_DATE: AS_OF,
      ...tradingCronsLater(),
      CATCH_UP_INTERVAL_SECONDS: '2',
      ...(typeof options.env === 'function' ? options.env() : options.env),
    };
    // no auth replica here: the revocation list is complete (nothing was ever revoked)
    await markRevocationListRestored(common.REDIS_URL, env.REDIS_KEY_PREFIX ?? '');
    const btReplicas = backtest;
    const localS3 = s3;
    return {
      db,
      pool,
      s3: localS3,
      backtest: btReplicas,
      env,
      tokenFor(userId: string, roles: string[] = ['user']): string {
        const now = Date.now() / 1000;
        return signJwt(privateKey, kid, {
          sub: userId,
          jti: randomUUID(),
          sid: randomUUID(),
          roles,
          iat: now,
          exp: Math.floor(now) + 3600,
          iss: 'stocklab-auth',
          aud: 'stocklab',
        });
      },
      async close() {
        await btReplicas.stopAll(5000);
        await Promise.allSettled([pool.end(), localS3.stop()]);
        await db.drop();
      },
    };
  } catch (error) {
    await backtest?.stopAll(2000);
    await s3?.stop();
    await pool.end();
    await db.drop();
    throw error;
  }
}

/**
 * The ground above, a Lease API double (in this process) when the backend is Kubernetes, and
 * `replicas` trading replicas as real processes electing their scheduler leader.
 */
export async function startTradingCluster(options: ClusterOptions = {}): Promise<TradingCluster> {
  const ground = await prepareGround(options);
  let double: LeaseApiDouble | undefined;
  try {
    const env = { ...ground.env };
    if (env.LEADER_ELECTION === 'kubernetes') {
      double = await LeaseApiDouble.start();
      const kubeconfig = join(mkdtempSync(join(tmpdir(), 'trading-kube-')), 'config');
      writeKubeconfig(kubeconfig, double.url);
      env.KUBECONFIG = kubeconfig;
    }
    const trading = await startReplicas(options.replicas ?? 3, { entry: TRADING_ENTRY, name: 'trading', env });
    const leaseDouble = double;
    return {
      ...ground,
      double,
      trading,
      env,
      async close() {
        await trading.stopAll(5000);
        await leaseDouble?.close();
        await ground.close();
      },
    };
  } catch (error) {
    await double?.close();
    await ground.close();
    throw error;
  }
}

export interface InProcessTrading extends Omit<TradingGround, 's3'> {
  /** the one in-process application, whatever replica index a helper asks for */
  trading: Endpoints;
  service: InProcessService;
}

/**
 * The same ground with the trading application in this process (a TestingModule set up as a
 * replica is), sole scheduler leader through the PostgreSQL elector: what one replica proves
 * (routes, guard, validation, the rules of a run), without a process per test file.
 */
export async function startInProcessTrading(
  options: Omit<ClusterOptions, 'backend' | 'replicas'> = {},
): Promise<InProcessTrading> {
  const ground = await prepareGround({ ...options, backend: 'postgres' });
  try {
    // the only replica, sharing its event loop with the test: a Lease it renews at leisure, so a
    // starved moment cannot make it step down and fence its own runs out (failover is tested with
    // processes, not here). The retry period also bounds each renewal's query (at most RenewDeadline
    // / 2): at 1 s, one event-loop stall of a second on a loaded machine timed a renewal out, the
    // app stepped down and left its triggered run `running` for the next leader. It campaigns at
    // once when started, so the longer period does not delay its first term.
    const env = {
      ...ground.env,
      LEASE_DURATION_SECONDS: '60',
      RENEW_DEADLINE_SECONDS: '45',
      RETRY_PERIOD_SECONDS: '10',
      LOG_LEVEL: 'error',
    };
    const app = await createServiceApp(
      tradingServiceOptions(loadConfig(tradingConfigSchema, env)),
      testingModuleFactory,
    );
    await initServiceApp(app);
    const service = await serveInProcess(app, () => ground.close());
    // triggered runs take the leader's epoch: one triggered before the app leads would be fenced
    // out by the epoch its election takes a moment later (and left for the sweep to resume)
    const token = ground.tokenFor(randomUUID(), ['user', 'admin']);
    const leads = async (): Promise<true | undefined> => {
      const res = await request<SchedulerView>('GET', `${service.url}/api/trading/scheduler`, { token });
      return res.status === 200 && res.body.role === 'leader' ? true : undefined;
    };
    try {
      await waitFor('the in-process app to lead', leads, 30_000, 100);
    } catch (error) {
      await service.close();
      throw error;
    }
    return { ...ground, env, service, trading: { at: () => ({ url: service.url }) }, close: () => service.close() };
  } catch (error) {
    await ground.close().catch(() => undefined);
    throw error;
  }
}

export interface SchedulerView {
  leader: string | null;
  epoch: number;
  role: 'leader' | 'follower';
  identity: string;
  ownEpoch: number | null;
}

export async function schedulerOf(replica: Replica, token: string): Promise<SchedulerView | undefined> {
  if (!replica.running) {
    return undefined;
  }
  const res = await request<SchedulerView>('GET', `${replica.url}/api/trading/scheduler`, { token });
  return res.status === 200 ? res.body : undefined;
}

/** The replica that reports itself leader (exactly one must). */
export async function currentLeader(
  replicas: ReplicaSet,
  token: string,
  exclude?: Replica,
): Promise<{ replica: Replica; view: SchedulerView } | undefined> {
  const views = await Promise.all(
    replicas.replicas.map(async (r) => ({ replica: r, view: r === exclude ? undefined : await schedulerOf(r, token) })),
  );
  const leaders = views.filter((v) => v.view?.role === 'leader');
  return leaders.length === 1 && leaders[0]?.view ? { replica: leaders[0].replica, view: leaders[0].view } : undefined;
}

/** Creates a research strategy in the backtest service and activates it in trading. */
export async function activateStrategy(
  cluster: { backtest: Endpoints; trading: Endpoints },
  token: string,
  codes: readonly string[],
  allocatedCapital: number,
  replica = 0,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; strategyId: string }> {
  // as a client that follows the contract: a 503 with Retry-After (a replica whose Redis check
  // missed its timeout on a starved machine) is asked again, not taken for an answer
  const created = await requestPatiently('POST', `${cluster.backtest.at(0).url}/api/backtest/strategies`, {
    token,
    body: { name: `strategy ${codes.join(',')}`, definition: definition(codes) },
  });
  if (created.status !== 201) {
    throw new Error(`strategy create failed: ${created.status} ${JSON.stringify(created.body)}`);
  }
  const activated = await requestPatiently('POST', `${cluster.trading.at(replica).url}/api/trading/auto-strategies`, {
    token,
    body: { strategyId: created.body.id, allocatedCapital, ...extra },
  });
  if (activated.status !== 201) {
    throw new Error(`activation failed: ${activated.status} ${JSON.stringify(activated.body)}`);
  }
  return { id: activated.body.id, strategyId: created.body.id };
}

export interface RunRow {
  run_key: string;
  status: string;
  epoch: string;
  trigger: string;
  trading_date: string;
  scheduled_at: Date;
  runner: string;
}

export async function runsOf(pool: pg.Pool, job: string): Promise<RunRow[]> {
  const { rows } = await pool.query<RunRow>(
    `SELECT run_key, status, epoch, trigger, to_char(trading_date, 'YYYY-MM-DD') AS trading_date, scheduled_at, runner
       FROM trading.job_runs WHERE job = $1 ORDER BY started_at`,
    [job],
  );
  return rows;
}

export async function positionsOf(pool: pg.Pool, strategyId: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ code: string; quantity: string }>(
    `SELECT code, quantity FROM trading.positions WHERE auto_strategy_id = $1 ORDER BY code`,
    [strategyId],
  );
  return Object.fromEntries(rows.map((r) => [r.code, Number(r.quantity)]));
}

/** Client order ids the paper broker received more than once, and how many calls it got in all. */
export async function brokerCalls(pool: pg.Pool): Promise<{ total: number; repeatedIds: string[]; orders: number }> {
  const { rows } = await pool.query<{ client_order_id: string; n: string }>(
    `SELECT client_order_id, count(*) AS n FROM trading.paper_order_requests GROUP BY client_order_id`,
  );
  const orders = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM trading.paper_orders`);
  return {
    total: rows.reduce((s, r) => s + Number(r.n), 0),
    repeatedIds: rows.filter((r) => Number(r.n) > 1).map((r) => r.client_order_id),
    orders: Number(orders.rows[0]?.n ?? 0),
  };
}

/** A security with bars on the given days ({ date, open, close }; high/low span them); bumps the data version. */
export async function seedSecurity(
  pool: pg.Pool,
  code: string,
  bars: ReadonlyArray<{ date: string; open: number; close: number }>,
): Promise<void> {
  await pool.query(
    `INSERT INTO market.securities (code, name, market, sector, listed_on) VALUES ($1, $2, 'KOSPI', 'test', '2020-01-01')`,
    [code, `stock ${code}`],
  );
  for (const bar of bars) {
    await pool.query(
      `INSERT INTO market.daily_bars (code, date, open, high, low, close, volume, trading_value, market_cap, shares_outstanding)
       VALUES ($1, $2, $3, $4, $5, $6, 1000, $7, $8, 1000000)`,
      [
        code,
        bar.date,
        bar.open,
        Math.max(bar.open, bar.close),
        Math.min(bar.open, bar.close),
        bar.close,
        bar.close * 1000,
        bar.close * 1_000_000,
      ],
    );
  }
  await pool.query(`UPDATE market.data_version SET version = version + 1`);
}

/**
 * Fixture: a position of a seeded strategy bought earlier at `entryPrice` on `entryDate`; its cost
 * leaves the strategy's cash, and the paper broker holds the shares (so a sell can fill).
 */
export async function seedPosition(
  pool: pg.Pool,
  strategyId: string,
  position: { code: string; quantity: number; entryPrice: number; entryDate: string },
): Promise<void> {
  const cost = position.quantity * position.entryPrice;
  const updated = await pool.query<{ account_id: string }>(
    `UPDATE trading.auto_strategies SET cash = cash - $2 WHERE id = $1 RETURNING account_id`,
    [strategyId, cost],
  );
  await pool.query(
    `INSERT INTO trading.positions (auto_strategy_id, code, quantity, entry_price, entry_date, cost) VALUES ($1, $2, $3, $4, $5, $6)`,
    [strategyId, position.code, position.quantity, position.entryPrice, position.entryDate, cost],
  );
  await pool.query(
    `INSERT INTO trading.paper_holdings (account_id, code, quantity) VALUES ($1, $2, $3)
     ON CONFLICT (account_id, code) DO UPDATE SET quantity = paper_holdings.quantity + EXCLUDED.quantity`,
    [updated.rows[0]?.account_id, position.code, position.quantity],
  );
}

/** Admin-triggers `job` for `date` on `replica` and returns the run it answered with. */
export async function triggerRun(
  cluster: { trading: Endpoints },
  token: string,
  job: 'select' | 'execute' | 'reconcile',
  date: string,
  replica = 0,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request<Record<string, unknown>>(
    'POST',
    `${cluster.trading.at(replica).url}/api/trading/jobs/${job}/runs`,
    { token, body: { date } },
  );
  return { status: res.status, body: res.body };
}

/**
 * Fixture: the strategy has been trading, its last decision made on `lastSignalDate`'s close (so
 * the next one is not its first, which would form the portfolio as a rebalance does).
 */
export async function markTrading(pool: pg.Pool, strategyId: string, lastSignalDate: string): Promise<void> {
  await pool.query(`UPDATE trading.auto_strategies SET last_signal_date = $2 WHERE id = $1`, [
    strategyId,
    lastSignalDate,
  ]);
}
