import { Worker } from 'node:worker_threads';
import type { BacktestResult, StrategyDefinition } from '@stocklab/strategy-engine';
import { DomainError } from '@stocklab/platform';
import type { ThreadInput, ThreadMessage } from './backtest-thread.js';
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

/** Runs one backtest in a worker thread; aborting the signal terminates the thread. */
export function runInThread(request: RunRequest): Promise<BacktestResult> {
  const input: ThreadInput = {
    definition: request.definition,
    data: request.snapshot.data,
    from: request.from,
    to: request.to,
    benchmark: request.benchmark ? request.snapshot.benchmarks[request.benchmark] : undefined,
  };
  return new Promise<BacktestResult>((resolve, reject) => {
    const worker = new Worker(THREAD_ENTRY, { workerData: input });
    let settled = false;
    const finish = (fn: () => void): void => {
      if (!settled) {
        settled = true;
        request.signal.removeEventListener('abort', onAbort);
        fn();
      }
    };
    const onAbort = (): void => {
      void worker.terminate();
      finish(() => reject(new DomainError(409, 'BACKTEST_CANCELLED', 'The backtest was cancelled')));
    };
    request.signal.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (message: ThreadMessage) => {
      switch (message.type) {
        case 'progress':
          request.onProgress(message.done / message.total);
          break;
        case 'result':
          finish(() => resolve(message.result));
          void worker.terminate();
          break;
        case 'error':
          finish(() => reject(new DomainError(422, 'BACKTEST_FAILED', message.message)));
          void worker.terminate();
          break;
      }
    });
    worker.on('error', (error: Error) => finish(() => reject(error)));
    worker.on('exit', (code) => finish(() => reject(new Error(`backtest thread exited with code ${code}`))));
  });
}
