import 'reflect-metadata';
import { exitOnConfigError, loadConfigOrExit, runService } from '@stocklab/platform';
import { AppModule } from './app.module.js';
import { authConfigSchema } from './config.js';
import { authDataSourceOptions } from './data-source.js';
import { TokenIssuer } from './tokens/token-issuer.js';

const config = loadConfigOrExit(authConfigSchema);
const issuer = await exitOnConfigError(() => TokenIssuer.create(config));
await runService({
  service: 'auth',
  config,
  appModule: AppModule.register(config, issuer),
  dataSource: authDataSourceOptions(config),
  docs: { title: 'StockLab auth', description: 'Accounts, access and refresh tokens, revocation' },
});
