import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@stocklab/platform';
import { backtestConfigSchema } from './config.js';
import { backtestServiceOptions } from './service-options.js';

/**
 * The worker entry point: same build and image as the API, no API routes, only job processing
 * plus /health/* and /metrics for its probes and autoscaling.
 */
const config = loadConfigOrExit(backtestConfigSchema);
await runService(backtestServiceOptions(config, 'worker'));
