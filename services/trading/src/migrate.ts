import 'reflect-metadata';
import { loadConfigOrExit, runMigrationsWithLock } from '@stocklab/platform';
import { tradingConfigSchema } from './config.js';
import { tradingDataSourceOptions } from './data-source.js';

/** The migration Job's entry point: migrates the trading schema under the advisory lock, then exits. */
const config = loadConfigOrExit(tradingConfigSchema);
const outcome = await runMigrationsWithLock(tradingDataSourceOptions(config));
process.stdout.write(`${JSON.stringify({ service: 'trading', msg: 'migrations done', applied: outcome.applied })}\n`);
