import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { DomainError } from '@stocklab/platform';
import { sharedStatementsOf } from '@stocklab/market-data';
import type { BacktestResult, StrategyDefinition } from '@stocklab/strategy-engine';
import type { ThreadMessage, ThreadRequest } from './backtest-thread.js';
import type { BenchmarkId, MarketSnapshot } from './market-snapshot.js';

const THREAD_ENTRY = new URL('./backtest-thread.js', import.meta.url);

export interface RunRequest {
  definition: StrategyDefinition;
  snapshot: MarketSnapshot;
  from: number;
  to: number;
  benchmark: BenchmarkId | undefined;
  onProgress: (fraction: number) => void;
  signal: AbortSignal;
}

/** One long-lived thread and the data version it holds. */
class BacktestThread {
  readonly worker = new Worker(THREAD_ENTRY);
  version: string | undefined;
  busy = false;
}

/**
 * Runs backtests on a small set of long-lived worker threads (one per job slot of the process).
 * A thread gets the market data once per data version, so a job costs the main thread only a
 * definition going in and a result coming out. Aborting a job terminates its thread; a fresh
 * one takes its place.
 */
export class BacktestThreadPool {
  private readonly idle: BacktestThread[] = [];
  /** closed: a thread whose job ends is terminated, not kept */
  private closed = false;

  /** The data version each idle thread holds (undefined: none). */
  idleVersions(): Array<string | undefined> {
    return this.idle.map((t) => t.version);
  }

  /** Runs one backtest; at most as many run at once as callers call (the queue's concurrency). */
  run(request: RunRequest): Promise<BacktestResult> {
    this.releaseOlder(request.snapshot.version);
    const thread = this.idle.pop() ?? new BacktestThread();
    thread.busy = true;
    if (thread.version !== request.snapshot.version) {
      const { fundamentals, ...data } = request.snapshot.data;
      const load: ThreadRequest = {
        type: 'data',
        version: request.snapshot.version,
        data,
        statements: sharedStatementsOf(fundamentals),
        benchmarks: request.snapshot.benchmarks,
      };
      thread.worker.postMessage(load);
      thread.version = request.snapshot.version;
    }
    const jobId = randomUUID();
    return new Promise<BacktestResult>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: () => void, reusable: boolean): void => {
        if (settled) {
          return;
        }
        settled = true;
        thread.worker.off('message', onMessage);
        thread.worker.off('error', onError);
        thread.worker.off('exit', onExit);
        request.signal.removeEventListener('abort', onAbort);
        thread.busy = false;
        if (reusable && !this.closed) {
          this.idle.push(thread);
        } else {
          void thread.worker.terminate();
        }
        outcome();
      };
      const onMessage = (message: ThreadMessage): void => {
        if (message.jobId !== jobId) {
          return;
        }
        switch (message.type) {
          case 'progress':
            request.onProgress(message.done / message.total);
            break;
          case 'result':
            finish(() => resolve(message.result), true);
            break;
          case 'error':
            finish(() => reject(new DomainError(422, 'BACKTEST_FAILED', message.message)), true);
            break;
        }
      };
      const onError = (error: Error): void => finish(() => reject(error), false);
      const onExit = (code: number): void =>
        finish(() => reject(new Error(`backtest thread exited with code ${code}`)), false);
      const onAbort = (): void =>
        finish(() => reject(new DomainError(409, 'BACKTEST_CANCELLED', 'The backtest was cancelled')), false);
      thread.worker.on('message', onMessage);
      thread.worker.on('error', onError);
      thread.worker.on('exit', onExit);
      request.signal.addEventListener('abort', onAbort, { once: true });
      const run: ThreadRequest = {
        type: 'run',
        jobId,
        definition: request.definition,
        from: request.from,
        to: request.to,
        benchmark: request.benchmark,
      };
      thread.worker.postMessage(run);
    });
  }

  /**
   * A job on a newer version came: the idle threads drop the arrays of any other version, so
   * that once the jobs still running on it end, nothing keeps the old market alive.
   */
  private releaseOlder(version: string): void {
    for (const thread of this.idle) {
      if (thread.version !== undefined && thread.version !== version) {
        const release: ThreadRequest = { type: 'release' };
        thread.worker.postMessage(release);
        thread.version = undefined;
      }
    }
  }

  /**
   * Terminates the idle threads; one still running a job (the queue's shutdown lets jobs finish
   * within a grace period) is terminated when its job ends.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idle.splice(0).map((t) => t.worker.terminate()));
  }
}
