import type { RunServiceOptions } from '@stocklab/platform';
import { AppModule } from './app.module.js';
import type { TradingConfig } from './config.js';
import { tradingDataSourceOptions } from './data-source.js';

/** What `runService` needs to start trading: used by main.ts and by the in-process tests. */
export function tradingServiceOptions(config: TradingConfig): RunServiceOptions {
  return {
    service: 'trading',
    config,
    appModule: AppModule.register(config),
    dataSource: tradingDataSourceOptions(config),
    docs: {
      title: 'StockLab trading',
      description: 'Auto trading: a Lease-elected scheduler with PostgreSQL fencing, orders placed exactly once',
    },
  };
}
