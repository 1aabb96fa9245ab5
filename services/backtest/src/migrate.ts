import 'reflect-metadata';
import { loadConfigOrExit, runMigrationsWithLock } from '@stocklab/platform';
import { backtestConfigSchema } from './config.js';
import { backtestDataSourceOptions } from './data-source.js';

/** The migration Job's entry point: migrates the backtest and market schemas under the advisory lock. */
const config = loadConfigOrExit(backtestConfigSchema);
const outcome = await runMigrationsWithLock(backtestDataSourceOptions(config, 'migrate'));
process.stdout.write(`${JSON.stringify({ service: 'backtest', msg: 'migrations done', applied: outcome.applied })}\n`);
