import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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
  mintAccessToken,
  request,
  serveInProcess,
  startLocalS3,
  startReplicas,
  testingModuleFactory,
  testRedisUrl,
  markRevocationListRestored,
  uniqueKeyPrefix,
  type HttpResult,
  type InProcessService,
  type LocalS3,
  type ReplicaSet,
  type MigratedSchemas,
  type TestDatabase,
} from '@stocklab/test-support';
import { backtestConfigSchema } from '../src/config.js';
import { backtestServiceOptions } from '../src/service-options.js';

/** dist-spec/test/support.js -> services/backtest/dist/bundle/main.js */
export const BACKTEST_ENTRY = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/bundle/main.js');
/** dist-spec/test/support.js -> services/backtest/dist/bundle/worker.js */
export const BACKTEST_WORKER_ENTRY = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/bundle/worker.js');
/** The backtest schema, as the service's migrations create it (each test's database is a copy). */
export const BACKTEST_SCHEMAS: MigratedSchemas = {
  family: 'backtest',
  migrations: [resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/bundle/migrate.js')],
};

export interface BacktestCluster {
  db: TestDatabase;
  s3: LocalS3;
  env: Record<string, string>;
  replicas: ReplicaSet;
  /** the pair access tokens are signed with (the replicas know only its public half) */
  keys: SigningKeyPair;
  /** an access token for `userId`, signed the way the auth service's TokenIssuer signs them */
  tokenFor(userId: string, roles?: string[]): Promise<string>;
  close(): Promise<void>;
}

/** An access token signed with the cluster's key, as the auth service would issue it. */
export async function mintToken(
  keys: SigningKeyPair,
  userId: string,
  roles: string[] = ['user'],
  env: Record<string, string> = {},
): Promise<string> {
  return mintAccessToken(keys.privateKeyPem, userId, { roles, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE });
}

export function backtestEnv(
  db: TestDatabase,
  s3: LocalS3,
  keys: SigningKeyPair,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: uniqueKeyPrefix('backtest'),
    JWT_PUBLIC_KEYS: keys.publicKeyPem,
    LOG_LEVEL: 'warn',
    SHUTDOWN_DRAIN_MS: '100',
    JOB_LOCK_MS: '5000',
    ...s3.env,
    ...overrides,
  };
}

/**
 * A throwaway database, a local S3 (s3rver) and `count` backtest replicas as real processes
 * sharing them and Redis (under a key prefix of their own). Each replica runs the migrations at
 * start (under the advisory lock); tokens are minted by `tokenFor`, the service only verifies them.
 */
export async function startBacktestCluster(
  count: number,
  overrides: Record<string, string> = {},
): Promise<BacktestCluster> {
  const keys = generateSigningKeyPair();
  const db = await createMigratedDatabase('stocklab_backtest', BACKTEST_SCHEMAS);
  let s3: LocalS3 | undefined;
  try {
    s3 = await startLocalS3();
    const env = backtestEnv(db, s3, keys, overrides);
    // no auth replica here: the revocation list is complete (nothing was ever revoked)
    await markRevocationListRestored(env.REDIS_URL ?? '', env.REDIS_KEY_PREFIX ?? '');
    const replicas = await startReplicas(count, { entry: BACKTEST_ENTRY, env, name: 'backtest' });
    const localS3 = s3;
    return {
      db,
      s3: localS3,
      env,
      replicas,
      keys,
      async tokenFor(userId: string, roles: string[] = ['user']): Promise<string> {
        return mintToken(keys, userId, roles, env);
      },
      async close() {
        await replicas.stopAll(5000);
        await Promise.allSettled([
          db.drop(),
          localS3.stop(),
          deleteRedisKeys(testRedisUrl(), env.REDIS_KEY_PREFIX ?? ''),
        ]);
      },
    };
  } catch (error) {
    await s3?.stop();
    await db.drop();
    throw error;
  }
}

export interface InProcessBacktest extends InProcessService {
  db: TestDatabase;
  s3: LocalS3;
  env: Record<string, string>;
  keys: SigningKeyPair;
  tokenFor(userId: string, roles?: string[]): Promise<string>;
}

export interface InProcessShared {
  /** a database another in-process service already uses (not dropped at close) */
  db?: TestDatabase;
  /** the pair whose public half verifies tokens (default: a new one) */
  keys?: SigningKeyPair;
}

/**
 * The backtest API in this process (a TestingModule set up as a replica is), with its queue
 * consumer and worker threads when BACKTEST_CONCURRENCY > 0, on a throwaway database (or a
 * shared one), a local S3 and a Redis key prefix of its own.
 */
export async function startInProcessBacktest(
  overrides: Record<string, string> = {},
  shared: InProcessShared = {},
): Promise<InProcessBacktest> {
  const keys = shared.keys ?? generateSigningKeyPair();
  const db = shared.db ?? (await createMigratedDatabase('stocklab_backtest', BACKTEST_SCHEMAS));
  let s3: LocalS3 | undefined;
  let env: Record<string, string> = {};
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled([
      shared.db ? undefined : db.drop(),
      s3?.stop(),
      deleteRedisKeys(testRedisUrl(), env.REDIS_KEY_PREFIX ?? ''),
    ]);
  };
  try {
    s3 = await startLocalS3();
    env = backtestEnv(db, s3, keys, { LOG_LEVEL: 'error', ...overrides });
    await markRevocationListRestored(env.REDIS_URL ?? '', env.REDIS_KEY_PREFIX ?? '');
    const options = backtestServiceOptions(loadConfig(backtestConfigSchema, env));
    await runMigrationsWithLock(options.dataSource);
    const app = await createServiceApp(options, testingModuleFactory);
    await initServiceApp(app);
    const served = await serveInProcess(app, cleanup);
    return {
      ...served,
      db,
      s3,
      env,
      keys,
      tokenFor: (userId, roles = ['user']) => mintToken(keys, userId, roles, env),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export interface DatasetUpload {
  kind?: string;
  fileName?: string;
  content?: string | Uint8Array;
  contentType?: string;
  /** extra parts, appended in order after kind and file */
  extra?: Array<[string, string | { content: string; fileName: string }]>;
  /** put the file before the kind field */
  fileFirst?: boolean;
}

/** POST /api/backtest/datasets as multipart/form-data: `kind` first, then `file`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function uploadDataset<T = any>(
  baseUrl: string,
  token: string,
  upload: DatasetUpload,
): Promise<HttpResult<T>> {
  const form = new FormData();
  const addFile = (): void => {
    if (upload.content !== undefined) {
      const blob = new Blob([upload.content], { type: upload.contentType ?? 'text/csv' });
      form.append('file', blob, upload.fileName ?? 'data.csv');
    }
  };
  if (upload.fileFirst) {
    addFile();
  }
  if (upload.kind !== undefined) {
    form.append('kind', upload.kind);
  }
  if (!upload.fileFirst) {
    addFile();
  }
  for (const [name, value] of upload.extra ?? []) {
    if (typeof value === 'string') {
      form.append(name, value);
    } else {
      form.append(name, new Blob([value.content], { type: 'text/csv' }), value.fileName);
    }
  }
  const res = await fetch(`${baseUrl}/api/backtest/datasets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  const body = (res.headers.get('content-type') ?? '').includes('json') && text !== '' ? JSON.parse(text) : text;
  return { status: res.status, headers: res.headers, body: body as T };
}

/** GET /api/backtest/datasets/:id as the API answers it. */
export interface DatasetView {
  id: string;
  kind: 'securities' | 'bars' | 'statements' | 'classifications';
  status: 'queued' | 'validating' | 'loading' | 'succeeded' | 'failed';
  fileName: string;
  sizeBytes: number;
  sha256: string;
  rowsTotal: number | null;
  rowsInserted: number | null;
  rowsUpdated: number | null;
  rowsUnchanged: number | null;
  errors: Array<{ line: number; message: string }>;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** Polls GET /datasets/:id until the import finished (succeeded or failed); bounded. */
export async function waitForDataset(
  baseUrl: string,
  token: string,
  id: string,
  timeoutMs = 30000,
): Promise<DatasetView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request<DatasetView>('GET', `${baseUrl}/api/backtest/datasets/${id}`, { token });
    // a 503 with Retry-After (a Redis answer late on a starved machine) says to ask again, as a client does
    if (res.status === 503 && res.headers.get('retry-after') !== null && Date.now() < deadline) {
      await sleep(Number(res.headers.get('retry-after')) * 1000);
      continue;
    }
    if (res.status !== 200) {
      throw new Error(`GET dataset ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    if (res.body.status === 'succeeded' || res.body.status === 'failed') {
      return res.body;
    }
    if (Date.now() > deadline) {
      throw new Error(`dataset ${id} still ${String(res.body.status)} after ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

/** Uploads a file as an admin and waits for its import; throws unless it succeeded. */
export async function importDataset(
  baseUrl: string,
  adminToken: string,
  kind: 'securities' | 'bars' | 'statements' | 'classifications',
  content: string,
  fileName = `${kind}.csv`,
): Promise<DatasetView> {
  const res = await uploadDataset(baseUrl, adminToken, { kind, fileName, content });
  if (res.status !== 202) {
    throw new Error(`upload ${kind}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const done = await waitForDataset(baseUrl, adminToken, res.body.id);
  if (done.status !== 'succeeded') {
    throw new Error(`import ${kind} failed: ${JSON.stringify(done.errors)}`);
  }
  return done;
}

export { assertErrorBody } from '@stocklab/test-support';

/** Polls GET /backtests/:id of an in-process service until the backtest has finished (60 s at most). */
export async function waitForInProcessBacktest(
  svc: InProcessBacktest,
  id: string,
  token: string,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 600; i += 1) {
    const res = await svc
      .http()
      .get(`/api/backtest/backtests/${id}`)
      .set('authorization', `Bearer ${token}`)
      .expect(200);
    if (['succeeded', 'failed', 'cancelled'].includes(res.body.status as string)) {
      return res.body as Record<string, unknown>;
    }
    await sleep(100);
  }
  throw new Error(`backtest ${id} did not finish in 60 s`);
}

/** Monthly top 3 by 3-month momentum over the whole market, with real costs (the in-process tests' strategy). */
export function topMomentum(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 1,
    universe: { scope: 'all' },
    ranking: { factor: 'mom_3m', order: 'desc' },
    maxPositions: 3,
    weighting: { method: 'equal' },
    rebalance: 'monthly',
    costs: { commissionBps: 1.5, sellTaxBps: 23, slippageBps: 10 },
    initialCapital: 10_000_000,
    ...overrides,
  };
}
