import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { describePlatform, findRepoRoot, startPlatform } from './launcher.js';
import { provision } from './provision.js';

/**
 * node libs/local-platform/dist/cli.js start
 * node libs/local-platform/dist/cli.js exec -- <command> [args...]
 */

const say = (line: string): void => {
  process.stdout.write(`[local] ${line}\n`);
};
const complain = (line: string): void => {
  process.stderr.write(`[local] ${line}\n`);
};

const USAGE = 'usage: cli.js start | cli.js exec -- <command> [args...]';

async function start(): Promise<number> {
  // Signals are taken from the first moment: one that arrives during start-up stops the platform
  // as soon as it is up instead of killing the launcher and orphaning replicas.
  let early: NodeJS.Signals | undefined;
  let onSignal = (signal: NodeJS.Signals): void => {
    early = signal;
    say(`${signal} received during start-up: stopping as soon as everything is up`);
  };
  const handler = (signal: NodeJS.Signals): void => onSignal(signal);
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);

  const platform = await startPlatform({ log: say });
  if (early === undefined) {
    for (const line of describePlatform(platform)) {
      say(line);
    }
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = (signal) => {
      if (stopping) {
        say(`${signal} again: already stopping, replicas get SIGKILL after their grace period`);
        return;
      }
      stopping = true;
      say(`${signal} received, shutting down`);
      platform.stop(10000).then(
        () => {
          say('stopped');
          resolve(0);
        },
        (error: unknown) => {
          complain(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
          resolve(1);
        },
      );
    };
    if (early !== undefined) {
      onSignal(early);
    }
  });
}

async function exec(args: string[]): Promise<number> {
  const [command, ...rest] = args[0] === '--' ? args.slice(1) : args;
  if (command === undefined) {
    complain(USAGE);
    return 64;
  }
  const provisioned = await provision({ repoRoot: findRepoRoot(), log: complain });
  try {
    const env = {
      ...process.env,
      DATABASE_URL: provisioned.databaseAdminUrl,
      TEST_DATABASE_URL: provisioned.databaseAdminUrl,
      REDIS_URL: provisioned.redisUrl,
      TEST_REDIS_URL: provisioned.redisUrl,
    };
    const child = spawn(command, rest, { env, stdio: 'inherit' });
    // Ctrl-C reaches the command through the terminal's process group; a SIGTERM sent to us alone
    // is handed on. Either way we wait for the command to finish and then clean up.
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    const ignore = (): void => undefined;
    process.on('SIGTERM', forward);
    process.on('SIGINT', ignore);
    try {
      return await new Promise<number>((resolve) => {
        child.once('error', (error) => {
          complain(`could not run ${command}: ${error.message}`);
          resolve(127);
        });
        child.once('exit', (code, signal) => {
          resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
        });
      });
    } finally {
      process.off('SIGTERM', forward);
      process.off('SIGINT', ignore);
    }
  } finally {
    await provisioned.stop();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'start':
      return start();
    case 'exec':
      return exec(args);
    default:
      complain(USAGE);
      return 64;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // ProvisionError messages are the one line that says what to install; others are short too.
  complain(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
// Anything left open (keep-alive sockets, timers) must not keep a finished command alive.
process.exit(process.exitCode);
