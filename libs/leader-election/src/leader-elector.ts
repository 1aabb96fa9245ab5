import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { ElectionMetrics } from './metrics.js';
import type { ElectionTimings } from './timings.js';

export interface StartedLeadingContext {
  identity: string;
  /** aborts as soon as this term ends (renew failure, lost lease, stop()) */
  signal: AbortSignal;
}

export type StoppedLeadingReason = 'renew-deadline-exceeded' | 'lost' | 'connection-lost' | 'stopped';

export interface StoppedLeadingInfo {
  identity: string;
  reason: StoppedLeadingReason;
}

export interface LeaderElectorEvents {
  'started-leading': [StartedLeadingContext];
  'stopped-leading': [StoppedLeadingInfo];
  'new-leader': [string];
}

export interface ElectorLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Writes warnings and errors as JSON lines on stderr; info is dropped. */
export const stderrLogger: ElectorLogger = {
  info: () => undefined,
  warn: (message, fields) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg: message, ...fields })}\n`),
  error: (message, fields) => process.stderr.write(`${JSON.stringify({ level: 'error', msg: message, ...fields })}\n`),
};

export const silentLogger: ElectorLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface LeaderElectorCallbacks {
  /** Called when this instance becomes leader; take the fencing epoch here. Work must stop when `signal` aborts. */
  onStartedLeading?(context: StartedLeadingContext): void | Promise<void>;
  /** Called when this instance stops leading, for any reason. stop() waits for a returned promise before releasing. */
  onStoppedLeading?(info: StoppedLeadingInfo): void | Promise<void>;
  /** Called when the observed leader changes (including to this instance). */
  onNewLeader?(identity: string): void;
}

export interface CommonElectorOptions extends LeaderElectorCallbacks {
  /** Lease name (Kubernetes) or lock name (PostgreSQL). */
  leaseName: string;
  /** Unique identity of this candidate; default POD_NAME (or the host name) plus a random suffix. */
  identity?: string;
  timings?: Partial<ElectionTimings>;
  /** prom-client registry for leader_election_is_leader and leader_election_transitions_total */
  registry?: Registry;
  logger?: ElectorLogger;
}

/** What the trading service depends on, whatever the backend. */
export interface LeaderElector {
  readonly backend: 'kubernetes' | 'postgres';
  readonly identity: string;
  readonly leaseName: string;
  readonly isLeader: boolean;
  /** identity of the leader as last observed (undefined when unknown or released) */
  readonly currentLeader: string | undefined;
  /** AbortSignal of the current term, if leading */
  readonly leadershipSignal: AbortSignal | undefined;
  start(): void;
  /** Stops campaigning; if leading, steps down (waiting for onStoppedLeading) and releases the lease. */
  stop(): Promise<void>;
  on<K extends keyof LeaderElectorEvents>(event: K, listener: (...args: LeaderElectorEvents[K]) => void): this;
  once<K extends keyof LeaderElectorEvents>(event: K, listener: (...args: LeaderElectorEvents[K]) => void): this;
  off<K extends keyof LeaderElectorEvents>(event: K, listener: (...args: LeaderElectorEvents[K]) => void): this;
}

/** POD_NAME (else the host name) plus a random suffix, like client-go's hostname + "_" + uuid. */
export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.POD_NAME?.trim() || hostname();
  return `${base}-${randomBytes(4).toString('hex')}`;
}

/** Leadership bookkeeping shared by both backends: term signal, events, callbacks, metrics. */
export abstract class ElectorBase extends EventEmitter<LeaderElectorEvents> {
  abstract readonly backend: 'kubernetes' | 'postgres';
  readonly identity: string;
  readonly leaseName: string;
  protected readonly logger: ElectorLogger;
  private readonly metrics: ElectionMetrics;
  private term: AbortController | undefined;
  private leader: string | undefined;

  protected constructor(private readonly callbacks: CommonElectorOptions) {
    super();
    this.identity = callbacks.identity ?? defaultIdentity();
    this.leaseName = callbacks.leaseName;
    this.logger = callbacks.logger ?? stderrLogger;
    this.metrics = new ElectionMetrics(callbacks.registry, callbacks.leaseName);
  }

  get isLeader(): boolean {
    return this.term !== undefined;
  }

  get currentLeader(): string | undefined {
    return this.leader;
  }

  get leadershipSignal(): AbortSignal | undefined {
    return this.term?.signal;
  }

  protected becomeLeader(): void {
    if (this.term) {
      return;
    }
    const term = new AbortController();
    this.term = term;
    this.metrics.started();
    this.observeLeader(this.identity);
    this.logger.info('started leading', { lease: this.leaseName, identity: this.identity });
    const context: StartedLeadingContext = { identity: this.identity, signal: term.signal };
    this.emit('started-leading', context);
    if (this.callbacks.onStartedLeading) {
      void this.guard('onStartedLeading', () => this.callbacks.onStartedLeading?.(context));
    }
  }

  /** Ends the current term at once: aborts its signal, then emits and calls back. */
  protected async stepDown(reason: StoppedLeadingReason): Promise<void> {
    const term = this.term;
    if (!term) {
      return;
    }
    this.term = undefined;
    if (this.leader === this.identity) {
      this.leader = undefined;
    }
    term.abort(new Error(`leadership of ${this.leaseName} ended: ${reason}`));
    this.metrics.stopped();
    const info: StoppedLeadingInfo = { identity: this.identity, reason };
    const fields = { lease: this.leaseName, identity: this.identity, reason };
    if (reason === 'stopped') {
      this.logger.info('stopped leading', fields);
    } else {
      this.logger.warn('stopped leading', fields);
    }
    this.emit('stopped-leading', info);
    if (this.callbacks.onStoppedLeading) {
      await this.guard('onStoppedLeading', () => this.callbacks.onStoppedLeading?.(info));
    }
  }

  protected observeLeader(identity: string | undefined): void {
    const next = identity === '' ? undefined : identity;
    if (next === this.leader) {
      return;
    }
    this.leader = next;
    if (next !== undefined) {
      this.emit('new-leader', next);
      if (this.callbacks.onNewLeader) {
        void this.guard('onNewLeader', () => this.callbacks.onNewLeader?.(next));
      }
    }
  }

  private async guard(name: string, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.logger.error(`${name} callback failed`, { lease: this.leaseName, error: describeError(error) });
    }
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    return error.message.split('\n')[0] ?? error.name;
  }
  return String(error);
}
