import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { childProcessEnv } from './child-env.js';
import { freePort, listensOn } from './ports.js';
import { rememberReplica } from './replica-registry.js';

export interface ReplicaOptions {
  /** absolute path of the built entry point, e.g. services/auth/dist/bundle/main.js */
  entry: string;
  /** environment on top of a minimal base (childProcessEnv); PORT and POD_NAME are set per replica */
  env: Record<string, string>;
  /** name prefix for POD_NAME and log files */
  name: string;
  readyPath?: string;
  readyTimeoutMs?: number;
  /** also write each replica's output to <logDir>/<name>-<i>.log */
  logDir?: string;
  /** a fixed port instead of a free one (used when a replica is restarted in place) */
  port?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * How long a replica may take to become ready. A bound for a start that hangs, not a measure: at
 * the suite's busiest, some twenty service processes start at once on two cores, and on a slow
 * machine a sound start took over 30 s (as the local launcher, which allows 90 s).
 */
const READY_TIMEOUT_MS = 90_000;
/** How long a 200 from a port our child does not seem to hold is doubted (see waitReady). */
const FOREIGN_ANSWER_MS = 10_000;

/** One running service process. */
export class Replica {
  readonly url: string;
  private child: ChildProcess | undefined;
  private output = '';
  private exitInfo: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  private logFile: WriteStream | undefined;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly options: ReplicaOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Everything the process printed so far (JSON log lines). */
  logs(): string {
    return this.output;
  }

  exited(): Promise<ExitInfo> {
    return this.exitInfo;
  }

  start(): void {
    if (this.running) {
      throw new Error(`${this.name} is already running`);
    }
    const env = childProcessEnv({ ...this.options.env, PORT: String(this.port), POD_NAME: this.name });
    if (this.options.logDir) {
      mkdirSync(this.options.logDir, { recursive: true });
      this.logFile = createWriteStream(join(this.options.logDir, `${this.name}.log`), { flags: 'a' });
    }
    // The IPC channel is how the replica notices that this process died (see runService).
    const child = spawn(process.execPath, [this.options.entry], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.child = child;
    rememberReplica(this);
    const collect = (chunk: Buffer): void => {
      this.output += chunk.toString();
      this.logFile?.write(chunk);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exitInfo = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.logFile?.end();
        resolve({ code, signal });
      });
    });
  }

  /** Polls the readiness endpoint until it answers 200. */
  async waitReady(timeoutMs = this.options.readyTimeoutMs ?? READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const path = this.options.readyPath ?? '/health/ready';
    /** when a 200 first came while /proc said our child does not hold the port */
    let foreignSince: number | undefined;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(`${this.name} exited before it was ready:\n${this.output.slice(-4000)}`);
      }
      try {
        const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        // another test's process may have bound this port first: only our child's answer counts;
        // such a child dies of EADDRINUSE (seen above as an exit). The wait is bounded, so that a
        // /proc reading that misjudges cannot hold a healthy start beyond FOREIGN_ANSWER_MS
        if (res.status === 200) {
          if (listensOn(this.child?.pid ?? -1, this.port) !== false) {
            return;
          }
          foreignSince ??= Date.now();
          if (Date.now() - foreignSince > FOREIGN_ANSWER_MS) {
            return;
          }
        }
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    throw new Error(`${this.name} was not ready within ${timeoutMs} ms:\n${this.output.slice(-4000)}`);
  }

  /** Sends a signal without waiting. */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 10000): Promise<ExitInfo> {
    if (!this.running) {
      return this.exitInfo;
    }
    this.child?.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    const info = await this.exitInfo;
    clearTimeout(timer);
    return info;
  }

  /** SIGKILL: a crash, as far as everyone else can tell. */
  async kill(): Promise<ExitInfo> {
    if (!this.running) {
      return this.exitInfo;
    }
    this.child?.kill('SIGKILL');
    return this.exitInfo;
  }

  /** Starts the process again on the same port (after a stop or a kill). */
  async restart(): Promise<void> {
    this.start();
    await this.waitReady();
  }
}

export class ReplicaSet {
  constructor(readonly replicas: Replica[]) {}

  get urls(): string[] {
    return this.replicas.map((r) => r.url);
  }

  at(index: number): Replica {
    const replica = this.replicas[index];
    if (!replica) {
      throw new Error(`no replica ${index}`);
    }
    return replica;
  }

  async stopAll(graceMs = 10000): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.stop(graceMs)));
  }
}

/**
 * Starts `count` replicas of a built service as real child processes on free ports, all at
 * once, and waits until every one reports ready.
 */
export async function startReplicas(count: number, options: ReplicaOptions): Promise<ReplicaSet> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, i) =>
      startOne(`${options.name}-${i}`, options, options.port !== undefined ? options.port + i : undefined),
    ),
  );
  const replicas = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await new ReplicaSet(replicas).stopAll(2000);
    throw failed.reason;
  }
  return new ReplicaSet(replicas);
}

/**
 * One replica, ready. On a free port, a start that lost its port to another process between
 * freePort() and the bind (EADDRINUSE) is tried again on a new one.
 */
async function startOne(name: string, options: ReplicaOptions, fixedPort: number | undefined): Promise<Replica> {
  for (let attempt = 1; ; attempt += 1) {
    const replica = new Replica(name, fixedPort ?? (await freePort()), options);
    replica.start();
    try {
      await replica.waitReady();
      return replica;
    } catch (error) {
      await replica.stop(2000);
      if (fixedPort !== undefined || attempt >= 3 || !replica.logs().includes('EADDRINUSE')) {
        throw error;
      }
    }
  }
}
