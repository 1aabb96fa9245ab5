import type { RunServiceOptions } from '@stocklab/platform';
import { AppModule } from './app.module.js';
import type { AuthConfig } from './config.js';
import { authDataSourceOptions } from './data-source.js';
import type { TokenIssuer } from './tokens/token-issuer.js';

/** What `runService` needs to start auth: used by main.ts and by the in-process tests. */
export function authServiceOptions(config: AuthConfig, issuer: TokenIssuer): RunServiceOptions {
  return {
    service: 'auth',
    config,
    appModule: AppModule.register(config, issuer),
    dataSource: authDataSourceOptions(config),
    docs: { title: 'StockLab auth', description: 'Accounts, access and refresh tokens, revocation' },
  };
}
