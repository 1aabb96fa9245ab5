import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  CoordinationV1Api,
  KubeConfig,
  Observable,
  V1MicroTime,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type V1Lease,
  type V1LeaseSpec,
} from '@kubernetes/client-node';
import { ElectorBase, describeError, type CommonElectorOptions, type LeaderElector } from '../leader-elector.js';
import { jittered } from '../timings.js';

/** Sent on every Lease API request so a test double can tell replicas apart (ignored by kube-apiserver). */
export const CLIENT_ID_HEADER = 'X-Client-Id';

export interface KubernetesLeaseElectorOptions extends CommonElectorOptions {
  namespace: string;
  /** default: KubeConfig.loadFromDefault() (KUBECONFIG, ~/.kube/config, then in-cluster) */
  kubeConfig?: KubeConfig;
  /**
   * Timeout of each API request. Default: RetryPeriod, at least 1 s, at most RenewDeadline / 2.
   * A renew request is further cut short so that it never outlives the renew deadline.
   */
  requestTimeoutMs?: number;
  /** value of the X-Client-Id header (default: the identity); false to send none */
  clientId?: string | false;
  /** on stop(), hand the Lease over (holder "" and leaseDurationSeconds 1); default true */
  releaseOnStop?: boolean;
  /**
   * client-node 2.0.1 builds a new undici Agent, hence a new TCP/TLS connection, for every request
   * when the cluster has TLS options (a CA, or insecure-skip-tls-verify). By default the elector keeps
   * the first one and reuses it (keep-alive); set false to leave client-node's behaviour alone
   * (e.g. when client certificates rotate on disk).
   */
  reuseConnections?: boolean;
}

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

type AttemptResult =
  /** this instance holds the Lease (created, taken over or renewed) */
  | 'holding'
  /** another holder's Lease is still valid, or we lost a create/update race */
  | 'follower'
  /** the request failed (network, timeout, 5xx, conflict while leading): try again */
  | 'failed';

const monotonicNow = (): number => performance.now();

function apiStatus(error: unknown): { code: number; reason: string | undefined } | undefined {
  if (!(error instanceof ApiException)) {
    return undefined;
  }
  let reason: string | undefined;
  try {
    const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    if (body !== null && typeof body === 'object' && typeof (body as { reason?: unknown }).reason === 'string') {
      reason = (body as { reason: string }).reason;
    }
  } catch {
    reason = undefined;
  }
  return { code: error.code, reason };
}

/**
 * client-go's leader election on a coordination.k8s.io/v1 Lease, for @kubernetes/client-node 2.x.
 *
 * - Candidates try every RetryPeriod x [1, 1.2); the leader renews every RetryPeriod.
 * - A follower takes over only when the Lease's content (resourceVersion) has not changed for
 *   leaseDurationSeconds on its own monotonic clock: the server's renewTime is never compared
 *   with local wall time, so clock skew between pods does not matter.
 * - The leader steps down at once when no renew succeeded within RenewDeadline, counted from the
 *   moment the last successful write was sent (so it stops before any follower can take over,
 *   because LeaseDuration > RenewDeadline).
 * - stop() stops renewing, ends the term (awaiting onStoppedLeading), then releases the Lease.
 * - resign() (also what a failed start does) ends the term and releases the Lease the same way,
 *   then only observes the Lease, without taking it, for the resign back-off.
 */
export class KubernetesLeaseElector extends ElectorBase implements LeaderElector {
  readonly backend = 'kubernetes' as const;
  readonly namespace: string;
  private readonly api: CoordinationV1Api;
  private readonly requestTimeoutMs: number;
  private readonly clientId: string | undefined;
  private readonly releaseOnStop: boolean;
  private readonly leaseDurationSeconds: number;
  private readonly reuseConnections: boolean;
  private dispatcher: Dispatcher | undefined;

  private running = false;
  private stopping = false;
  private loop: Promise<void> | undefined;
  /** aborts sleeps and in-flight requests on stop() */
  private stopController = new AbortController();
  /** aborts the sleep between attempts (a resignation to handle) */
  private wakeController = new AbortController();
  /** after resigning: monotonic time before which this instance does not take the Lease */
  private campaignAfter = 0;
  /** aborts the in-flight renew when the renew deadline passes */
  private attemptController: AbortController | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** monotonic time by which the leader must have renewed */
  private renewDeadlineAt = 0;

  private observedResourceVersion: string | undefined;
  private observedSpec: V1LeaseSpec | undefined;
  /** local monotonic time at which the observed Lease content last changed */
  private observedAt = 0;

  constructor(options: KubernetesLeaseElectorOptions) {
    super(options);
    this.namespace = options.namespace;
    this.leaseDurationSeconds = this.timings.leaseDurationMs / 1000;
    const kubeConfig =
      options.kubeConfig ??
      (() => {
        const kc = new KubeConfig();
        kc.loadFromDefault();
        return kc;
      })();
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
    this.requestTimeoutMs =
      options.requestTimeoutMs ??
      Math.min(this.timings.renewDeadlineMs / 2, Math.max(this.timings.retryPeriodMs, 1000));
    if (!(this.requestTimeoutMs > 0)) {
      throw new Error(`leader election: requestTimeoutMs must be positive, got ${this.requestTimeoutMs}`);
    }
    this.clientId = options.clientId === false ? undefined : (options.clientId ?? this.identity);
    this.releaseOnStop = options.releaseOnStop ?? true;
    this.reuseConnections = options.reuseConnections ?? true;
  }

  start(): void {
    if (this.running) {
      return;
    }
    if (this.stopping) {
      throw new Error('leader election: a stopped elector cannot be started again; create a new one');
    }
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (!this.running || this.stopping) {
      await this.loop;
      return;
    }
    this.stopping = true;
    this.clearDeadline();
    this.stopController.abort(new Error('leader elector stopped'));
    await this.loop;
    const wasLeader = this.isLeader;
    // the guarded work stops first (onStoppedLeading is awaited), then the Lease is handed over
    await this.stepDown('stopped');
    if (this.releaseOnStop && wasLeader) {
      await this.release();
    }
    this.closeDispatcher();
    this.running = false;
  }

  /**
   * Test hook: stops the loop without stepping down or releasing, as if the process froze or was
   * killed. The Lease then stays with this identity until followers see it expire.
   */
  async abandon(): Promise<void> {
    this.stopping = true;
    this.clearDeadline();
    this.stopController.abort(new Error('leader elector abandoned'));
    await this.loop;
    this.closeDispatcher();
  }

  private closeDispatcher(): void {
    const dispatcher = this.dispatcher;
    this.dispatcher = undefined;
    dispatcher?.destroy().catch(() => undefined);
  }

  protected wake(): void {
    this.wakeController.abort();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const pause = await this.handleResign(() => this.release());
      if (pause !== undefined) {
        this.clearDeadline();
        this.campaignAfter = monotonicNow() + pause;
      }
      if (this.stopping) {
        break;
      }
      const attemptStartedAt = monotonicNow();
      let result: AttemptResult;
      try {
        result = await this.tryAcquireOrRenew(this.isLeader || attemptStartedAt >= this.campaignAfter);
      } catch (error) {
        this.logger.error('leader election attempt failed unexpectedly', {
          lease: this.leaseName,
          error: describeError(error),
        });
        result = 'failed';
      }
      if (this.stopping) {
        break;
      }
      if (result === 'holding') {
        // a write that began before the deadline passed still counts only if it leaves time to lead
        const deadline = attemptStartedAt + this.timings.renewDeadlineMs;
        if (monotonicNow() < deadline) {
          this.armDeadline(deadline);
          this.becomeLeader();
        }
      } else if (result === 'follower' && this.isLeader) {
        this.clearDeadline();
        await this.stepDown('lost');
      }
      const wait = this.isLeader ? this.timings.retryPeriodMs : jittered(this.timings.retryPeriodMs);
      if (this.resignPending) {
        continue;
      }
      this.wakeController = new AbortController();
      try {
        await sleep(wait, undefined, {
          signal: AbortSignal.any([this.stopController.signal, this.wakeController.signal]),
        });
      } catch {
        // stopped, or woken to resign
      }
    }
  }

  private armDeadline(deadline: number): void {
    this.clearDeadline();
    this.renewDeadlineAt = deadline;
    this.deadlineTimer = setTimeout(
      () => {
        this.deadlineTimer = undefined;
        if (!this.isLeader || this.stopping) {
          return;
        }
        this.logger.warn('could not renew the lease within the renew deadline', {
          lease: this.leaseName,
          renewDeadlineMs: this.timings.renewDeadlineMs,
        });
        this.attemptController?.abort(new Error('renew deadline exceeded'));
        void this.stepDown('renew-deadline-exceeded');
      },
      Math.max(0, deadline - monotonicNow()),
    );
  }

  private clearDeadline(): void {
    if (this.deadlineTimer) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
  }

  /** Per-call options: the request timeout (cut to the renew deadline while leading) plus stop/deadline aborts. */
  private requestOptions(extraSignal?: AbortSignal): ConfigurationOptions<ObservableMiddleware> {
    let timeout = this.requestTimeoutMs;
    if (this.isLeader) {
      timeout = Math.min(timeout, Math.max(1, this.renewDeadlineAt - monotonicNow()));
    }
    const signals = [AbortSignal.timeout(Math.ceil(timeout))];
    if (extraSignal) {
      signals.push(extraSignal);
    }
    const signal = AbortSignal.any(signals);
    const clientId = this.clientId;
    const reuse = this.reuseConnections;
    // The object-parameter APIs (what CoordinationV1Api is) take Observable-style middleware per call,
    // although the package's exported `Middleware` type is the Promise-style one.
    const middleware: ObservableMiddleware = {
      pre: (context) => {
        context.setSignal(signal);
        if (reuse) {
          // runs after client-node's authentication step has attached its per-request dispatcher
          const created = context.getDispatcher();
          if (this.dispatcher === undefined) {
            this.dispatcher = created;
          } else if (created !== this.dispatcher) {
            context.setDispatcher(this.dispatcher);
            created?.destroy().catch(() => undefined);
          }
        }
        if (clientId !== undefined) {
          context.setHeaderParam(CLIENT_ID_HEADER, clientId);
        }
        return new Observable(Promise.resolve(context));
      },
      post: (response) => new Observable(Promise.resolve(response)),
    };
    return { middleware: [middleware], middlewareMergeStrategy: 'append' };
  }

  private attemptSignal(): AbortSignal {
    this.attemptController = new AbortController();
    return AbortSignal.any([this.stopController.signal, this.attemptController.signal]);
  }

  /** Remembers when the Lease content last changed, on the local monotonic clock. */
  private observe(lease: V1Lease): void {
    const resourceVersion = lease.metadata?.resourceVersion;
    if (resourceVersion !== this.observedResourceVersion) {
      this.observedResourceVersion = resourceVersion;
      this.observedAt = monotonicNow();
    }
    this.observedSpec = lease.spec;
    this.observeLeader(lease.spec?.holderIdentity);
  }

  private observedLeaseValid(): boolean {
    const seconds = this.observedSpec?.leaseDurationSeconds ?? this.leaseDurationSeconds;
    return monotonicNow() < this.observedAt + seconds * 1000;
  }

  /** `mayAcquire` false (resign back-off): only observe the Lease, never take it. */
  private async tryAcquireOrRenew(mayAcquire: boolean): Promise<AttemptResult> {
    const signal = this.attemptSignal();
    const name = this.leaseName;
    const namespace = this.namespace;
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace }, this.requestOptions(signal));
    } catch (error) {
      if (apiStatus(error)?.code !== 404) {
        this.logAttemptFailure('read', error);
        return 'failed';
      }
      return mayAcquire ? this.create(signal) : 'follower';
    }
    this.observe(lease);
    if (!mayAcquire) {
      return 'follower';
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== '' && holder !== this.identity) {
      if (this.isLeader) {
        // someone else holds it now: we lost it (e.g. it expired while our renewals failed)
        return 'follower';
      }
      if (this.observedLeaseValid()) {
        return 'follower';
      }
    }
    const now = new V1MicroTime();
    const takingOver = holder !== this.identity;
    const old = lease.spec ?? {};
    const spec: V1LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      renewTime: now,
      acquireTime: takingOver || old.acquireTime === undefined ? now : old.acquireTime,
      leaseTransitions: takingOver ? (old.leaseTransitions ?? 0) + 1 : (old.leaseTransitions ?? 0),
    };
    try {
      const updated = await this.api.replaceNamespacedLease(
        { name, namespace, body: { ...lease, spec } },
        this.requestOptions(signal),
      );
      this.observe(updated);
      return 'holding';
    } catch (error) {
      const status = apiStatus(error);
      if (status?.code === 409) {
        // Conflict: someone wrote the Lease after we read it; while a follower that means we lost the race
        return this.isLeader ? 'failed' : 'follower';
      }
      this.logAttemptFailure('update', error);
      return 'failed';
    }
  }

  private async create(signal: AbortSignal): Promise<AttemptResult> {
    const now = new V1MicroTime();
    try {
      const created = await this.api.createNamespacedLease(
        {
          namespace: this.namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.leaseName, namespace: this.namespace },
            spec: {
              holderIdentity: this.identity,
              leaseDurationSeconds: this.leaseDurationSeconds,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
          },
        },
        this.requestOptions(signal),
      );
      this.observe(created);
      return 'holding';
    } catch (error) {
      if (apiStatus(error)?.code === 409) {
        // AlreadyExists: another candidate created it first
        return 'follower';
      }
      this.logAttemptFailure('create', error);
      return 'failed';
    }
  }

  /** client-go's release: if still the holder, PUT holder "" and leaseDurationSeconds 1. */
  private async release(): Promise<void> {
    const name = this.leaseName;
    const namespace = this.namespace;
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace }, this.requestOptions());
      if (lease.spec?.holderIdentity !== this.identity) {
        return;
      }
      const now = new V1MicroTime();
      await this.api.replaceNamespacedLease(
        {
          name,
          namespace,
          body: {
            ...lease,
            spec: {
              holderIdentity: '',
              leaseDurationSeconds: 1,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: lease.spec.leaseTransitions ?? 0,
            },
          },
        },
        this.requestOptions(),
      );
      this.logger.info('released the lease', { lease: name, identity: this.identity });
    } catch (error) {
      this.logger.warn('could not release the lease; followers take over after it expires', {
        lease: name,
        error: describeError(error),
      });
    }
  }

  private logAttemptFailure(operation: string, error: unknown): void {
    if (this.stopping) {
      return;
    }
    const status = apiStatus(error);
    this.logger.warn(`lease ${operation} failed`, {
      lease: this.leaseName,
      identity: this.identity,
      leader: this.isLeader,
      ...(status ? { code: status.code, reason: status.reason } : { error: describeError(error) }),
    });
  }
}
