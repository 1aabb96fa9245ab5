/**
 * Worker-thread entry: runs one backtest off the event loop, so health checks and API calls of
 * the process stay fast while it computes. Market data arrives on SharedArrayBuffers (no copy).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runBacktest, type BacktestResult, type MarketData, type StrategyDefinition } from '@stocklab/strategy-engine';

export interface ThreadInput {
  definition: StrategyDefinition;
  data: MarketData;
  from: number;
  to: number;
  benchmark: Float64Array | undefined;
}

export type ThreadMessage =
  | { type: 'progress'; done: number; total: number }
  | { type: 'result'; result: BacktestResult }
  | { type: 'error'; message: string };

const input = workerData as ThreadInput;
const post = (message: ThreadMessage): void => parentPort?.postMessage(message);
try {
  const result = runBacktest(input.definition, input.data, {
    from: input.from,
    to: input.to,
    benchmark: input.benchmark,
    progressEvery: 50,
    onProgress: (p) => post({ type: 'progress', done: p.done, total: p.total }),
  });
  post({ type: 'result', result });
} catch (error) {
  post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
}
