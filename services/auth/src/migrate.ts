import 'reflect-metadata';
import { loadConfigOrExit, runMigrationsWithLock } from '@stocklab/platform';
import { authConfigSchema } from './config.js';
import { authDataSourceOptions } from './data-source.js';

/** The migration Job's entry point: migrates the auth schema under the advisory lock, then exits. */
const config = loadConfigOrExit(authConfigSchema);
const outcome = await runMigrationsWithLock(authDataSourceOptions(config));
process.stdout.write(`${JSON.stringify({ service: 'auth', msg: 'migrations done', applied: outcome.applied })}\n`);
