import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import { ElectionMetrics } from './metrics.js';
import { resolveTimings, type ElectionTimings } from './timings.js';

export interface StartedLeadingContext {
  identity: string;
  /** aborts as soon as this term ends (renew failure, lost lease, stop()) */
  signal: AbortSignal;
}

/** Why a leader gave its term up of its own accord (see `LeaderElector.resign`). */
export type ResignReason =
  /** onStartedLeading kept failing (or did not finish) within the start deadline */
  | 'start-failed'
  /** the guarded work found its fencing token superseded: someone else took a newer one */
  | 'superseded'
  /** asked for by the application, for any other reason */
  | 'resigned';

export type StoppedLeadingReason = 'renew-deadline-exceeded' | 'lost' | 'connection-lost' | 'stopped' | ResignReason;

export interface StoppedLeadingInfo {
  identity: string;
  reason: StoppedLeadingReason;
}

export interface LeaderElectorEvents {
  'started-leading': [StartedLeadingContext];
  /** onStartedLeading completed (at once when there is none): the leader's work runs */
  ready: [StartedLeadingContext];
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
  /**
   * Called when this instance becomes leader; take the fencing epoch here. Work must stop when
   * `signal` aborts. If it throws, it is called again (same term, same signal) after a back-off
   * that doubles from RetryPeriod / 4 up to RetryPeriod, until `startDeadlineMs` has passed since
   * the term began; then, or if a call is still pending at that deadline, the elector resigns
   * (reason `start-failed`): it aborts the term, hands the lease over, and stands again only after
   * `resignBackoffMs`. So it must be safe to call again after a failure.
   */
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
  /** How long onStartedLeading may take, its retries included, before the elector resigns. Default: RenewDeadline. */
  startDeadlineMs?: number;
  /**
   * After resigning, how long before this instance stands for election again (it still observes
   * the leader meanwhile); doubled on each consecutive resignation up to 4x, reset once a term
   * starts. Default: LeaseDuration.
   */
  resignBackoffMs?: number;
  /** prom-client registry for leader_election_is_leader and leader_election_transitions_total */
  registry?: Registry;
  logger?: ElectorLogger;
}

/** What the trading service depends on, whatever the backend. */
export interface LeaderElector {
  readonly backend: 'kubernetes' | 'postgres';
  readonly identity: string;
  readonly leaseName: string;
  /** this instance holds the lease (its term may still be starting) */
  readonly isLeader: boolean;
  /** this instance holds the lease and onStartedLeading has completed: the leader's work runs */
  readonly isReady: boolean;
  /** identity of the leader as last observed (undefined when unknown or released) */
  readonly currentLeader: string | undefined;
  /** AbortSignal of the current term, if leading */
  readonly leadershipSignal: AbortSignal | undefined;
  start(): void;
  /** Stops campaigning; if leading, steps down (waiting for onStoppedLeading) and releases the lease. */
  stop(): Promise<void>;
  /**
   * Gives up the current term while staying a candidate: steps down (waiting for
   * onStoppedLeading), releases the lease as stop() does so that another instance takes over at
   * once, and stands for election again only after the resign back-off. Resolves when done; does
   * nothing when not leading.
   */
  resign(reason?: ResignReason): Promise<void>;
  on<K extends keyof LeaderElectorEvents>(event: K, listener: (...args: LeaderElectorEvents[K]) => void): this;
  once<K extends keyof LeaderElectorEvents>(event: K, listener: (...args: LeaderElectorEvents[K]) => void): this;
  off<K extends keyof LeaderElectorEvents>(event: K, listener: (...args: LeaderElectorEvents[K]) => void): this;
}

/** POD_NAME (else the host name) plus a random suffix, like client-go's hostname + "_" + uuid. */
export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.POD_NAME?.trim() || hostname();
  return `${base}-${randomBytes(4).toString('hex')}`;
}

/** Leadership bookkeeping shared by both backends: term signal, start, resignation, events, callbacks, metrics. */
export abstract class ElectorBase extends EventEmitter<LeaderElectorEvents> {
  abstract readonly backend: 'kubernetes' | 'postgres';
  readonly identity: string;
  readonly leaseName: string;
  readonly timings: ElectionTimings;
  readonly startDeadlineMs: number;
  readonly resignBackoffMs: number;
  protected readonly logger: ElectorLogger;
  private readonly metrics: ElectionMetrics;
  private term: AbortController | undefined;
  private ready = false;
  private leader: string | undefined;
  private resignRequest: ResignRequest | undefined;
  /** resignations since the last term that started: the back-off doubles with each */
  private resignations = 0;

  protected constructor(private readonly callbacks: CommonElectorOptions) {
    super();
    this.identity = callbacks.identity ?? defaultIdentity();
    this.leaseName = callbacks.leaseName;
    this.logger = callbacks.logger ?? stderrLogger;
    this.timings = resolveTimings(callbacks.timings);
    this.startDeadlineMs = positive('startDeadlineMs', callbacks.startDeadlineMs ?? this.timings.renewDeadlineMs);
    this.resignBackoffMs = positive('resignBackoffMs', callbacks.resignBackoffMs ?? this.timings.leaseDurationMs);
    this.metrics = new ElectionMetrics(callbacks.registry, callbacks.leaseName);
  }

  get isLeader(): boolean {
    return this.term !== undefined;
  }

  get isReady(): boolean {
    return this.term !== undefined && this.ready;
  }

  get currentLeader(): string | undefined {
    return this.leader;
  }

  get leadershipSignal(): AbortSignal | undefined {
    return this.term?.signal;
  }

  resign(reason: ResignReason = 'resigned'): Promise<void> {
    const term = this.term;
    if (!term) {
      return Promise.resolve();
    }
    if (this.resignRequest?.term === term) {
      return this.resignRequest.done;
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.resignRequest = { term, reason, done: promise, resolve };
    this.wake();
    return promise;
  }

  /** Interrupts the backend's wait between attempts, so that it handles a resignation at once. */
  protected abstract wake(): void;

  /** A resignation is waiting for the backend's loop. */
  protected get resignPending(): boolean {
    return this.resignRequest !== undefined;
  }

  /**
   * Called by the backend's loop between attempts: if a resignation of the current term is
   * pending, steps down, runs `release` (hand the lease over), and returns how long to wait
   * before standing again; else undefined.
   */
  protected async handleResign(release: () => Promise<void>): Promise<number | undefined> {
    const request = this.resignRequest;
    if (!request) {
      return undefined;
    }
    this.resignRequest = undefined;
    try {
      if (this.term !== request.term) {
        return undefined; // that term ended otherwise meanwhile
      }
      this.resignations += 1;
      const backoffMs = Math.min(this.resignBackoffMs * 2 ** (this.resignations - 1), 4 * this.resignBackoffMs);
      this.logger.warn('giving up the lease', {
        lease: this.leaseName,
        identity: this.identity,
        reason: request.reason,
        standAgainInMs: Math.round(backoffMs),
      });
      await this.stepDown(request.reason);
      await release();
      return backoffMs;
    } finally {
      request.resolve();
    }
  }

  protected becomeLeader(): void {
    if (this.term) {
      return;
    }
    const term = new AbortController();
    this.term = term;
    this.ready = false;
    this.metrics.started();
    this.observeLeader(this.identity);
    this.logger.info('started leading', { lease: this.leaseName, identity: this.identity });
    const context: StartedLeadingContext = { identity: this.identity, signal: term.signal };
    this.emit('started-leading', context);
    void this.startTerm(term, context);
  }

  /**
   * Runs onStartedLeading, again after a failure, within the start deadline; the term counts as
   * leading (metrics, `isReady`) only once it completed. Otherwise the elector resigns.
   */
  private async startTerm(term: AbortController, context: StartedLeadingContext): Promise<void> {
    const callbacks = this.callbacks;
    const deadlineAt = performance.now() + this.startDeadlineMs;
    const timer = setTimeout(() => {
      if (this.term === term && !this.ready) {
        this.logger.error('could not start leading within the start deadline', {
          lease: this.leaseName,
          identity: this.identity,
          startDeadlineMs: this.startDeadlineMs,
        });
        void this.resign('start-failed');
      }
    }, this.startDeadlineMs);
    try {
      let backoffMs = this.timings.retryPeriodMs / 4;
      for (let attempt = 1; callbacks.onStartedLeading; attempt += 1) {
        try {
          await callbacks.onStartedLeading(context);
          break;
        } catch (error) {
          if (term.signal.aborted) {
            return;
          }
          this.logger.error('onStartedLeading callback failed', {
            lease: this.leaseName,
            attempt,
            error: describeError(error),
          });
          const wait = Math.min(backoffMs, this.timings.retryPeriodMs);
          backoffMs *= 2;
          if (performance.now() + wait >= deadlineAt) {
            void this.resign('start-failed');
            return;
          }
          try {
            await sleep(wait, undefined, { signal: term.signal });
          } catch {
            return; // the term ended
          }
        }
      }
    } finally {
      clearTimeout(timer);
    }
    if (this.term !== term || term.signal.aborted || this.resignRequest?.term === term) {
      return;
    }
    this.ready = true;
    this.resignations = 0;
    this.metrics.leading(true);
    this.logger.info('leading', { lease: this.leaseName, identity: this.identity });
    this.emit('ready', context);
  }

  /** Ends the current term at once: aborts its signal, then emits and calls back. */
  protected async stepDown(reason: StoppedLeadingReason): Promise<void> {
    const term = this.term;
    if (!term) {
      return;
    }
    this.term = undefined;
    this.ready = false;
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
    // a resignation of this term still waiting (the term ended otherwise first, e.g. on stop()) is over
    const pending = this.resignRequest;
    if (pending?.term === term) {
      this.resignRequest = undefined;
      pending.resolve();
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

interface ResignRequest {
  term: AbortController;
  reason: ResignReason;
  done: Promise<void>;
  resolve: () => void;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`leader election: ${name} must be a positive number of milliseconds, got ${value}`);
  }
  return value;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    return error.message.split('\n')[0] ?? error.name;
  }
  return String(error);
}
