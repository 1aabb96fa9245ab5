import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import { returnedRows } from '../database/returning.js';

/** A write from an epoch that is no longer current: the writer is not (or no longer) the leader. */
export class FencingError extends Error {
  constructor(
    readonly epoch: number,
    readonly current: number,
  ) {
    super(`fenced: epoch ${epoch} is stale (current epoch ${current})`);
    this.name = 'FencingError';
  }
}

/** Told when a holder's epoch was found superseded: `epoch` is no longer current, `current` is. */
export type SupersededListener = (epoch: number, current: number) => void;

/**
 * Fencing tokens issued by PostgreSQL. A new leader increments the single row of
 * trading.leader_epochs; every write of a job run happens in a transaction that first reads that
 * row FOR SHARE and compares. FOR SHARE makes a concurrent increment wait until the writing
 * transaction ends, and any transaction that starts after the increment sees the new value: once
 * a newer epoch is taken, no write of an older epoch can commit.
 */
@Injectable()
export class FencingService {
  private readonly supersededListeners = new Set<SupersededListener>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: TradingMetrics,
  ) {}

  /** Takes the next epoch for `holder` (called on becoming leader). */
  async takeEpoch(holder: string): Promise<number> {
    const rows = returnedRows<{ epoch: string }>(
      await this.dataSource.query(
        `UPDATE trading.leader_epochs SET epoch = epoch + 1, holder = $1, taken_at = now() WHERE id = 1 RETURNING epoch`,
        [holder],
      ),
    );
    return Number(rows[0]?.epoch);
  }

  async current(manager: EntityManager = this.dataSource.manager): Promise<{ epoch: number; holder: string }> {
    const rows: Array<{ epoch: string; holder: string }> = await manager.query(
      `SELECT epoch, holder FROM trading.leader_epochs WHERE id = 1`,
    );
    return { epoch: Number(rows[0]?.epoch ?? 0), holder: rows[0]?.holder ?? '' };
  }

  /**
   * Calls `listener` whenever an epoch is found superseded (a fenced write refused, or
   * `stillCurrent` answering false), so that a leader holding that epoch stops leading.
   * Returns the function that removes it.
   */
  onSuperseded(listener: SupersededListener): () => void {
    this.supersededListeners.add(listener);
    return () => this.supersededListeners.delete(listener);
  }

  /** Whether `epoch` is still the current one (outside any write); tells the listeners when it is not. */
  async stillCurrent(epoch: number): Promise<boolean> {
    const { epoch: current } = await this.current();
    if (current === epoch) {
      return true;
    }
    this.superseded(epoch, current);
    return false;
  }

  /** Inside a transaction: throws FencingError unless `epoch` is still the current one. */
  async check(manager: EntityManager, epoch: number): Promise<void> {
    const rows: Array<{ epoch: string }> = await manager.query(
      `SELECT epoch FROM trading.leader_epochs WHERE id = 1 FOR SHARE`,
    );
    const current = Number(rows[0]?.epoch ?? 0);
    if (current !== epoch) {
      this.metrics.fencingRejections.inc();
      this.superseded(epoch, current);
      throw new FencingError(epoch, current);
    }
  }

  private superseded(epoch: number, current: number): void {
    for (const listener of this.supersededListeners) {
      listener(epoch, current);
    }
  }

  /** Runs `work` in a transaction that commits only if `epoch` is current; aborts early on `signal`. */
  async transaction<T>(epoch: number, work: (manager: EntityManager) => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    return this.dataSource.transaction(async (manager) => {
      await this.check(manager, epoch);
      return work(manager);
    });
  }
}
