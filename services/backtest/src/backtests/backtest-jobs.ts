import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CONFIG } from '@stocklab/platform';
import type { BacktestResult } from '@stocklab/strategy-engine';
import type { Job } from 'bullmq';
import { DataSource, type EntityManager } from 'typeorm';
import type { BacktestConfig } from '../config.js';
import { QueueMetrics } from '../queue/queue-metrics.js';
import { Queues, QUEUE } from '../queue/queues.js';
import { ObjectStorage } from '../storage/object-storage.js';
import { Backtest } from './backtest.entity.js';
import { enqueueBacktest } from './backtest-queue.js';
import { BacktestThreadPool } from './backtest-runner.js';
import type { BenchmarkId } from './market-snapshot.js';
import { MarketSnapshots } from './market-snapshot.js';
import { equityCsv, isoOf, metricsForApi, tradesCsv } from './result-export.js';

const RECONCILE_EVERY_MS = 15000;
const PROGRESS_WRITE_EVERY_MS = 500;
const yyyymmdd = (iso: string): number => Number(iso.replaceAll('-', ''));

class Cancelled extends Error {}

/** What a worker's claim of a backtest answers. */
type Claimed = Pick<Backtest, 'id' | 'definition' | 'fromDate' | 'toDate' | 'attempts'> & { waitedSeconds: number };

/**
 * Takes backtest jobs from the queue in this process (API replica or worker) and keeps the
 * queue consistent with PostgreSQL, which is the source of truth for every backtest's state.
 */
@Injectable()
export class BacktestJobs implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(BacktestJobs.name);
  private reconcileTimer: NodeJS.Timeout | undefined;
  private readonly threads = new BacktestThreadPool();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(CONFIG) private readonly config: BacktestConfig,
    @Inject(Queues) private readonly queues: Queues,
    @Inject(ObjectStorage) private readonly storage: ObjectStorage,
    @Inject(MarketSnapshots) private readonly snapshots: MarketSnapshots,
    @Inject(QueueMetrics) private readonly queueMetrics: QueueMetrics,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.BACKTEST_CONCURRENCY <= 0) {
      return;
    }
    this.queues.work(QUEUE.backtests, this.config.BACKTEST_CONCURRENCY, (job) => this.process(job));
    this.reconcileTimer = setInterval(
      () => void this.reconcile().catch((e: Error) => this.logger.warn(`reconcile: ${e.message}`)),
      RECONCILE_EVERY_MS,
    );
    this.reconcileTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.reconcileTimer);
    await this.threads.close();
  }

  /**
   * Re-enqueues backtests PostgreSQL says are queued or running but the queue has lost
   * (Redis restarted without persistence, or an enqueue failed). The job id is the backtest id,
   * so an existing job is never duplicated.
   */
  async reconcile(): Promise<number> {
    const rows = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM backtest.backtests WHERE status IN ('queued', 'running') AND created_at < now() - interval '5 seconds' ORDER BY created_at LIMIT 500`,
    );
    const queue = this.queues.queue(QUEUE.backtests);
    let added = 0;
    for (const { id } of rows) {
      const job = await queue.getJob(id);
      if (!job) {
        await enqueueBacktest(this.queues, id);
        added += 1;
      } else if ((await job.getState()) === 'failed') {
        // BullMQ gave up on it without our processor seeing the end (e.g. stalled too often):
        // settle the row so that no backtest stays "running" forever
        await this.dataSource.query(
          `UPDATE backtest.backtests SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status IN ('queued', 'running')`,
          [id, (job.failedReason || 'the job failed').slice(0, 500)],
        );
      }
    }
    if (added > 0) {
      this.logger.warn(`re-enqueued ${added} backtest(s) missing from the queue`);
    }
    return added;
  }

  /** One attempt at a backtest. Safe to run again after a crash: results are written once, atomically. */
  async process(job: Job): Promise<void> {
    const id = (job.data as { id: string }).id;
    // the wait is computed by PostgreSQL, whose clock set created_at: no skew with this pod's
    const [claimed] = await this.dataSource.query<[Claimed[], number]>(
      `UPDATE backtest.backtests SET status = 'running', attempts = attempts + 1, started_at = now(), worker = $2
        WHERE id = $1 AND status IN ('queued', 'running')
        RETURNING id, definition, from_date::text AS "fromDate", to_date::text AS "toDate", attempts,
          extract(epoch FROM started_at - created_at)::float8 AS "waitedSeconds"`,
      [id, this.config.POD_NAME],
    );
    const backtest = claimed[0];
    if (!backtest) {
      return; // cancelled, finished, or deleted: nothing to do
    }
    if (backtest.attempts === 1) {
      // its first start; a retry or a take-up after a killed worker claims it again (see QueueMetrics)
      this.queueMetrics.observeWait(backtest.waitedSeconds);
    }
    const abort = new AbortController();
    const t0 = performance.now();
    try {
      const snapshot = await this.snapshots.get();
      const t1 = performance.now();
      let lastWrite = 0;
      let checking = false;
      const result = await this.threads.run({
        definition: backtest.definition,
        snapshot,
        from: yyyymmdd(backtest.fromDate),
        to: yyyymmdd(backtest.toDate),
        benchmark: backtest.definition.benchmark as BenchmarkId | undefined,
        signal: abort.signal,
        onProgress: (fraction) => {
          const now = Date.now();
          if (checking || now - lastWrite < PROGRESS_WRITE_EVERY_MS) {
            return;
          }
          lastWrite = now;
          checking = true;
          void this.reportProgress(id, fraction)
            .then((stillRunning) => {
              if (!stillRunning) {
                abort.abort();
              }
            })
            .catch(() => undefined)
            .finally(() => {
              checking = false;
            });
        },
      });
      const t2 = performance.now();
      assertWithinBudget(result, this.config.BACKTEST_MAX_TRADES);
      await this.store(id, result, snapshot.version);
      this.logger.log(
        `backtest ${id}: data ${Math.round(t1 - t0)} ms, run ${Math.round(t2 - t1)} ms, store ${Math.round(performance.now() - t2)} ms`,
      );
    } catch (error) {
      if (abort.signal.aborted || error instanceof Cancelled) {
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const permanent = (error as { status?: number }).status === 422 || error instanceof ResultTooLarge;
      if (lastAttempt || permanent) {
        await this.dataSource.query(
          `UPDATE backtest.backtests SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status = 'running'`,
          [id, message.slice(0, 500)],
        );
        this.logger.warn(`backtest ${id} failed: ${message}`);
        return;
      }
      throw error;
    }
  }

  /** Writes progress; answers whether the backtest is still running (false once cancelled). */
  private async reportProgress(id: string, fraction: number): Promise<boolean> {
    const [rows] = await this.dataSource.query<[unknown[], number]>(
      `UPDATE backtest.backtests SET progress = $2 WHERE id = $1 AND status = 'running' RETURNING id`,
      [id, Math.min(99, fraction * 100)],
    );
    return rows.length > 0;
  }

  /** Exports to object storage, then every result row and the final status in one transaction. */
  private async store(id: string, result: BacktestResult, dataVersion: string): Promise<void> {
    const exportKey = `backtests/${id}`;
    await this.storage.put(`${exportKey}/equity.csv`, equityCsv(result), 'text/csv');
    await this.storage.put(`${exportKey}/trades.csv`, tradesCsv(result), 'text/csv');
    await this.dataSource.transaction(async (manager) => {
      const rows = await manager.query<{ status: string }[]>(
        `SELECT status FROM backtest.backtests WHERE id = $1 FOR UPDATE`,
        [id],
      );
      if (rows[0]?.status !== 'running') {
        throw new Cancelled();
      }
      await this.writeRows(manager, id, result);
      await manager.query(
        `UPDATE backtest.backtests
            SET status = 'succeeded', progress = 100, metrics = $2, summary = $3, export_key = $4, data_version = $5, finished_at = now(), error = NULL
          WHERE id = $1`,
        [
          id,
          JSON.stringify(metricsForApi(result.metrics)),
          JSON.stringify({
            firstDate: isoOf(result.from),
            lastDate: isoOf(result.to),
            benchmark: result.benchmark
              ? {
                  totalReturn: result.benchmark.totalReturn,
                  cagr: result.benchmark.cagr,
                  excessReturn: result.benchmark.excessReturn,
                  excessCagr: result.benchmark.excessCagr,
                }
              : null,
            openPositions: result.openPositions,
          }),
          exportKey,
          dataVersion,
        ],
      );
    });
  }

  private async writeRows(manager: EntityManager, id: string, result: BacktestResult): Promise<void> {
    await manager.query(`DELETE FROM backtest.backtest_equity WHERE backtest_id = $1`, [id]);
    await manager.query(`DELETE FROM backtest.backtest_trades WHERE backtest_id = $1`, [id]);
    const e = result.equityCurve;
    const finite = (values: (number | undefined)[]) =>
      values.map((v) => (v === undefined || !Number.isFinite(v) ? null : v));
    await manager.query(
      `INSERT INTO backtest.backtest_equity (backtest_id, day, value, cash, invested, daily_return, drawdown, benchmark)
       SELECT $1, to_date(d::text, 'YYYYMMDD'), v, c, i, r, dd, b
         FROM unnest($2::int[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[]) AS t(d, v, c, i, r, dd, b)`,
      [
        id,
        e.dates,
        finite(e.value),
        finite(e.cash),
        finite(e.invested),
        finite(e.dailyReturn),
        finite(e.drawdown),
        finite(e.dates.map((_, i) => result.benchmark?.value[i])),
      ],
    );
    // In batches, yielding between them: one statement for every row of a large result would
    // hold the event loop (building its parameters) long enough to miss health checks.
    const t = result.trades;
    for (let start = 0; start < t.length; start += TRADE_BATCH) {
      const batch = t.slice(start, start + TRADE_BATCH);
      await manager.query(
        `INSERT INTO backtest.backtest_trades (backtest_id, seq, day, code, side, quantity, price, fees, tax, pnl, holding_days, reason)
         SELECT $1, seq, to_date(d::text, 'YYYYMMDD'), code, side, q, p, f, tx, pnl, hd, reason
           FROM unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::int[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::int[], $12::text[])
             AS t(seq, d, code, side, q, p, f, tx, pnl, hd, reason)`,
        [
          id,
          batch.map((_, i) => start + i),
          batch.map((x) => x.date),
          batch.map((x) => x.code),
          batch.map((x) => x.side),
          batch.map((x) => x.quantity),
          batch.map((x) => x.price),
          batch.map((x) => x.commission),
          batch.map((x) => x.tax),
          batch.map((x) => x.pnl),
          batch.map((x) => x.holdingDays),
          batch.map((x) => x.reason),
        ],
      );
      await yieldToEventLoop();
    }
  }
}

/** Trades per INSERT statement when a result is stored. */
const TRADE_BATCH = 5000;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A result over the configured budget: the run fails (not retried) naming the limit. */
export class ResultTooLarge extends Error {
  readonly code = 'RESULT_TOO_LARGE';
}

/** Refuses to store a result larger than the budget: its rows and exports would grow without bound. */
export function assertWithinBudget(result: BacktestResult, maxTrades: number): void {
  if (result.trades.length > maxTrades) {
    throw new ResultTooLarge(
      `RESULT_TOO_LARGE: the backtest made ${result.trades.length} trades, more than the ${maxTrades} one backtest may store (BACKTEST_MAX_TRADES); narrow the universe, rebalance less often or shorten the period`,
    );
  }
}
