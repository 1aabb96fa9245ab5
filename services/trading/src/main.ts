import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@stocklab/platform';
import { tradingConfigSchema } from './config.js';
import { tradingServiceOptions } from './service-options.js';

const config = loadConfigOrExit(tradingConfigSchema);
await runService(tradingServiceOptions(config));
