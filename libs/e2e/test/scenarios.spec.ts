import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { findRepoRoot } from '@stocklab/local-platform';
import { waitFor } from '@stocklab/test-support';
import { tradingCronJobScripts } from '../src/cronjob-scripts.js';
import { createServiceAccount } from '../src/harness.js';
import {
  deletedAccountStopsTrading,
  formatTable,
  runScenarios,
  SCENARIOS,
  startScenarioPlatform,
  type ScenarioPlatform,
  type ScenarioRow,
} from '../src/scenarios.js';

describe('the five scale-out problems, proved on one running platform', () => {
  let platform: ScenarioPlatform | undefined;
  let rows: ScenarioRow[] = [];

  beforeAll(async () => {
    platform = await startScenarioPlatform();
    rows = await runScenarios(platform);
    process.stdout.write(`${formatTable(rows)}\n`);
  });

  afterAll(async () => {
    await platform?.stop();
  });

  for (const scenario of SCENARIOS) {
    it(scenario, () => {
      const row = rows.find((r) => r.scenario === scenario);
      assert.ok(row, `${scenario} did not run`);
      assert.equal(row.result, 'PASS', row.error);
    });
  }

  it('a deleted account stops trading: DELETE /me reaches trading through the event stream', async () => {
    assert.ok(platform);
    process.stdout.write(`${await deletedAccountStopsTrading(platform)}\n`);
  });

  it("the trading CronJobs' scripts, as the manifest has them, run with a trading-jobs account alone and log out", async () => {
    assert.ok(platform);
    const { gateway, pool } = platform;
    const password = 'correct horse battery staple';
    const account = async (roles: string[]): Promise<string> => {
      const email = `cronjob-${randomUUID().slice(0, 8)}@example.com`;
      await createServiceAccount({ gateway, pool }, { email, password, roles });
      return email;
    };
    const sessions = async (email: string) =>
      (
        await pool.query<{ issued: number; open: number }>(
          `SELECT count(*)::int AS issued, count(*) FILTER (WHERE r.revoked_at IS NULL)::int AS open
             FROM auth.refresh_tokens r JOIN auth.users u ON u.id = r.user_id WHERE u.email = $1`,
          [email],
        )
      ).rows[0];
    const run = (script: string, email: string) =>
      promisify(execFile)('sh', ['-ec', script], {
        env: { ...process.env, ADMIN_EMAIL: email, ADMIN_PASSWORD: password },
      });
    const email = await account(['trading-jobs']);
    const scripts = tradingCronJobScripts(findRepoRoot(), gateway);
    assert.deepEqual(
      scripts.map((s) => s.name),
      ['trading-select', 'trading-execute'],
    );
    for (const { name, script } of scripts) {
      const { stdout } = await run(script, email);
      const answer = JSON.parse(stdout) as { job: string; status: string };
      assert.equal(answer.job, name.replace('trading-', ''), stdout);
    }
    // each run's session ended with it: every refresh token the logins issued is revoked
    assert.deepEqual(await sessions(email), { issued: 2, open: 0 });

    // an account without the role: the trigger's 403 fails the Job (curl's exit code 22), and the
    // session it opened is closed all the same
    const plain = await account([]);
    const refused = await run((scripts[0] as { script: string }).script, plain).then(
      () => undefined,
      (error: { code?: number }) => error,
    );
    assert.equal(refused?.code, 22);
    assert.deepEqual(await sessions(plain), { issued: 1, open: 0 });
  });

  it('every replica is still running and ready afterwards', async () => {
    assert.ok(platform);
    for (const { replicas } of platform.platform.services) {
      for (const replica of replicas.replicas) {
        assert.ok(replica.running, `${replica.name} is running`);
        // readiness is live: on a starved machine a check can miss a beat, so wait for it (bounded)
        await waitFor(
          `${replica.name} to be ready`,
          async () =>
            (await fetch(`${replica.url}/health/ready`, { signal: AbortSignal.timeout(5000) })).status === 200
              ? true
              : undefined,
          15_000,
          250,
        );
      }
    }
  });
});
