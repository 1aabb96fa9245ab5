import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@stocklab/platform';
import { AppModule } from './app.module.js';
import { backtestConfigSchema } from './config.js';
import { backtestDataSourceOptions } from './data-source.js';

const config = loadConfigOrExit(backtestConfigSchema);
await runService({
  service: 'backtest',
  config,
  appModule: AppModule.register(config, 'api'),
  dataSource: backtestDataSourceOptions(config, 'api'),
  docs: { title: 'StockLab backtest', description: 'Market data, strategies and backtests' },
});
