import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  describeKill,
  LEADER_CHAOS_SEED,
  ORDERS_PER_DAY,
  runLeaderChaos,
  SHARES_PER_ORDER,
} from '../src/leader-chaos.js';

/**
 * The scheduler leader SIGKILLed at seeded random moments of `execute`, 20 times, each time on a
 * new trading day of the crafted market (see leader-chaos.ts; the CLI's `leader-chaos` runs more).
 */

const ITERATIONS = 20;

describe('the trading leader SIGKILLed at random moments of execute', () => {
  it(`${ITERATIONS} kills: no extra order, no client order id twice at the broker, no run left unfinished`, async () => {
    const progress: string[] = [];
    const report = await runLeaderChaos({
      iterations: ITERATIONS,
      seed: LEADER_CHAOS_SEED,
      log: (line) => progress.push(line),
    });
    if (report.failure !== undefined) {
      assert.fail(`${report.failure}\n${progress.join('\n')}`);
    }

    // orders per (strategy, day): exactly the intended one, never more
    assert.deepEqual(
      report.ordersPerStrategyDay,
      new Map(report.intended.map(({ strategyId, day }) => [`${strategyId}@${day}`, 1])),
      'one order per strategy, on its day only',
    );
    assert.equal(report.ordersAtBroker, ITERATIONS * ORDERS_PER_DAY, 'no order the intents do not account for');

    assert.deepEqual(report.duplicateClientOrderIds, [], 'no client order id reached the broker twice');

    assert.deepEqual(
      new Map(report.positions.map((r) => [r.strategyId, `${r.code} x ${r.quantity}`])),
      new Map(report.intended.map(({ strategyId, code }) => [strategyId, `${code} x ${SHARES_PER_ORDER}`])),
      `every strategy holds exactly its ${SHARES_PER_ORDER} shares`,
    );

    assert.deepEqual(
      report.runs.map((r) => [r.job, r.status, r.count]),
      [
        ['execute', 'succeeded', ITERATIONS],
        ['select', 'succeeded', ITERATIONS],
      ],
      'every run finished, none left running or failed',
    );
    process.stdout.write(
      `${report.killsMidRun}/${ITERATIONS} kills landed while execute was running (seed ${report.seed})\n`,
    );
    // the kills really landed inside execute (not after it) in most iterations
    assert.ok(
      report.killsMidRun >= ITERATIONS / 2,
      `only ${report.killsMidRun} kills landed mid-run:\n${report.kills.map(describeKill).join('\n')}`,
    );
    assert.deepEqual(report.replicasDown, [], 'every replica is back');
  });
});
