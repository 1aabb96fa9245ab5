/**
 * Worker-thread entry: runs backtests off the event loop, so health checks and API calls of the
 * process stay fast while it computes. The thread keeps the market data of one data version;
 * the pool sends it once per version (typed arrays on SharedArrayBuffers: shared, not copied;
 * the statements too, as columns the thread reads through views), then only a definition per job.
 */
import { parentPort } from 'node:worker_threads';
import { runBacktest, type BacktestResult, type MarketData, type StrategyDefinition } from '@stocklab/strategy-engine';
// only the statement columns: the thread loads none of the loaders (pg, pg-copy-streams)
import { statementViews, type SharedStatements } from '@stocklab/market-data/statement-columns';

export type ThreadRequest =
  | {
      type: 'data';
      version: string;
      /** all but the statements, which come as shared columns */
      data: Omit<MarketData, 'fundamentals'>;
      statements: SharedStatements;
      benchmarks: Record<string, Float64Array>;
    }
  | { type: 'release' }
  | {
      type: 'run';
      jobId: string;
      definition: StrategyDefinition;
      from: number;
      to: number;
      benchmark: string | undefined;
    };

export type ThreadMessage =
  | { type: 'progress'; jobId: string; done: number; total: number }
  | { type: 'result'; jobId: string; result: BacktestResult }
  | { type: 'error'; jobId: string; message: string };

let market: { data: MarketData; benchmarks: Record<string, Float64Array> } | undefined;
const post = (message: ThreadMessage): void => parentPort?.postMessage(message);

parentPort?.on('message', (request: ThreadRequest) => {
  if (request.type === 'data') {
    market = {
      data: { ...request.data, fundamentals: statementViews(request.statements) },
      benchmarks: request.benchmarks,
    };
    return;
  }
  if (request.type === 'release') {
    market = undefined;
    return;
  }
  const { jobId } = request;
  try {
    if (!market) {
      throw new Error('no market data loaded in this thread');
    }
    const result = runBacktest(request.definition, market.data, {
      from: request.from,
      to: request.to,
      benchmark: request.benchmark ? market.benchmarks[request.benchmark] : undefined,
      progressEvery: 50,
      onProgress: (p) => post({ type: 'progress', jobId, done: p.done, total: p.total }),
    });
    post({ type: 'result', jobId, result });
  } catch (error) {
    post({ type: 'error', jobId, message: error instanceof Error ? error.message : String(error) });
  }
});
