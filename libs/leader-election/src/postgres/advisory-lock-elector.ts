import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ElectorBase, describeError, type CommonElectorOptions, type LeaderElector } from '../leader-elector.js';
import { jittered } from '../timings.js';

export interface PostgresAdvisoryLockElectorOptions extends CommonElectorOptions {
  /** connection string or pg client config of the database that arbitrates the lock */
  connection: string | pg.ClientConfig;
  /**
   * When set, the leader also records itself in `<schema>.leader_election_leases` (created if
   * missing) so that followers can report `currentLeader`.
   */
  schema?: string;
  /** Timeout of each query (and of connecting). Default: RetryPeriod, at least 1 s, at most RenewDeadline / 2. */
  requestTimeoutMs?: number;
}

const monotonicNow = (): number => performance.now();

/** A stable signed 64-bit advisory lock key derived from the lease name. */
export function advisoryLockKey(leaseName: string): string {
  const digest = createHash('sha256').update(`stocklab-leader-election:${leaseName}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/**
 * Leader election on a PostgreSQL session advisory lock, for docker-compose and machines without
 * Kubernetes. The lock lives on one dedicated connection: it is held exactly as long as that
 * session lives. The leader checks the connection every RetryPeriod; if the check fails, the
 * connection reports an error, or no check succeeded within RenewDeadline, it steps down at once
 * and drops the connection. The session sets idle_session_timeout = LeaseDuration, so the server
 * ends the session (freeing the lock) of a leader that went silent, as a Lease would expire.
 * A leader that lost its connection waits two RetryPeriods before campaigning again, so that a
 * healthy follower takes over rather than the replica whose connection just failed. resign()
 * (also what a failed start does) ends the term, unlocks (keeping the connection), and waits the
 * resign back-off before campaigning again.
 */
export class PostgresAdvisoryLockElector extends ElectorBase implements LeaderElector {
  readonly backend = 'postgres' as const;
  readonly lockKey: string;
  private readonly connection: string | pg.ClientConfig;
  private readonly requestTimeoutMs: number;
  private readonly table: string | undefined;
  private readonly schema: string | undefined;

  private client: pg.Client | undefined;
  private running = false;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly stopController = new AbortController();
  /** aborts the sleep between attempts (a resignation to handle) */
  private wakeController = new AbortController();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private schemaReady = false;
  /** after losing the lock connection, give the followers the first chance to take over */
  private campaignAfter = 0;

  constructor(options: PostgresAdvisoryLockElectorOptions) {
    super(options);
    this.connection = options.connection;
    this.lockKey = advisoryLockKey(options.leaseName);
    this.requestTimeoutMs =
      options.requestTimeoutMs ??
      Math.min(this.timings.renewDeadlineMs / 2, Math.max(this.timings.retryPeriodMs, 1000));
    this.schema = options.schema;
    this.table = options.schema ? `${pg.escapeIdentifier(options.schema)}.leader_election_leases` : undefined;
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
    await this.stepDown('stopped');
    const client = this.client;
    this.client = undefined;
    if (client) {
      try {
        if (wasLeader) {
          await this.unlock(client);
        }
        await client.end();
      } catch (error) {
        this.logger.warn('could not release the advisory lock cleanly; closing the connection frees it', {
          lease: this.leaseName,
          error: describeError(error),
        });
        this.dropClient(client);
      }
    }
    this.running = false;
  }

  protected wake(): void {
    this.wakeController.abort();
  }

  /** Clears the holder record and unlocks, on the lock connection. */
  private async unlock(client: pg.Client): Promise<void> {
    if (this.table) {
      await client.query(
        `UPDATE ${this.table} SET holder_identity = '', renewed_at = now() WHERE lease_name = $1 AND holder_identity = $2`,
        [this.leaseName, this.identity],
      );
    }
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [this.lockKey]);
  }

  /** After a resignation: unlock, or if that fails drop the connection (the server then frees the lock). */
  private async releaseForResign(): Promise<void> {
    this.clearDeadline();
    const client = this.client;
    if (!client) {
      return;
    }
    try {
      await this.unlock(client);
    } catch (error) {
      this.logger.warn('could not release the advisory lock; closing the connection frees it', {
        lease: this.leaseName,
        error: describeError(error),
      });
      if (this.client === client) {
        this.client = undefined;
      }
      this.dropClient(client);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const pause = await this.handleResign(() => this.releaseForResign());
      if (pause !== undefined) {
        this.campaignAfter = monotonicNow() + pause;
      }
      if (this.stopping) {
        break;
      }
      const startedAt = monotonicNow();
      try {
        if (this.isLeader) {
          await this.renew();
          this.armDeadline(startedAt + this.timings.renewDeadlineMs);
        } else if (startedAt >= this.campaignAfter) {
          await this.tryAcquire(startedAt);
        } else if (this.client) {
          await this.readHolder(this.client);
        }
      } catch (error) {
        if (!this.stopping) {
          this.logger.warn('advisory lock attempt failed', {
            lease: this.leaseName,
            identity: this.identity,
            error: describeError(error),
          });
          await this.connectionLost();
        }
      }
      if (this.stopping) {
        break;
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

  private async tryAcquire(startedAt: number): Promise<void> {
    const client = await this.connectedClient();
    const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
      this.lockKey,
    ]);
    if (result.rows[0]?.locked !== true) {
      await this.readHolder(client);
      return;
    }
    if (this.stopping || client !== this.client) {
      return;
    }
    if (this.table) {
      await this.recordHolder(client);
    }
    const deadline = startedAt + this.timings.renewDeadlineMs;
    if (monotonicNow() >= deadline) {
      // took too long to be sure of anything: give the lock back and try again
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [this.lockKey]);
      return;
    }
    this.armDeadline(deadline);
    this.becomeLeader();
  }

  /** The leader's periodic check, on the connection that holds the lock. */
  private async renew(): Promise<void> {
    const client = this.client;
    if (!client) {
      throw new Error('the lock connection is gone');
    }
    if (this.table) {
      await client.query(`UPDATE ${this.table} SET renewed_at = now() WHERE lease_name = $1 AND holder_identity = $2`, [
        this.leaseName,
        this.identity,
      ]);
    } else {
      await client.query('SELECT 1');
    }
  }

  private async connectedClient(): Promise<pg.Client> {
    if (this.client) {
      return this.client;
    }
    const base: pg.ClientConfig =
      typeof this.connection === 'string' ? { connectionString: this.connection } : { ...this.connection };
    const client = new pg.Client({
      ...base,
      application_name: `leader-election:${this.leaseName}`.slice(0, 63),
      connectionTimeoutMillis: this.requestTimeoutMs,
      query_timeout: this.requestTimeoutMs,
      keepAlive: true,
    });
    const onFailure = (error?: Error): void => {
      if (this.client !== client) {
        return;
      }
      if (!this.stopping) {
        this.logger.warn('lock connection lost', {
          lease: this.leaseName,
          identity: this.identity,
          error: error ? describeError(error) : 'ended',
        });
      }
      void this.connectionLost();
    };
    client.on('error', onFailure);
    client.on('end', () => onFailure());
    this.client = client;
    try {
      await client.connect();
      // if this session goes silent for LeaseDuration (frozen or partitioned leader), the server ends it
      await client.query(`SET idle_session_timeout = ${Math.round(this.timings.leaseDurationMs)}`);
    } catch (error) {
      if (this.client === client) {
        this.client = undefined;
      }
      this.dropClient(client);
      throw error;
    }
    return client;
  }

  /** Steps down at once and forgets the connection (the server frees the lock with the session). */
  private async connectionLost(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.clearDeadline();
    if (client) {
      this.dropClient(client);
    }
    if (!this.stopping && this.isLeader) {
      this.campaignAfter = monotonicNow() + 2 * this.timings.retryPeriodMs;
      await this.stepDown('connection-lost');
    }
  }

  private dropClient(client: pg.Client): void {
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
  }

  private armDeadline(deadline: number): void {
    this.clearDeadline();
    this.deadlineTimer = setTimeout(
      () => {
        this.deadlineTimer = undefined;
        if (!this.isLeader || this.stopping) {
          return;
        }
        this.logger.warn('could not check the lock connection within the renew deadline', { lease: this.leaseName });
        const client = this.client;
        this.client = undefined;
        if (client) {
          this.dropClient(client);
        }
        this.campaignAfter = monotonicNow() + 2 * this.timings.retryPeriodMs;
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

  private async recordHolder(client: pg.Client): Promise<void> {
    if (!this.table || !this.schema) {
      return;
    }
    if (!this.schemaReady) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.schema)}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (
           lease_name text PRIMARY KEY,
           holder_identity text NOT NULL,
           acquired_at timestamptz NOT NULL,
           renewed_at timestamptz NOT NULL,
           transitions integer NOT NULL DEFAULT 0
         )`,
      );
      this.schemaReady = true;
    }
    await client.query(
      `INSERT INTO ${this.table} AS t (lease_name, holder_identity, acquired_at, renewed_at, transitions)
       VALUES ($1, $2, now(), now(), 0)
       ON CONFLICT (lease_name) DO UPDATE
         SET holder_identity = EXCLUDED.holder_identity, acquired_at = now(), renewed_at = now(),
             transitions = t.transitions + CASE WHEN t.holder_identity = EXCLUDED.holder_identity THEN 0 ELSE 1 END`,
      [this.leaseName, this.identity],
    );
  }

  private async readHolder(client: pg.Client): Promise<void> {
    if (!this.table) {
      return;
    }
    try {
      const result = await client.query<{ holder_identity: string }>(
        `SELECT holder_identity FROM ${this.table} WHERE lease_name = $1`,
        [this.leaseName],
      );
      this.observeLeader(result.rows[0]?.holder_identity);
    } catch (error) {
      // the first leader has not created the table yet
      if ((error as { code?: string }).code !== '42P01' && (error as { code?: string }).code !== '3F000') {
        throw error;
      }
    }
  }
}
