import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@stocklab/platform';
import { backtestConfigSchema } from './config.js';
import { backtestServiceOptions } from './service-options.js';

const config = loadConfigOrExit(backtestConfigSchema);
await runService(backtestServiceOptions(config));
