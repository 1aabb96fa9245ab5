import { Inject, Injectable } from '@nestjs/common';
import { HttpMetrics, readOnScrape } from '@stocklab/platform';
import { Gauge, Histogram } from 'prom-client';
import { QUEUE, Queues } from './queues.js';

/** The BullMQ states a backtest passes through before it ends, as the depth gauge labels them. */
const DEPTH_STATES = ['waiting', 'active', 'delayed'] as const;

/**
 * The backtest queue as operators watch it (served at /metrics of every backtest process):
 *
 * - backtest_queue_wait_seconds: from a backtest's submission (its row's created_at) to its first
 *   start by a worker, observed by the process that started it. Once per backtest: a retry after
 *   a failure (BullMQ's back-off) and a take-up after a killed worker or a lost queue claim the
 *   same row again and are not observed, so the histogram counts backtests, and its quantiles are
 *   what users waited, not how often something was retried. A backtest re-enqueued from
 *   PostgreSQL after Redis lost the queue counts from its submission, the wait it really had.
 * - backtest_queue_depth{state}: the queue's waiting, active and delayed jobs, read from BullMQ at
 *   each scrape. The queue is shared, so every process reports the same numbers (read them with
 *   max); API replicas that take no jobs report it too, which is what shows backtests waiting
 *   while no worker takes any.
 */
@Injectable()
export class QueueMetrics {
  private readonly wait: Histogram;
  private readonly depth: Gauge<'state'>;

  constructor(@Inject(HttpMetrics) metrics: HttpMetrics, @Inject(Queues) queues: Queues) {
    const registers = [metrics.registry];
    this.wait = new Histogram({
      name: 'backtest_queue_wait_seconds',
      help: 'Time from a backtest being submitted to its first start by a worker (observed once per backtest)',
      // a warm start is sub-second, a burst drains in tens of seconds, and past half an hour
      // the exact value no longer changes what an operator does
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800],
      registers,
    });
    this.depth = new Gauge({
      name: 'backtest_queue_depth',
      help: 'Backtest jobs in the queue by BullMQ state (waiting, active, delayed), read from Redis at scrape time',
      labelNames: ['state'],
      registers,
      collect: readOnScrape(
        () => queues.queue(QUEUE.backtests).getJobCounts(...DEPTH_STATES),
        (counts) => {
          for (const state of DEPTH_STATES) {
            this.depth.set({ state }, counts[state] ?? 0);
          }
        },
      ),
    });
  }

  /** A backtest started for the first time, `seconds` after it was submitted. */
  observeWait(seconds: number): void {
    // created_at and started_at both come from PostgreSQL's clock, so this is never below 0
    // unless that clock stepped back; such a sample is a 0 wait, not a dropped one
    this.wait.observe(Math.max(0, seconds));
  }
}
