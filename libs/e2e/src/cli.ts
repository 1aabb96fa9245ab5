import { formatTable, runScenarios, startScenarioPlatform } from './scenarios.js';

/**
 * node libs/e2e/dist/cli.js [--verbose]
 *
 * Starts the whole platform (throwaway database, own Redis key prefix, own object store, free
 * gateway port), runs the five scenarios, prints the table, stops everything. Exit code 1 when
 * a scenario failed.
 */

const verbose = process.argv.includes('--verbose');
const say = (line: string): void => {
  process.stderr.write(`[e2e] ${line}\n`);
};

async function main(): Promise<number> {
  say('starting the platform (auth x2, backtest x2 + worker, trading x3, gateway)');
  const platform = await startScenarioPlatform(verbose ? say : undefined);
  try {
    say(`gateway ${platform.gateway}; running the scenarios (the scheduler waits for its crons)`);
    const rows = await runScenarios(platform);
    process.stdout.write(`${formatTable(rows)}\n`);
    return rows.every((r) => r.result === 'PASS') ? 0 : 1;
  } finally {
    say('stopping the platform');
    await platform.stop();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  say(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
}
process.exit(process.exitCode);
