import 'reflect-metadata';
import { exitOnConfigError, loadConfigOrExit, runService } from '@stocklab/platform';
import { authConfigSchema } from './config.js';
import { authServiceOptions } from './service-options.js';
import { TokenIssuer } from './tokens/token-issuer.js';

const config = loadConfigOrExit(authConfigSchema);
const issuer = await exitOnConfigError(() => TokenIssuer.create(config));
await runService(authServiceOptions(config, issuer));
