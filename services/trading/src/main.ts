import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@stocklab/platform';
import { AppModule } from './app.module.js';
import { tradingConfigSchema } from './config.js';
import { tradingDataSourceOptions } from './data-source.js';

const config = loadConfigOrExit(tradingConfigSchema);
await runService({
  service: 'trading',
  config,
  appModule: AppModule.register(config),
  dataSource: tradingDataSourceOptions(config),
  docs: {
    title: 'StockLab trading',
    description: 'Auto trading: a Lease-elected scheduler with PostgreSQL fencing, orders placed exactly once',
  },
});
