import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CONFIG } from '@stocklab/platform';
import { DataSource } from 'typeorm';
import type { BacktestConfig } from '../config.js';
import { ObjectStorage } from '../storage/object-storage.js';

const BATCH = 100;
const FINISHED = ['succeeded', 'failed', 'cancelled'];

/**
 * What one user's backtests may keep: finished ones older than BACKTEST_RETENTION_DAYS, and any
 * beyond the newest BACKTEST_MAX_STORED_PER_USER of a user, are deleted with their result rows
 * and their exports. Every replica sweeps: rows are taken with FOR UPDATE SKIP LOCKED, so two
 * sweeps at once share the work instead of repeating it. The exports go first (deleting an object
 * twice is harmless): a sweep cut short leaves a row whose export is gone, deleted by the next
 * sweep, never an object no row points to.
 */
@Injectable()
export class BacktestRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(BacktestRetention.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(CONFIG) private readonly config: BacktestConfig,
    @Inject(ObjectStorage) private readonly storage: ObjectStorage,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(
      () => void this.sweep().catch((e: Error) => this.logger.warn(`retention sweep: ${e.message}`)),
      this.config.BACKTEST_RETENTION_SWEEP_SECONDS * 1000,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Deletes what is past retention or over a user's quota; answers how many backtests went. */
  async sweep(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const gone = await this.dataSource.transaction(async (manager) => {
        const rows = await manager.query<{ id: string; export_key: string | null }[]>(
          `SELECT b.id, b.export_key FROM backtest.backtests b
            WHERE b.status = ANY($1)
              AND (($2::int > 0 AND b.finished_at < now() - make_interval(days => $2::int))
                OR b.id IN (SELECT id FROM (
                      SELECT id, row_number() OVER (PARTITION BY owner_id ORDER BY finished_at DESC NULLS LAST, id DESC) AS newest
                        FROM backtest.backtests WHERE status = ANY($1)) ranked
                     WHERE newest > $3))
            ORDER BY b.finished_at NULLS FIRST
            LIMIT ${BATCH}
            FOR UPDATE OF b SKIP LOCKED`,
          [FINISHED, this.config.BACKTEST_RETENTION_DAYS, this.config.BACKTEST_MAX_STORED_PER_USER],
        );
        for (const { export_key: key } of rows) {
          if (key !== null) {
            await this.storage.delete(`${key}/equity.csv`);
            await this.storage.delete(`${key}/trades.csv`);
          }
        }
        if (rows.length > 0) {
          await manager.query(`DELETE FROM backtest.backtests WHERE id = ANY($1)`, [rows.map((r) => r.id)]);
        }
        return rows.length;
      });
      deleted += gone;
      if (gone < BATCH) {
        break;
      }
    }
    if (deleted > 0) {
      this.logger.log(`retention: deleted ${deleted} backtest(s) past retention or over a user's quota`);
    }
    return deleted;
  }
}
