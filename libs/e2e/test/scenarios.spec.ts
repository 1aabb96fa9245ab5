import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { waitFor } from '@stocklab/test-support';
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
