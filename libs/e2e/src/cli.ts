import { parseArgs } from 'node:util';
import { formatLeaderChaosSummary, LEADER_CHAOS_SEED, leaderChaosViolations, runLeaderChaos } from './leader-chaos.js';
import { formatTable, runScenarios, startScenarioPlatform } from './scenarios.js';

/**
 * node libs/e2e/dist/cli.js [scenarios] [--verbose]
 *   Starts the whole platform (throwaway database, own Redis key prefix, own object store, free
 *   gateway port), runs the five scenarios, prints the table, stops everything. Exit code 1 when
 *   a scenario failed.
 *
 * node libs/e2e/dist/cli.js leader-chaos [--iterations N] [--seed S] [--verbose]
 *   Starts trading x3 and SIGKILLs its leader during execute once per trading day, N times
 *   (default 100); prints a line per iteration and a summary table. Exit code 1 when an invariant
 *   broke (an extra order, a client order id twice at the broker, a run left unfinished, ...).
 *
 * Progress goes to stderr, the tables to stdout.
 */

const say = (line: string): void => {
  process.stderr.write(`[e2e] ${line}\n`);
};

async function scenarios(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { verbose: { type: 'boolean', default: false } } });
  say('starting the platform (auth x2, backtest x2 + worker, trading x3, gateway)');
  const platform = await startScenarioPlatform(values.verbose ? say : undefined);
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

/** A whole number of at least `min`, or an error naming the option. */
function wholeNumber(option: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new Error(`--${option} must be a whole number >= ${min}, not ${value}`);
  }
  return n;
}

async function leaderChaos(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      iterations: { type: 'string', default: '100' },
      seed: { type: 'string', default: String(LEADER_CHAOS_SEED) },
      verbose: { type: 'boolean', default: false },
    },
  });
  const report = await runLeaderChaos({
    iterations: wholeNumber('iterations', values.iterations, 1),
    seed: wholeNumber('seed', values.seed, 0),
    log: say,
  });
  if (values.verbose) {
    for (const pair of report.overOrdered) {
      say(`over-ordered: ${pair.strategyId} on ${pair.day}: ${pair.atBroker} orders for ${pair.intended} intended`);
    }
    for (const id of report.duplicateClientOrderIds) {
      say(`client order id ${id.clientOrderId} reached the broker ${id.requests} times`);
    }
  }
  process.stdout.write(`${formatLeaderChaosSummary(report)}\n`);
  return leaderChaosViolations(report).length === 0 ? 0 : 1;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  scenarios,
  'leader-chaos': leaderChaos,
};

async function main(argv: string[]): Promise<number> {
  // no command (or only options) keeps the original behaviour: the scenarios
  const [first, ...rest] = argv;
  const named = first !== undefined && !first.startsWith('-');
  const command = named ? COMMANDS[first] : scenarios;
  if (!command) {
    throw new Error(`unknown command ${first}; commands: ${Object.keys(COMMANDS).join(', ')}`);
  }
  return command(named ? rest : argv);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  say(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
}
process.exit(process.exitCode);
