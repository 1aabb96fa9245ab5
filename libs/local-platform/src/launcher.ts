import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKeyPair, SERVICE_PROCESS_ENV } from '@stocklab/platform';
import { childProcessEnv, mintAccessToken, startLocalS3, startReplicas, type ReplicaSet } from '@stocklab/test-support';
import pg from 'pg';
import { LeaseApiDouble, writeKubeconfig } from '@stocklab/leader-election';
import { Gateway } from './gateway.js';
import { provision, redactUrl, type Provisioned } from './provision.js';

/** One deployable service, as the launcher runs it: one more row here adds a service. */
export interface ServiceSpec {
  name: string;
  /** the Ingress path prefix the gateway routes to it; none for a worker that serves no API */
  prefix?: string;
  /** built entry point, relative to the repository root */
  entry: string;
  /** built migration entry point, run once before the replicas start; relative to the root */
  migrate?: string;
  replicas: number;
  /** receives JWT_PRIVATE_KEY (only the token issuer does) */
  signsTokens?: boolean;
  /** extra environment for this service's replicas */
  env?: Record<string, string>;
  /** receives the S3_* settings of the object store */
  objectStorage?: boolean;
  /** elects its scheduler leader through the Lease API (the local test double) */
  leaderElection?: boolean;
  /** built script run once after the migrations, if the market has no securities yet (demo data) */
  seed?: { entry: string; args: string[]; description: string };
}

export const SERVICES: readonly ServiceSpec[] = [
  {
    name: 'auth',
    prefix: '/api/auth',
    entry: 'services/auth/dist/bundle/main.js',
    migrate: 'services/auth/dist/bundle/migrate.js',
    replicas: 2,
    signsTokens: true,
  },
  {
    name: 'backtest',
    prefix: '/api/backtest',
    entry: 'services/backtest/dist/bundle/main.js',
    migrate: 'services/backtest/dist/bundle/migrate.js',
    replicas: 2,
    objectStorage: true,
    env: { BACKTEST_CONCURRENCY: '1', IMPORT_CONCURRENCY: '1' },
    seed: {
      entry: 'services/backtest/dist/cli/demo-data.js',
      args: ['--load', '--stocks', '400', '--years', '12', '--seed', '42', '--out', '.run/demo-data'],
      description: 'loading the SYNTHETIC demo market (400 stocks x 12 years) once; it takes about a minute',
    },
  },
  {
    name: 'backtest-worker',
    entry: 'services/backtest/dist/bundle/worker.js',
    replicas: 1,
    objectStorage: true,
    env: { BACKTEST_CONCURRENCY: '2', IMPORT_CONCURRENCY: '1' },
  },
  {
    name: 'trading',
    prefix: '/api/trading',
    entry: 'services/trading/dist/bundle/main.js',
    migrate: 'services/trading/dist/bundle/migrate.js',
    replicas: 3,
    leaderElection: true,
  },
];

/** The subject of the admin token the status page asks the trading scheduler with. */
export const STATUS_PAGE_USER_ID = '00000000-0000-4000-8000-00000057a705';

/**
 * A Bearer token for the status page, minted with the platform's signing key and renewed well
 * before it expires (one token at a time, so the services' verification cache stays small).
 */
export function statusPageToken(privateKeyPem: string, lifetimeSeconds = 900): () => string {
  let token = '';
  let renewAt = 0;
  return () => {
    const now = Date.now();
    if (now >= renewAt) {
      token = mintAccessToken(privateKeyPem, STATUS_PAGE_USER_ID, { roles: ['admin'], lifetimeSeconds });
      renewAt = now + (lifetimeSeconds * 1000) / 2;
    }
    return token;
  };
}

/** Variables handed through from the launcher's environment to every service process when set. */
const PASS_THROUGH = ['REDIS_KEY_PREFIX', 'LOG_LEVEL', 'DB_POOL_SIZE'];
export const APP_DATABASE = 'stocklab';

/** The folder holding the workspace root package.json, searched upwards from `from`. */
export function findRepoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(from);
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown };
      if (parsed.workspaces !== undefined) {
        return dir;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`no workspace root (package.json with "workspaces") above ${from}`);
    }
    dir = parent;
  }
}

/**
 * The application database URL: a DATABASE_URL that names a database is used as is; otherwise
 * `stocklab` is created (if missing) on the server of the admin URL.
 */
export async function ensureAppDatabase(provisioned: Provisioned, env: NodeJS.ProcessEnv): Promise<string> {
  const configured = env.DATABASE_URL;
  if (
    configured !== undefined &&
    configured === provisioned.databaseAdminUrl &&
    new URL(configured).pathname.length > 1
  ) {
    return configured;
  }
  const client = new pg.Client({ connectionString: provisioned.databaseAdminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [APP_DATABASE]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${APP_DATABASE}`);
      } catch (error) {
        // Another launcher created it in the meantime.
        if ((error as { code?: string }).code !== '42P04') {
          throw error;
        }
      }
    }
  } finally {
    await client.end();
  }
  const url = new URL(provisioned.databaseAdminUrl);
  url.pathname = `/${APP_DATABASE}`;
  return url.toString();
}

/** Runs a built migration entry point to completion; throws with its last output lines on failure. */
export async function runMigration(
  repoRoot: string,
  service: ServiceSpec,
  env: Record<string, string>,
  args: string[] = [],
): Promise<string> {
  if (!service.migrate) {
    return '';
  }
  const entry = join(repoRoot, service.migrate);
  const child = spawn(process.execPath, [entry, ...args], {
    cwd: repoRoot,
    env: childProcessEnv({ ...env, POD_NAME: 'migrate' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  if (code !== 0) {
    throw new Error(
      `${service.name} migrations failed (exit ${code}):\n${output.trim().split('\n').slice(-20).join('\n')}`,
    );
  }
  return output.trim();
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  repoRoot?: string;
  gatewayPort?: number;
  services?: readonly ServiceSpec[];
  log?: (line: string) => void;
}

export interface RunningService {
  spec: ServiceSpec;
  replicas: ReplicaSet;
}

export interface RunningPlatform {
  gateway: Gateway;
  services: RunningService[];
  provisioned: Provisioned;
  logDir: string;
  /** the Lease API double the trading replicas elect through, and a kubeconfig for kubectl */
  leaseApi: { url: string; kubeconfig: string } | undefined;
  /** Stops the gateway, the replicas (SIGTERM, SIGKILL after `graceMs`), then what was provisioned. */
  stop(graceMs?: number): Promise<void>;
}

/** Whether the market schema already has securities (the demo data is loaded once). */
async function hasMarketData(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM market.securities');
    return (rows[0]?.n ?? 0) > 0;
  } finally {
    await client.end();
  }
}

/**
 * S3-compatible storage for the services: the one configured by S3_ENDPOINT (with its S3_*
 * settings), else a local s3rver keeping its files in .run/s3 across restarts.
 */
async function provideObjectStorage(
  env: NodeJS.ProcessEnv,
  repoRoot: string,
  log: (line: string) => void,
  onStop: (stop: () => Promise<void>) => void,
): Promise<Record<string, string>> {
  if (env.S3_ENDPOINT) {
    log(`object storage: ${env.S3_ENDPOINT} (from S3_ENDPOINT)`);
    const keys = [
      'S3_ENDPOINT',
      'S3_BUCKET',
      'S3_REGION',
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY',
      'S3_FORCE_PATH_STYLE',
    ];
    return Object.fromEntries(keys.flatMap((k) => (env[k] ? [[k, env[k]]] : [])));
  }
  const s3 = await startLocalS3('stocklab', { directory: join(repoRoot, '.run', 's3') });
  log(`object storage: local s3rver at ${s3.endpoint} (files in .run/s3)`);
  onStop(async () => {
    log('stopping the local object store');
    await s3.stop();
  });
  return s3.env;
}

/** Everything `start` does short of printing and waiting for a signal. */
export async function startPlatform(options: StartOptions = {}): Promise<RunningPlatform> {
  const env = options.env ?? process.env;
  const repoRoot = options.repoRoot ?? findRepoRoot();
  const log = options.log ?? (() => undefined);
  const services = options.services ?? SERVICES;
  const logDir = join(repoRoot, '.run', 'logs');

  for (const service of services) {
    for (const file of [service.entry, service.migrate]) {
      if (file !== undefined && !existsSync(join(repoRoot, file))) {
        throw new Error(`${file} is missing: build it first (npm run build)`);
      }
    }
  }

  const provisioned = await provision({ env, repoRoot, log });
  const running: RunningService[] = [];
  const stoppers: (() => Promise<void>)[] = [];
  let gateway: Gateway | undefined;
  let leaseApi: { url: string; kubeconfig: string } | undefined;
  const stop = async (graceMs = 10000): Promise<void> => {
    if (gateway) {
      log('stopping the gateway');
      await gateway.close();
    }
    for (const { spec, replicas } of running.splice(0).reverse()) {
      log(
        `stopping ${spec.name}: SIGTERM to ${replicas.replicas.map((r) => `${r.name} (pid ${r.pid ?? '?'})`).join(', ')}`,
      );
      await replicas.stopAll(graceMs);
      for (const replica of replicas.replicas) {
        const info = await replica.exited();
        log(`  ${replica.name} exited (${info.signal ?? `code ${info.code}`})`);
      }
    }
    for (const stopOne of stoppers.splice(0).reverse()) {
      await stopOne();
    }
    if (provisioned.postgres.origin === 'started' || provisioned.redis.origin === 'started') {
      log('stopping the servers started for this run');
    }
    await provisioned.stop();
  };

  try {
    const databaseUrl = await ensureAppDatabase(provisioned, env);
    log(`database: ${redactUrl(databaseUrl)}`);
    log(`redis: ${redactUrl(provisioned.redisUrl)}`);
    const keys = generateSigningKeyPair();
    const common: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: provisioned.redisUrl,
      NODE_ENV: 'development',
      JWT_PUBLIC_KEYS: keys.publicKeyPem,
      ...SERVICE_PROCESS_ENV,
    };
    for (const name of PASS_THROUGH) {
      const value = env[name];
      if (value !== undefined && value !== '') {
        common[name] = value;
      }
    }

    // The gateway first: a busy port fails the start before anything else runs. Until their
    // replicas are up, the routes answer 503 NO_READY_UPSTREAM.
    const port = options.gatewayPort ?? Number(env.GATEWAY_PORT ?? 8080);
    try {
      const routes = services.flatMap((s) => (s.prefix ? [{ prefix: s.prefix, service: s.name, upstreams: [] }] : []));
      const scheduled = services.find((s) => s.leaderElection && s.prefix !== undefined);
      const marketStatus = services.find((s) => s.name === 'backtest' && s.prefix !== undefined);
      gateway = await Gateway.start({
        port,
        routes,
        log,
        status: {
          scheduler: scheduled?.prefix
            ? { prefix: scheduled.prefix, token: statusPageToken(keys.privateKeyPem) }
            : undefined,
          market: marketStatus?.prefix
            ? { prefix: marketStatus.prefix, token: statusPageToken(keys.privateKeyPem) }
            : undefined,
          queue: {
            redisUrl: provisioned.redisUrl,
            keyPrefix: common.REDIS_KEY_PREFIX ?? 'stocklab:',
            queue: 'backtests',
          },
        },
      });
    } catch (error) {
      throw new Error(
        `gateway: cannot listen on 127.0.0.1:${port} (${(error as NodeJS.ErrnoException).code ?? String(error)}); set GATEWAY_PORT to a free port`,
        { cause: error },
      );
    }

    // services call each other through the gateway, as they would through the Ingress/Services
    common.BACKTEST_URL = gateway.url;
    common.AUTH_URL = gateway.url;
    let electionEnv: Record<string, string> = {};
    if (services.some((s) => s.leaderElection)) {
      const kubeconfig = join(repoRoot, '.run', 'kubeconfig');
      const double = await LeaseApiDouble.start({ port: 0 });
      writeKubeconfig(kubeconfig, double.url);
      leaseApi = { url: double.url, kubeconfig };
      stoppers.push(async () => {
        log('stopping the Lease API double');
        await double.close();
      });
      log(`Lease API (test double of kube-apiserver): ${double.url}; kubectl --kubeconfig ${kubeconfig} get leases`);
      electionEnv = { LEADER_ELECTION: 'kubernetes', KUBECONFIG: kubeconfig, POD_NAMESPACE: 'default' };
    }
    let storageEnv: Record<string, string> = {};
    if (services.some((s) => s.objectStorage)) {
      storageEnv = await provideObjectStorage(env, repoRoot, log, (stopStorage) => stoppers.push(stopStorage));
    }

    for (const spec of services) {
      const serviceEnv: Record<string, string> = {
        ...common,
        ...(spec.objectStorage ? storageEnv : {}),
        ...(spec.leaderElection ? electionEnv : {}),
        ...(spec.signsTokens ? { JWT_PRIVATE_KEY: keys.privateKeyPem } : {}),
        ...spec.env,
      };
      if (spec.migrate) {
        log(`migrating ${spec.name}`);
        const output = await runMigration(repoRoot, spec, serviceEnv);
        log(`  ${output.split('\n').at(-1) ?? 'done'}`);
      }
      if (spec.seed && env.DEMO_DATA !== 'false' && !(await hasMarketData(databaseUrl))) {
        log(spec.seed.description);
        await runMigration(
          repoRoot,
          { ...spec, name: `${spec.name} demo data`, migrate: spec.seed.entry },
          serviceEnv,
          spec.seed.args,
        );
      }
      log(`starting ${spec.replicas} ${spec.name} replica(s)`);
      const replicas = await startReplicas(spec.replicas, {
        entry: join(repoRoot, spec.entry),
        name: spec.name,
        env: { ...serviceEnv, RUN_MIGRATIONS: 'false', SHUTDOWN_DRAIN_MS: '1000' },
        logDir,
        // a replica restarted while the machine runs a whole test suite beside it (the chaos tests)
        // can need more than the default 30 s to boot on two cores: slow is not broken here
        readyTimeoutMs: 90_000,
      });
      running.push({ spec, replicas });
      if (spec.prefix) {
        gateway.setUpstreams(
          spec.prefix,
          replicas.replicas.map((r) => ({ url: r.url, name: r.name })),
        );
      } else {
        // A worker serves no API, but the status page shows its readiness too.
        for (const replica of replicas.replicas) {
          gateway.addHealthTarget(replica.name, replica.url, spec.name);
        }
      }
    }
    await gateway.checkNow();
    return { gateway, services: running, provisioned, logDir, leaseApi, stop };
  } catch (error) {
    await stop(2000);
    throw error;
  }
}

/** The lines `start` prints once everything is up. */
export function describePlatform(platform: RunningPlatform): string[] {
  const lines: string[] = [];
  for (const { spec, replicas } of platform.services) {
    for (const replica of replicas.replicas) {
      lines.push(
        `  ${replica.name.padEnd(12)} pid ${String(replica.pid ?? '?').padEnd(7)} ${replica.url}  log ${join(platform.logDir, `${replica.name}.log`)}`,
      );
    }
    if (spec.prefix) {
      lines.push(`  ${spec.name} docs:    ${platform.gateway.url}${spec.prefix}/docs`);
    }
    for (const replica of replicas.replicas) {
      lines.push(`  ${replica.name} metrics: ${replica.url}/metrics`);
    }
  }
  lines.push(`  gateway status: ${platform.gateway.url}/gateway/upstreams`);
  lines.push(`  status page:    ${platform.gateway.url}/status (JSON: ${platform.gateway.url}/gateway/status.json)`);
  if (platform.leaseApi) {
    lines.push(`  scheduler leader: kubectl --kubeconfig ${platform.leaseApi.kubeconfig} get leases`);
  }
  lines.push(`ready: gateway ${platform.gateway.url} (Ctrl-C stops everything)`);
  return lines;
}
