import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { KiwoomDouble } from '@stocklab/kiwoom';
import { request } from '@stocklab/test-support';
import { CODES, currentLeader, startTradingCluster, triggerRun, waitFor, type TradingCluster } from './support.js';
import {
  assertOneOrderPerIntent,
  assertSettledWithoutDrift,
  fillTheDay,
  orderClockOn,
  seedLinkedStrategy,
  testKek,
  TODAY,
} from './kiwoom-support.js';

const KEK = testKek();

/**
 * Three trading replicas (real processes) on one linked Kiwoom account at the double: the leader
 * running execute is SIGKILLed, either the moment the broker accepts one of its orders (the answer
 * never reaches it) or at a random instant of the run; the next leader resumes the run. The
 * replicas share one token and one rate limit through Redis.
 */
describe('three replicas on a linked Kiwoom account: the leader SIGKILLed mid-execute', () => {
  const ITERATIONS = 8;
  let double: KiwoomDouble;
  let cluster: TradingCluster;
  const user = randomUUID();
  const account = { appKey: `APPKEY${randomUUID()}`, secretKey: `SECRET${randomUUID()}`, accountNo: '8123450003' };
  const codes = [...CODES.slice(0, 3)];
  let brokerAccountId: string;

  beforeAll(async () => {
    double = await KiwoomDouble.start();
    double.addAccount({ ...account, cash: 500_000_000 });
    double.now = orderClockOn(TODAY);
    double.pageSize = 60;
    // an order shows in the day's list a while after the broker took it, within KIWOOM_SETTLE_MS
    double.listLagMs = 200;
    cluster = await startTradingCluster({
      replicas: 3,
      backend: 'postgres',
      env: {
        BROKER_CREDENTIALS_KEYS: KEK,
        KIWOOM_MOCK_HOST: double.url,
        KIWOOM_SETTLE_MS: '300',
        KIWOOM_SEND_BUDGET_MS: '2000',
      },
    });
    const linked = await request('POST', `${cluster.trading.at(0).url}/api/trading/broker-accounts`, {
      token: cluster.tokenFor(user),
      body: { broker: 'kiwoom-mock', ...account },
    });
    assert.equal(linked.status, 201, JSON.stringify(linked.body));
    brokerAccountId = linked.body.id as string;
  });

  afterAll(async () => {
    await cluster?.close();
    await double?.close();
  });

  it(`${ITERATIONS} kills: one order per intent at the broker, one token, the rate limit kept, no drift`, async () => {
    const admin = cluster.tokenFor(randomUUID(), ['user', 'admin']);
    let intended = 0;
    for (let i = 0; i < ITERATIONS; i += 1) {
      const shares = 5 + i;
      const strategy = await seedLinkedStrategy(cluster.pool, user, brokerAccountId, codes, shares);
      intended += codes.length;
      // the day's execute run of the last iteration is gone (its intents kept under a run key of their
      // own, as another day's run would have): this iteration's is a fresh one
      await cluster.pool.query(`DELETE FROM trading.job_runs WHERE job = 'execute'`);
      await cluster.pool.query(
        `UPDATE trading.order_intents SET run_key = run_key || '#' || $1 WHERE run_key NOT LIKE '%#%'`,
        [String(i)],
      );
      const leader = await waitFor('the leader', () => currentLeader(cluster.trading, admin), 30_000, 50);
      const index = cluster.trading.replicas.indexOf(leader.replica);
      if (i % 2 === 0) {
        // killed the moment the broker accepts its k-th order: the order stands, its number is never stored
        const k = 1 + ((i / 2) % codes.length);
        let seen = 0;
        double.inject('drop-after-accept', { apiId: 'kt10000', after: k - 1 });
        double.onOrderPlaced = () => {
          seen += 1;
          if (seen === k) {
            leader.replica.signal('SIGKILL');
          }
        };
      } else {
        double.onOrderPlaced = undefined;
        void sleep(50 + ((i * 137) % 500)).then(() => leader.replica.signal('SIGKILL'));
      }
      // the answer dies with the leader; the run is resumed by the next one
      void triggerRun(cluster, admin, 'execute', TODAY, index).catch(() => undefined);
      await leader.replica.exited();
      const next = await waitFor(
        'the next leader',
        () => currentLeader(cluster.trading, admin, leader.replica),
        30_000,
        50,
      );
      const claimed = await cluster.pool.query(`SELECT 1 FROM trading.job_runs WHERE job = 'execute'`);
      if (claimed.rowCount === 0) {
        // killed before it claimed the run: the caller (an operator, a CronJob) asks again
        await triggerRun(cluster, admin, 'execute', TODAY, cluster.trading.replicas.indexOf(next.replica));
      }
      await waitFor(
        `iteration ${i}: the execute run resumed and finished by another replica`,
        async () => {
          const { rows } = await cluster.pool.query<{ status: string; runner: string }>(
            `SELECT status, runner FROM trading.job_runs WHERE job = 'execute'`,
          );
          const run = rows[0];
          if (run?.status === 'failed') {
            throw new Error(`iteration ${i}: the run failed: ${JSON.stringify(run)}`);
          }
          // finished before the kill landed, or resumed by the next leader
          return run?.status === 'succeeded' ? true : undefined;
        },
        60_000,
        100,
      ).catch(async (error: unknown) => {
        const runs = await cluster.pool.query(`SELECT status, runner, epoch, trigger, error FROM trading.job_runs`);
        const epochs = await cluster.pool.query(`SELECT * FROM trading.leader_epochs`);
        throw new Error(
          `${String(error)}\nruns ${JSON.stringify(runs.rows)}\nepochs ${JSON.stringify(epochs.rows)}\n` +
            cluster.trading.replicas.map((r) => `--- ${r.name}\n${r.logs().slice(-3000)}`).join('\n'),
        );
      });
      double.onOrderPlaced = undefined;
      await leader.replica.restart();
      const { rows } = await cluster.pool.query<{ status: string }>(
        `SELECT status FROM trading.order_intents WHERE auto_strategy_id = $1`,
        [strategy],
      );
      assert.deepEqual(
        rows.map((r) => r.status).filter((s) => !['accepted', 'needs_review'].includes(s)),
        [],
        `iteration ${i}`,
      );
    }
    const found = await assertOneOrderPerIntent(cluster.pool, double, account.appKey, brokerAccountId, intended);
    const busiest = {
      order: double.busiestSecond(account.appKey, 'order'),
      query: double.busiestSecond(account.appKey, 'query'),
    };
    process.stdout.write(
      `kiwoom failover: ${ITERATIONS} leaders SIGKILLed, ${intended} orders intended, ${found.atBroker} at the broker, ` +
        `${found.unbound} not bound to an intent, ${found.review} needs-review, ${double.issuances(account.appKey)} token(s) issued, ` +
        `busiest second ${busiest.order} orders / ${busiest.query} queries\n`,
    );
    assert.equal(double.issuances(account.appKey), 1, 'one token for every replica, never re-issued');
    assert.ok(busiest.order <= 5 && busiest.query <= 5, JSON.stringify(busiest));

    fillTheDay(double, TODAY, codes);
    const leader = await waitFor('the leader', () => currentLeader(cluster.trading, admin), 30_000, 50);
    const reconcile = await triggerRun(
      cluster,
      admin,
      'reconcile',
      TODAY,
      cluster.trading.replicas.indexOf(leader.replica),
    );
    assert.equal(reconcile.body.status, 'succeeded', JSON.stringify(reconcile.body));
    await assertSettledWithoutDrift(cluster.pool, cluster.trading.at(0).url, cluster.tokenFor(user), brokerAccountId);
    // a guard against a hang: 215-255 s under the suite's load, 575 s with a second suite beside it
  }, 1_200_000);
});
