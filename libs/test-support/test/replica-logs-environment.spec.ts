import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';

/**
 * The suite's Jest environment (scripts/lib/jest-environment.mjs) prints the output of the service
 * processes a test file started when one of its tests fails, and nothing when they pass: Jest run
 * on fixture files whose "service" is a small Node program started as a Replica.
 */

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const replicasModule = join(repoRoot, 'libs/test-support/dist/replicas.js');

/** A fixture test file: starts `service` as a replica, waits for both its lines, then asserts `outcome`. */
const fixture = (outcome: 'pass' | 'fail', service: string): string => `
import assert from 'node:assert/strict';
import { afterAll, it } from '@jest/globals';
import { Replica } from ${JSON.stringify(replicasModule)};

const replica = new Replica('fixture-service-0', 1, {
  entry: ${JSON.stringify(service)},
  env: {},
  name: 'fixture-service',
});
afterAll(() => replica.stop(2000));

it('checks something while a service runs', async () => {
  replica.start();
  // stdout and stderr are two pipes: each line may come first
  while (!(replica.logs().includes('ready') && replica.logs().includes('warning'))) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(${JSON.stringify(outcome)}, 'pass');
});
`;

interface JestRun {
  code: number;
  output: string;
}

function runJest(dir: string, file: string): Promise<JestRun> {
  const config = {
    rootDir: dir,
    testMatch: [`**/${file}`],
    testEnvironment: join(repoRoot, 'scripts/lib/jest-environment.mjs'),
    transform: {},
  };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        '--experimental-vm-modules',
        join(repoRoot, 'node_modules/jest/bin/jest.js'),
        '--ci',
        '--config',
        JSON.stringify(config),
      ],
      { cwd: dir, env: { ...process.env, FORCE_COLOR: '0' }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

describe('the suite Jest environment', () => {
  let dir: string;

  beforeAll(() => {
    // under the repository, so that the fixtures resolve @jest/globals from its node_modules
    dir = mkdtempSync(join(repoRoot, '.run', 'jest-environment-'));
    const service = join(dir, 'service.mjs');
    writeFileSync(
      service,
      `console.log('fixture service: ready'); console.error('fixture service: a warning on stderr'); setTimeout(() => {}, 60_000);\n`,
    );
    for (const outcome of ['pass', 'fail'] as const) {
      writeFileSync(join(dir, `${outcome}.fixture.mjs`), fixture(outcome, service));
    }
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the output of the service processes a failing test file started', async () => {
    const run = await runJest(dir, 'fail.fixture.mjs');
    assert.notEqual(run.code, 0, run.output);
    assert.match(
      run.output,
      /test "checks something while a service runs" failed: the output of the 1 service process/,
    );
    assert.match(run.output, /----- fixture-service-0 -----\n(.*\n)*fixture service: ready/);
    assert.match(run.output, /fixture service: a warning on stderr/);
  });

  it('prints nothing of them when the tests pass', async () => {
    const run = await runJest(dir, 'pass.fixture.mjs');
    assert.equal(run.code, 0, run.output);
    assert.doesNotMatch(run.output, /fixture service: ready|service process/);
  });
});
