import type { RunServiceOptions } from '@stocklab/platform';
import { AppModule, type ProcessRole } from './app.module.js';
import type { BacktestConfig } from './config.js';
import { backtestDataSourceOptions } from './data-source.js';

const DOCS: Record<ProcessRole, RunServiceOptions['docs']> = {
  api: { title: 'StockLab backtest', description: 'Market data, strategies and backtests' },
  worker: { title: 'StockLab backtest worker', description: 'Health and metrics only' },
};

/** What `runService` needs to start a backtest process: used by main.ts, worker.ts and the in-process tests. */
export function backtestServiceOptions(config: BacktestConfig, role: ProcessRole = 'api'): RunServiceOptions {
  return {
    service: 'backtest',
    config,
    appModule: AppModule.register(config, role),
    dataSource: backtestDataSourceOptions(config, role),
    docs: DOCS[role],
  };
}
