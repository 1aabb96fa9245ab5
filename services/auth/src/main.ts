import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@stocklab/platform';
import { AppModule } from './app.module.js';
import { authConfigSchema } from './config.js';
import { authDataSourceOptions } from './data-source.js';

const config = loadConfigOrExit(authConfigSchema);
await runService({
  service: 'auth',
  config,
  appModule: AppModule.register(config),
  dataSource: authDataSourceOptions(config),
  docs: { title: 'StockLab auth', description: 'Accounts, access and refresh tokens, revocation' },
});
