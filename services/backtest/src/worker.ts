import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@stocklab/platform';
import { AppModule } from './app.module.js';
import { backtestConfigSchema } from './config.js';
import { backtestDataSourceOptions } from './data-source.js';

/**
 * The worker entry point: same build and image as the API, no API routes, only job processing
 * plus /health/* and /metrics for its probes and autoscaling.
 */
const config = loadConfigOrExit(backtestConfigSchema);
await runService({
  service: 'backtest',
  config,
  appModule: AppModule.register(config, 'worker'),
  dataSource: backtestDataSourceOptions(config, 'worker'),
  docs: { title: 'StockLab backtest worker', description: 'Health and metrics only' },
});
