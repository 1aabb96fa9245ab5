import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import {
  accessSync,
  chownSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * Finds (or, as a last resort, starts) the PostgreSQL and Redis the platform and its tests use.
 *
 * Order for each: the configured URL from the environment, then the local default, then a
 * private server started from the system binaries. Only what was started here is stopped.
 */

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const PROBE_TIMEOUT_MS = 2000;
const START_TIMEOUT_MS = 30000;

/** A failure the user fixes by installing or configuring something; its message is one line. */
export class ProvisionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProvisionError';
  }
}

export type Origin = 'configured' | 'default' | 'started';

export interface Provisioned {
  /** a superuser connection to the server (the configured URL as is, else the `postgres` database) */
  databaseAdminUrl: string;
  redisUrl: string;
  /** where each came from; `variable` names the environment variable a configured URL was read from */
  postgres: { origin: Origin; variable?: string };
  redis: { origin: Origin; variable?: string };
  /** Stops only the servers this call started. Safe to call twice. */
  stop(): Promise<void>;
}

export interface ProvisionOptions {
  env?: NodeJS.ProcessEnv;
  /** the repository root: a started PostgreSQL keeps its data in `<repoRoot>/.run/postgres` */
  repoRoot: string;
  log?: (line: string) => void;
  /** overridable for tests; the values of DEFAULT_POSTGRES_URL and DEFAULT_REDIS_URL otherwise */
  defaultPostgresUrl?: string;
  defaultRedisUrl?: string;
  /** where the Debian packages put the versioned PostgreSQL binaries */
  postgresInstallRoot?: string;
}

/** A URL with its password hidden, for log lines. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') {
      url.password = '***';
    }
    return url.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function reason(error: unknown): string {
  const err = error as { code?: string; message?: string };
  return err.message || err.code || String(error);
}

/** Connects and runs SELECT 1 within a short timeout: undefined when it worked, else why not. */
export async function postgresProblem(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return reason(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function postgresAnswers(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return (await postgresProblem(url, timeoutMs)) === undefined;
}

/** Connects and PINGs within a short timeout, without retrying: undefined when it worked, else why not. */
export async function redisProblem(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The connection error itself (ECONNREFUSED...) arrives here; the command only sees "Connection is closed".
  let connectionError: unknown;
  client.on('error', (error) => {
    connectionError = error;
  });
  try {
    await client.connect();
    const pong = await client.ping();
    return pong === 'PONG' ? undefined : 'PING did not answer PONG';
  } catch (error) {
    return reason(connectionError ?? error);
  } finally {
    client.disconnect();
  }
}

export async function redisAnswers(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return (await redisProblem(url, timeoutMs)) === undefined;
}

interface Candidate {
  url: string;
  origin: Origin;
  variable?: string;
}

function candidates(env: NodeJS.ProcessEnv, variables: string[], fallback: string): Candidate[] {
  const list: Candidate[] = [];
  for (const variable of variables) {
    const value = env[variable];
    if (value !== undefined && value !== '' && !list.some((c) => c.url === value)) {
      list.push({ url: value, origin: 'configured', variable });
    }
  }
  if (!list.some((c) => c.url === fallback)) {
    list.push({ url: fallback, origin: 'default' });
  }
  return list;
}

async function firstAnswering(
  list: Candidate[],
  problem: (url: string) => Promise<string | undefined>,
  log: (line: string) => void,
  what: string,
): Promise<Candidate | undefined> {
  for (const candidate of list) {
    const why = await problem(candidate.url);
    if (why === undefined) {
      return candidate;
    }
    const where = candidate.variable ? `${candidate.variable} (${redactUrl(candidate.url)})` : redactUrl(candidate.url);
    log(`${what}: ${where} does not answer: ${why}`);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

export interface PostgresBinaries {
  initdb: string;
  pgCtl: string;
}

/** The newest `<root>/<version>/bin/{initdb,pg_ctl}` pair, if any. */
export function findPostgresBinaries(root = '/usr/lib/postgresql'): PostgresBinaries | undefined {
  let versions: string[];
  try {
    versions = readdirSync(root);
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a) || b.localeCompare(a));
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    const initdb = join(bin, 'initdb');
    const pgCtl = join(bin, 'pg_ctl');
    if (isExecutable(initdb) && isExecutable(pgCtl)) {
      return { initdb, pgCtl };
    }
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a command to completion and collects its output (stdout and stderr together). */
function run(command: string, args: string[], options: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: '/', ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

export interface LocalPostgres {
  url: string;
  port: number;
  /** false when a server already running from the same data directory was reused */
  startedHere: boolean;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** the server's own directory: holds `data/` and `server.log` */
  baseDir: string;
  binaries: PostgresBinaries;
  /** the port to listen on (e.g. the one it had before a restart); a free one when absent */
  port?: number;
  log?: (line: string) => void;
}

/**
 * Starts a private PostgreSQL with trust authentication on a free port of 127.0.0.1, creating the
 * cluster on first use. initdb refuses to run as root, so as root both tools run as the
 * `postgres` OS user (runuser), which then owns `baseDir`.
 */
export async function startLocalPostgres(options: StartPostgresOptions): Promise<LocalPostgres> {
  const log = options.log ?? (() => undefined);
  const { baseDir, binaries } = options;
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'server.log');
  const asRoot = process.getuid?.() === 0;
  const wrap = (tool: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', tool, ...args]] : [tool, args];

  // Only the server's own folder is private; the folders above stay searchable for the postgres user.
  mkdirSync(dirname(baseDir), { recursive: true });
  mkdirSync(baseDir, { recursive: true, mode: 0o700 });
  if (asRoot) {
    const owner = postgresOsUser();
    chownSync(baseDir, owner.uid, owner.gid);
    // The log file is opened by pg_ctl (as postgres); make sure that user can reach the folder at all.
    const probe = await run('runuser', ['-u', 'postgres', '--', 'test', '-w', baseDir]);
    if (probe.code !== 0) {
      throw new ProvisionError(
        `PostgreSQL: the postgres OS user cannot write ${baseDir} (a parent folder is not searchable by it); set DATABASE_URL to a running server instead`,
      );
    }
  }

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    log(`postgres: creating a cluster in ${dataDir}`);
    const [cmd, args] = wrap(binaries.initdb, [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--no-instructions',
    ]);
    const result = await run(cmd, args);
    if (result.code !== 0) {
      throw new ProvisionError(`PostgreSQL: initdb failed: ${lastLines(result.output)}`);
    }
  }

  // A server left running from this data directory (by an earlier run that was killed): reuse it.
  const existing = await runningPort(dataDir);
  if (existing !== undefined) {
    const url = `postgres://postgres@127.0.0.1:${existing}/postgres`;
    if (await postgresAnswers(url)) {
      log(`postgres: reusing the server already running from ${dataDir} on port ${existing}`);
      return { url, port: existing, startedHere: false, stop: async () => undefined };
    }
  }

  const port = options.port ?? (await freePort());
  // An empty unix_socket_directories: TCP on 127.0.0.1 only, nothing written to /var/run/postgresql.
  const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`;
  const [cmd, args] = wrap(binaries.pgCtl, [
    '-D',
    dataDir,
    '-l',
    logFile,
    '-o',
    serverOptions,
    '-w',
    '-t',
    String(START_TIMEOUT_MS / 1000),
    'start',
  ]);
  // Its own process group: a Ctrl-C at the terminal must not stop the server before we do.
  const result = await run(cmd, args, { detached: true });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  if (result.code !== 0 || !(await postgresAnswers(url))) {
    throw new ProvisionError(`PostgreSQL did not start (see ${logFile}): ${lastLines(result.output)}`);
  }
  log(`postgres: started on port ${port} (data ${dataDir}, log ${logFile})`);
  let stopped = false;
  return {
    url,
    port,
    startedHere: true,
    async stop() {
      if (stopped) {
        return;
      }
      stopped = true;
      const [stopCmd, stopArgs] = wrap(binaries.pgCtl, ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
      const outcome = await run(stopCmd, stopArgs);
      if (outcome.code !== 0) {
        log(`postgres: pg_ctl stop failed: ${lastLines(outcome.output)}`);
      }
    },
  };
}

function postgresOsUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const fields = line?.split(':');
  if (!fields || fields.length < 4) {
    throw new ProvisionError('PostgreSQL: no postgres OS user to run it as (apt-get install postgresql creates it)');
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** The port of a live postmaster whose pid file is in `dataDir`, if any. */
async function runningPort(dataDir: string): Promise<number | undefined> {
  let lines: string[];
  try {
    lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) {
    return undefined;
  }
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive but someone else's (postgres runs as another user); ESRCH: gone.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') {
      return undefined;
    }
  }
  return port;
}

// ---------------------------------------------------------------------------------------------
// Redis

/** `redis-server` from REDIS_SERVER_BIN or the PATH of `env`. */
export function findRedisServer(env: NodeJS.ProcessEnv): string | undefined {
  const explicit = env.REDIS_SERVER_BIN;
  if (explicit) {
    return isExecutable(explicit) ? explicit : undefined;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, 'redis-server'))) {
      return join(dir, 'redis-server');
    }
  }
  return undefined;
}

export interface LocalRedis {
  url: string;
  port: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** A redis-server without persistence on a free port of 127.0.0.1, output appended to `logFile`. */
export async function startLocalRedis(binary: string, logFile?: string): Promise<LocalRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let out: number | 'ignore' = 'ignore';
  if (logFile) {
    out = openSync(logFile, 'a');
  }
  let child: ChildProcess;
  try {
    child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      // Its own process group: a Ctrl-C at the terminal must not stop it before we do.
      { stdio: ['ignore', out, out], detached: true },
    );
  } finally {
    if (typeof out === 'number') {
      closeSync(out);
    }
  }
  let exited = child.exitCode !== null;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', () => {
      exited = true;
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (exited) {
      return;
    }
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(timer);
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && !exited) {
    if (await redisAnswers(url, 500)) {
      return { url, port, pid: child.pid, stop };
    }
    await sleep(50);
  }
  await stop();
  throw new ProvisionError(`Redis: ${binary} did not start on port ${port}${logFile ? ` (see ${logFile})` : ''}`);
}

// ---------------------------------------------------------------------------------------------

/** Finds or starts PostgreSQL and Redis; throws a one-line ProvisionError when neither is possible. */
export async function provision(options: ProvisionOptions): Promise<Provisioned> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const runDir = join(options.repoRoot, '.run');
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    // Last started, first stopped; each at most once.
    for (const stop of stops.splice(0).reverse()) {
      await stop();
    }
  };

  try {
    let postgres: { url: string; origin: Origin; variable?: string };
    const pgList = candidates(
      env,
      ['DATABASE_URL', 'TEST_DATABASE_URL'],
      options.defaultPostgresUrl ?? DEFAULT_POSTGRES_URL,
    );
    const foundPg = await firstAnswering(pgList, (url) => postgresProblem(url), log, 'postgres');
    if (foundPg) {
      postgres = foundPg;
    } else {
      const binaries = findPostgresBinaries(options.postgresInstallRoot);
      if (!binaries) {
        throw new ProvisionError(
          'PostgreSQL: none is reachable and no initdb/pg_ctl were found: apt-get install postgresql (or set DATABASE_URL)',
        );
      }
      const server = await startLocalPostgres({ baseDir: join(runDir, 'postgres'), binaries, log });
      stops.push(() => server.stop());
      postgres = { url: server.url, origin: 'started' };
    }

    let redis: { url: string; origin: Origin; variable?: string };
    const redisList = candidates(env, ['REDIS_URL', 'TEST_REDIS_URL'], options.defaultRedisUrl ?? DEFAULT_REDIS_URL);
    const foundRedis = await firstAnswering(redisList, (url) => redisProblem(url), log, 'redis');
    if (foundRedis) {
      redis = foundRedis;
    } else {
      const binary = findRedisServer(env);
      if (!binary) {
        throw new ProvisionError(
          'Redis: none is reachable and redis-server is not on PATH: apt-get install redis-server (or set REDIS_URL)',
        );
      }
      mkdirSync(join(runDir, 'logs'), { recursive: true });
      const server = await startLocalRedis(binary, join(runDir, 'logs', 'redis.log'));
      log(`redis: started ${binary} on port ${server.port} (pid ${server.pid ?? '?'})`);
      stops.push(() => server.stop());
      redis = { url: server.url, origin: 'started' };
    }

    return {
      databaseAdminUrl: postgres.url,
      redisUrl: redis.url,
      postgres: { origin: postgres.origin, variable: postgres.variable },
      redis: { origin: redis.origin, variable: redis.variable },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
