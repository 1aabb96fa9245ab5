import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { KiwoomAccountApi, KiwoomClient, KiwoomDouble, type Fault } from '@stocklab/kiwoom';
import { request } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import { AutoStrategiesService } from '../src/auto-strategies/auto-strategies.service.js';
import { kiwoomRequestOf, priceBand } from '../src/broker/kiwoom-orders.js';
import { FencingError, FencingService } from '../src/fencing/fencing.service.js';
import type { IntentRow as IntentRowOf } from '../src/jobs/order-book.js';
import { JobRunner } from '../src/jobs/job-runner.service.js';
import type { Occurrence } from '../src/scheduler/occurrence.js';
import { SchedulerService } from '../src/scheduler/scheduler.service.js';
import {
  assertOneOrderPerIntent,
  assertSettledWithoutDrift,
  fillTheDay,
  orderClockOn,
  seedLinkedStrategy,
  testKek,
  TODAY,
} from './kiwoom-support.js';
import { activateStrategy, CODES, startInProcessTrading, triggerRun, type InProcessTrading } from './support.js';

const TOMORROW = '2026-03-12';
const KEK = testKek();

/** Links the double's `account` as the user's mock-investment account; answers its id. */
async function linkAccount(
  cluster: InProcessTrading,
  user: string,
  account: { appKey: string; secretKey: string; accountNo: string },
): Promise<string> {
  const linked = await request('POST', `${cluster.service.url}/api/trading/broker-accounts`, {
    token: cluster.tokenFor(user),
    body: { broker: 'kiwoom-mock', ...account },
  });
  assert.equal(linked.status, 201, JSON.stringify(linked.body));
  return linked.body.id as string;
}

interface Order {
  code: string;
  kind: string;
  quantity: number;
  status: string;
  fillPrice: number | null;
  fillPriceSource: string | null;
  filledQuantity: number | null;
  brokerOrderId: string | null;
  attempts: number;
  commission: number | null;
}

interface IntentRow {
  id: string;
  status: string;
  broker_order_id: string | null;
  quantity: string;
  code: string;
}

/**
 * A user trading through a linked Kiwoom (mock-investment) account, in-process, against the
 * Kiwoom double: activation on the account, orders at 09:00 placed by order number, fills and a
 * partial fill booked from the broker's list at the day's end, the reconciliation, and a drift.
 */
describe('trading on a linked Kiwoom account (in-process, Kiwoom double)', () => {
  let double: KiwoomDouble;
  let cluster: InProcessTrading;
  let admin: string;
  const user = randomUUID();
  const account = { appKey: `APPKEY${randomUUID()}`, secretKey: `SECRET${randomUUID()}`, accountNo: '8123450001' };
  let brokerAccountId: string;
  let strategy: string;
  const api = (path: string): string => `${cluster.service.url}/api/trading${path}`;
  const ordersOf = async (id: string): Promise<Order[]> => {
    const res = await request<Order[]>('GET', api(`/auto-strategies/${id}/orders`), { token: cluster.tokenFor(user) });
    assert.equal(res.status, 200);
    return res.body.slice().sort((a, b) => a.code.localeCompare(b.code));
  };

  beforeAll(async () => {
    double = await KiwoomDouble.start();
    double.addAccount({ ...account, cash: 50_000_000 });
    double.now = orderClockOn(TODAY);
    cluster = await startInProcessTrading({
      env: { BROKER_CREDENTIALS_KEYS: KEK, KIWOOM_MOCK_HOST: double.url, KIWOOM_SETTLE_MS: '200' },
    });
    admin = cluster.tokenFor(randomUUID(), ['user', 'admin']);
    brokerAccountId = await linkAccount(cluster, user, account);
  });

  afterAll(async () => {
    await cluster?.close();
    await double?.close();
  });

  it("activates on the linked account within the broker's orderable cash; the paper account is not touched", async () => {
    const cluster2 = { backtest: cluster.backtest, trading: cluster.trading };
    const token = cluster.tokenFor(user);
    await assert.rejects(
      activateStrategy(cluster2, token, [...CODES], 60_000_000, 0, { brokerAccountId }),
      /409 .*INSUFFICIENT_BROKER_CASH/,
    );
    await assert.rejects(
      activateStrategy(cluster2, cluster.tokenFor(randomUUID()), [...CODES], 400_000, 0, { brokerAccountId }),
      /404 .*BROKER_ACCOUNT_NOT_FOUND/,
    );
    ({ id: strategy } = await activateStrategy(cluster2, token, [...CODES], 400_000, 0, { brokerAccountId }));
    const got = await request('GET', api(`/auto-strategies/${strategy}`), { token });
    assert.equal(got.body.brokerAccountId, brokerAccountId);
    const paper = await cluster.pool.query<{ cash: string }>(`SELECT cash FROM trading.accounts WHERE user_id = $1`, [
      user,
    ]);
    assert.equal(Number(paper.rows[0]?.cash), 100_000_000, 'the capital stays at the broker');
    const unlink = await request('DELETE', api(`/broker-accounts/${brokerAccountId}`), { token });
    assert.equal(unlink.status, 409);
    assert.equal(unlink.body.code, 'BROKER_ACCOUNT_IN_USE');
  });

  it('sends the 09:00 orders to the broker with their order numbers, none to the paper broker', async () => {
    const run = await triggerRun(cluster, admin, 'execute', TODAY);
    assert.equal(run.body.status, 'succeeded', JSON.stringify(run.body));
    const orders = await ordersOf(strategy);
    // 100,000 per stock at the 10,500 limit (signal close 10,000 + 5 %): 9 shares each
    assert.deepEqual(
      orders.map((o) => [o.code, o.kind, o.quantity, o.status, o.attempts]),
      CODES.map((code) => [code, 'limit_buy', 9, 'accepted', 1]),
    );
    const atBroker = double.ordersOf(account.appKey);
    assert.deepEqual(atBroker.map((o) => [o.code, o.side, o.type, o.price, o.quantity]).sort(), [
      ...CODES.map((code) => [code, 'buy', '0', 10_500, 9]),
    ]);
    assert.deepEqual(orders.map((o) => o.brokerOrderId).sort(), atBroker.map((o) => o.ordNo).sort());
    const paper = await cluster.pool.query(`SELECT 1 FROM trading.paper_orders`);
    assert.equal(paper.rowCount, 0);
  });

  it('books fills and a partial fill from the broker at 15:40, and the broker agrees', async () => {
    const day = TODAY.replaceAll('-', '');
    for (const code of CODES.slice(0, 3)) {
      double.trade(day, code, { open: 10_200, high: 10_400, low: 10_100, close: 10_300 });
    }
    // the last one: 4 of 9 shares before the close
    double.trade(day, CODES[3], { open: 10_300, high: 10_300, low: 10_300, close: 10_300 }, 0.5);
    double.closeDay(day);
    const run = await triggerRun(cluster, admin, 'reconcile', TODAY);
    assert.equal(run.body.status, 'succeeded', JSON.stringify(run.body));
    const orders = await ordersOf(strategy);
    assert.deepEqual(
      orders.map((o) => [o.code, o.status, o.filledQuantity, o.fillPrice, o.fillPriceSource, o.commission]),
      // the commission is the broker's (0.015 % at the double, truncated), not the strategy's model (0 here)
      [
        [CODES[0], 'filled', 9, 10_200, 'broker', 13],
        [CODES[1], 'filled', 9, 10_200, 'broker', 13],
        [CODES[2], 'filled', 9, 10_200, 'broker', 13],
        [CODES[3], 'filled', 4, 10_300, 'broker', 6],
      ],
    );
    const positions = await request<Array<{ code: string; quantity: number }>>(
      'GET',
      api(`/auto-strategies/${strategy}/positions`),
      { token: cluster.tokenFor(user) },
    );
    assert.deepEqual(
      positions.body.map((p) => [p.code, p.quantity]),
      [
        [CODES[0], 9],
        [CODES[1], 9],
        [CODES[2], 9],
        [CODES[3], 4],
      ],
    );
    const got = await request('GET', api(`/auto-strategies/${strategy}`), { token: cluster.tokenFor(user) });
    assert.equal(got.body.cash, 400_000 - 27 * 10_200 - 4 * 10_300 - (3 * 13 + 6));
    const checks = await request<Array<{ tradingDate: string; drifts: unknown[] }>>(
      'GET',
      api(`/broker-accounts/${brokerAccountId}/reconciliations`),
      { token: cluster.tokenFor(user) },
    );
    assert.equal(checks.status, 200);
    assert.deepEqual(
      checks.body.map((c) => [c.tradingDate, c.drifts]),
      [[TODAY, []]],
    );
    const other = await request('GET', api(`/broker-accounts/${brokerAccountId}/reconciliations`), {
      token: cluster.tokenFor(randomUUID()),
    });
    assert.equal(other.status, 404);
  });

  it('leaves an unanswered attempt with two look-alikes at the broker to a person: not resent, not booked', async () => {
    // two identical orders placed by the owner's own app, then an attempt of the platform's whose answer was lost
    const redis = new Redis(cluster.env.REDIS_URL ?? '', { keyPrefix: `own-app:${randomUUID()}:` });
    try {
      const own = new KiwoomAccountApi(new KiwoomClient({ host: double.url, ...account, redis }));
      double.now = orderClockOn(TOMORROW);
      for (let n = 0; n < 2; n += 1) {
        await own.placeOrder({ side: 'buy', code: CODES[1], quantity: 3, type: 'limit', price: 10_500 });
      }
    } finally {
      redis.disconnect();
    }
    const before = double.ordersOf(account.appKey).length;
    await cluster.pool.query(
      `INSERT INTO trading.order_intents (client_order_id, run_key, seq, auto_strategy_id, account_id, trading_date, code,
         side, kind, order_type, quantity, level, reference_price, reason, status, epoch, broker_account_id, attempt, attempt_sent_at)
       SELECT $1, 'execute:lost-answer', 1, s.id, s.account_id, $2, $3, 'buy', 'limit_buy', 'limit', 3, 10500, 10000,
              'rank', 'sending', 1, s.broker_account_id, 1, now() - interval '1 second'
         FROM trading.auto_strategies s WHERE s.id = $4`,
      [randomBytes(16).toString('hex'), TOMORROW, CODES[1], strategy],
    );
    const run = await triggerRun(cluster, admin, 'reconcile', TOMORROW);
    assert.equal(run.body.status, 'succeeded', JSON.stringify(run.body));
    const [review] = (await ordersOf(strategy)).filter((o) => o.status === 'needs_review');
    assert.ok(review, 'the attempt waits for a person');
    const reason = await cluster.pool.query<{ review_reason: string }>(
      `SELECT review_reason FROM trading.order_intents WHERE status = 'needs_review'`,
    );
    assert.match(reason.rows[0]?.review_reason ?? '', /^2 broker orders could be this one/);
    assert.equal(double.ordersOf(account.appKey).length, before, 'nothing sent again');
    const metrics = await request<string>('GET', `${cluster.service.url}/metrics`);
    assert.match(String(metrics.body), /trading_orders_total\{side="buy",status="needs_review"[^}]*\} 1\b/);

    // an operator looks at the account and adopts one of the two: it is booked like any order from then on
    const settle = (clientOrderId: string, body: Record<string, unknown>, token = admin) =>
      request('POST', api(`/orders/${clientOrderId}/review`), { token, body });
    const id = (
      await cluster.pool.query<{ client_order_id: string }>(
        `SELECT client_order_id FROM trading.order_intents WHERE status = 'needs_review'`,
      )
    ).rows[0]?.client_order_id;
    const [lookAlike] = double.ordersOf(account.appKey).slice(-2);
    assert.equal((await settle(id, { resolution: 'adopt', brokerOrderId: '1' }, cluster.tokenFor(user))).status, 403);
    const missing = await settle(id, { resolution: 'adopt' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.code, 'VALIDATION_FAILED');
    assert.equal((await settle('0'.repeat(32), { resolution: 'absent' })).status, 404);
    const adopted = await settle(id, { resolution: 'adopt', brokerOrderId: lookAlike?.ordNo });
    assert.equal(adopted.status, 201, JSON.stringify(adopted.body));
    assert.deepEqual(adopted.body, { clientOrderId: id, status: 'accepted' });
    const again = await settle(id, { resolution: 'absent' });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'NOT_IN_REVIEW');
  });

  it('reports a drift it did not cause (shares sold at the broker by hand), and changes nothing', async () => {
    // the owner sells at the broker with an app of their own: a new token, which invalidates the platform's
    const redis = new Redis(cluster.env.REDIS_URL ?? '', { keyPrefix: `own-app:${randomUUID()}:` });
    try {
      const own = new KiwoomAccountApi(new KiwoomClient({ host: double.url, ...account, redis }));
      double.now = orderClockOn(TOMORROW);
      await own.placeOrder({ side: 'sell', code: CODES[0], quantity: 5, type: 'market' });
    } finally {
      redis.disconnect();
    }
    double.trade(TOMORROW.replaceAll('-', ''), CODES[0], { open: 10_000, high: 10_000, low: 10_000, close: 10_000 });
    // the day-end run of that day already ran (above): an operator re-runs the comparison
    await cluster.pool.query(`DELETE FROM trading.job_runs WHERE job = 'reconcile' AND trading_date = $1`, [TOMORROW]);
    const run = await triggerRun(cluster, admin, 'reconcile', TOMORROW);
    assert.equal(run.body.status, 'succeeded', JSON.stringify(run.body));
    const checks = await request('GET', api(`/broker-accounts/${brokerAccountId}/reconciliations`), {
      token: cluster.tokenFor(user),
    });
    assert.deepEqual(checks.body[0].drifts, [{ item: CODES[0], platform: 9, broker: 4 }]);
    const held = await cluster.pool.query<{ quantity: string }>(
      `SELECT quantity FROM trading.positions WHERE auto_strategy_id = $1 AND code = $2`,
      [strategy, CODES[0]],
    );
    assert.equal(Number(held.rows[0]?.quantity), 9, 'reported, not fixed');
    const metrics = await request<string>('GET', `${cluster.service.url}/metrics`);
    assert.match(String(metrics.body), /trading_broker_drifts_total\{[^}]*\} 1\b/);
    assert.match(String(metrics.body), /trading_broker_accounts_drifting\{[^}]*\} 1\b/);
  });

  it('stops a linked strategy at once when its owner deletes the account, and erases the credentials', async () => {
    const closed = await cluster.service.app.get(AutoStrategiesService).closeAccount(user, 'liquidate');
    assert.deepEqual([closed.closed, closed.erasedBrokerAccounts], [true, 1]);
    const row = await cluster.pool.query<{ status: string; broker_account_id: string | null }>(
      `SELECT status, broker_account_id FROM trading.auto_strategies WHERE id = $1`,
      [strategy],
    );
    // never liquidated: the shares are the owner's, in the owner's own broker account
    assert.deepEqual(row.rows, [{ status: 'inactive', broker_account_id: null }]);
    const left = await cluster.pool.query(
      `SELECT 1 FROM trading.positions WHERE auto_strategy_id = $1
       UNION ALL SELECT 1 FROM trading.broker_accounts WHERE id = $2`,
      [strategy, brokerAccountId],
    );
    assert.equal(left.rowCount, 0);
  });
});

describe('the KRX order of an intent', () => {
  const intent = (kind: string, level: number | null): IntentRowOf =>
    ({
      id: 'i',
      kind,
      code: '005930',
      quantity: '7',
      level: level === null ? null : String(level),
      reference_price: '61000',
      trading_date: '2026-12-04',
    }) as never;

  it('puts prices on the tick grid the way that does not hurt, inside the ±30 % band of the signal close', () => {
    assert.deepEqual(priceBand(61_000, '2026-12-04'), { lower: 42_700, upper: 79_300 });
    assert.deepEqual(priceBand(10_000, '2026-12-04', 'KONEX'), { lower: 8_500, upper: 11_500 }, 'KONEX: ±15 %');
    assert.deepEqual(kiwoomRequestOf(intent('market_sell', null)), {
      side: 'sell',
      code: '005930',
      quantity: 7,
      type: 'market',
    });
    assert.equal(kiwoomRequestOf(intent('limit_buy', 64_050.5)).price, 64_000, 'a buy limit rounds down');
    assert.equal(kiwoomRequestOf(intent('target_sell', 67_110)).price, 67_200, 'a take-profit rounds up');
    assert.equal(kiwoomRequestOf(intent('limit_buy', 90_000)).price, 79_300, 'never over the upper limit');
    assert.deepEqual(kiwoomRequestOf(intent('stop_sell', 55_010)), {
      side: 'sell',
      code: '005930',
      quantity: 7,
      type: 'stop',
      stopPrice: 55_100,
      price: 42_700,
    });
    assert.throws(() => kiwoomRequestOf(intent('limit_buy', null)), /needs its level/);
  });
});

/**
 * The leader killed at random points of execute, against the Kiwoom double with lost answers and
 * timeouts injected: each iteration is a fresh strategy's day of orders; the run's first term
 * dies after a random number of fenced writes (it writes nothing more, as a killed process
 * would: anything it sent stays sent), then a successor with a newer epoch resumes the run.
 */
describe('exactly once at a broker without a client order id: leader killed at random points (Kiwoom double)', () => {
  const ITERATIONS = Number(process.env.CHAOS_ITERATIONS ?? 50);
  let double: KiwoomDouble;
  let cluster: InProcessTrading;
  const user = randomUUID();
  const account = { appKey: `APPKEY${randomUUID()}`, secretKey: `SECRET${randomUUID()}`, accountNo: '8123450002' };
  let brokerAccountId: string;

  beforeAll(async () => {
    double = await KiwoomDouble.start();
    double.addAccount({ ...account, cash: 500_000_000 });
    double.now = orderClockOn(TODAY);
    // every iteration's orders are of one day: a page holds one stock's day of them
    double.pageSize = 60;
    // an order shows in the day's list a while after the broker took it, within KIWOOM_SETTLE_MS
    double.listLagMs = 100;
    cluster = await startInProcessTrading({
      env: {
        BROKER_CREDENTIALS_KEYS: KEK,
        KIWOOM_MOCK_HOST: double.url,
        KIWOOM_SETTLE_MS: '150',
        KIWOOM_SEND_BUDGET_MS: '2000',
        KIWOOM_TIMEOUT_MS: '500',
      },
    });
    brokerAccountId = await linkAccount(cluster, user, account);
  });

  afterAll(async () => {
    await cluster?.close();
    await double?.close();
  });

  it(`${ITERATIONS} iterations: no duplicate order at the broker, every intent settled, no drift`, async () => {
    const app = cluster.service.app;
    const fencing = app.get(FencingService);
    const runner = app.get(JobRunner);
    // this test plays the leaders itself (a doomed term, then its successor, each with its own
    // epoch): the app's own scheduler leaves the election, else it would find its epoch superseded,
    // resign, win the lock again after its back-off and take a newer epoch in the middle of an iteration
    await app.get(SchedulerService).beforeApplicationShutdown();
    const original = fencing.transaction.bind(fencing);
    /** fenced writes the doomed term may still make; then it is dead */
    const doomed = { epoch: -1, budget: Number.POSITIVE_INFINITY };
    fencing.transaction = async (epoch: number, work: never, signal?: AbortSignal) => {
      if (epoch === doomed.epoch && doomed.budget-- <= 0) {
        throw new FencingError(epoch, epoch + 1);
      }
      return original(epoch, work, signal);
    };
    const started = Date.now();
    const faults: Fault[] = ['drop-after-accept', 'http-500-after-accept', 'delay', 'drop-before', 'http-500'];
    const tally = { intents: 0, killed: 0 };
    const codes = [...CODES.slice(0, 3)];
    try {
      for (let i = 0; i < ITERATIONS; i += 1) {
        const strategy = await seedLinkedStrategy(cluster.pool, user, brokerAccountId, codes, 5 + i);
        // the day's execute run of the last iteration is gone: this iteration's is a fresh one
        await cluster.pool.query(`DELETE FROM trading.job_runs WHERE job = 'execute'`);
        const fault = faults[i % faults.length];
        double.inject(fault, { apiId: 'kt10000', after: i % codes.length, delayMs: 800 });
        const occurrence: Occurrence = {
          job: 'execute',
          tradingDate: TODAY,
          scheduledAt: new Date(),
          // one run key per iteration: each is another day's run as far as the intents know
          runKey: `execute:${TODAY}T09:00+09:00#${i}`,
        };
        doomed.epoch = await fencing.takeEpoch(`doomed-${i}`);
        // claim, reconcile, plan: about 4 writes; each order 2-3 more: kills land everywhere
        doomed.budget = (i * 7) % 13;
        const first = await runner.run(occurrence, 'api', `doomed-${i}`, doomed.epoch);
        const successorEpoch = await fencing.takeEpoch(`successor-${i}`);
        const second = await runner.run(occurrence, 'catch-up', `successor-${i}`, successorEpoch);
        assert.equal(
          second.run.status,
          'succeeded',
          // the error first: a report that cuts long lines still shows why
          `iteration ${i}: ${second.run.error ?? 'no error'}; ${JSON.stringify(second.run)} after ${first.run.status}`,
        );
        const { rows } = await cluster.pool.query<IntentRow>(
          `SELECT id, status, broker_order_id, quantity, code FROM trading.order_intents WHERE auto_strategy_id = $1`,
          [strategy],
        );
        tally.intents += rows.length;
        assert.equal(rows.length, codes.length, `iteration ${i}`);
        for (const row of rows) {
          assert.ok(['accepted', 'needs_review', 'rejected'].includes(row.status), `iteration ${i}: ${row.status}`);
        }
        if (first.run.status === 'running') {
          tally.killed += 1;
        }
      }
    } finally {
      fencing.transaction = original;
    }
    // every order at the broker is bound to exactly one intent, and every accepted intent has one
    const found = await assertOneOrderPerIntent(cluster.pool, double, account.appKey, brokerAccountId, tally.intents);
    process.stdout.write(
      `kiwoom chaos: ${ITERATIONS} iterations, ${tally.intents} orders intended, ${found.atBroker} at the broker, ` +
        `${found.unbound} not bound to an intent, ${found.review} needs-review, ${tally.killed} runs killed mid-way, ` +
        `${Math.round((Date.now() - started) / 1000)} s\n`,
    );

    // the session: every order fills, the day ends, the reconciliation books it all and finds no drift
    fillTheDay(double, TODAY, codes);
    // by a term of its own (the in-process app's scheduler left the election above)
    const reconcile = await runner.run(
      { job: 'reconcile', tradingDate: TODAY, scheduledAt: new Date(), runKey: `reconcile:${TODAY}T15:40+09:00` },
      'api',
      'reconciler',
      await fencing.takeEpoch('reconciler'),
    );
    assert.equal(reconcile.run.status, 'succeeded', JSON.stringify(reconcile.run));
    await assertSettledWithoutDrift(cluster.pool, cluster.service.url, cluster.tokenFor(user), brokerAccountId);
    // a guard against a hang, not a speed target: ~100 s alone, its calls paced at 4 per second and
    // each run re-reading the day's growing order list; under the whole suite's load its file takes
    // 370-420 s, and with a second whole suite beside it (two fresh-clone runs at once by mistake,
    // load average 36) it passed 600 s still making progress
  }, 1_200_000);
});

/**
 * A run resumed soon after the write that would have stored the broker's answer died with its
 * PostgreSQL connection (a run left waiting and resumed by the next sweep): the broker took the
 * order late (accept-late) and lists an order only a while after taking it (listLagMs, within
 * KIWOOM_SETTLE_MS). The resumed run must look the order up only once the broker can list it,
 * which is KIWOOM_SETTLE_MS after the latest it can have taken it (sent + KIWOOM_TIMEOUT_MS), not
 * after it was sent: looked up earlier, it finds nothing and sends the order a second time.
 */
describe('a resumed run looks up an unanswered order once the broker can list it (Kiwoom double)', () => {
  let double: KiwoomDouble;
  let cluster: InProcessTrading;
  const user = randomUUID();
  const account = { appKey: `APPKEY${randomUUID()}`, secretKey: `SECRET${randomUUID()}`, accountNo: '8123450003' };
  let brokerAccountId: string;

  beforeAll(async () => {
    double = await KiwoomDouble.start();
    double.addAccount({ ...account, cash: 500_000_000 });
    double.now = orderClockOn(TODAY);
    double.listLagMs = 800;
    cluster = await startInProcessTrading({
      env: {
        BROKER_CREDENTIALS_KEYS: KEK,
        KIWOOM_MOCK_HOST: double.url,
        KIWOOM_SETTLE_MS: '1000',
        KIWOOM_SEND_BUDGET_MS: '2000',
        KIWOOM_TIMEOUT_MS: '2000',
      },
    });
    brokerAccountId = await linkAccount(cluster, user, account);
  });

  afterAll(async () => {
    await cluster?.close();
    await double?.close();
  });

  it('adopts the order the lost write never stored: one order at the broker', async () => {
    const app = cluster.service.app;
    const fencing = app.get(FencingService);
    const runner = app.get(JobRunner);
    // this test plays the leader (as the chaos test above does)
    await app.get(SchedulerService).beforeApplicationShutdown();
    const strategy = await seedLinkedStrategy(cluster.pool, user, brokerAccountId, [CODES[0]], 5);
    // taken 1.2 s after it was sent (within the 2 s timeout), answered then; listed 0.8 s later
    double.inject('accept-late', { apiId: 'kt10000', delayMs: 1200 });
    let placed = false;
    double.onOrderPlaced = () => {
      placed = true;
    };
    const original = fencing.transaction.bind(fencing);
    let killed = false;
    // the first fenced write after the broker took the order (the one storing its answer) loses its connection
    fencing.transaction = async (epoch: number, work: never, signal?: AbortSignal) => {
      if (!placed || killed) {
        return original(epoch, work, signal);
      }
      killed = true;
      return original(
        epoch,
        (async (m: { query: (sql: string) => Promise<unknown> }) => {
          await m.query('SELECT pg_terminate_backend(pg_backend_pid())');
        }) as never,
        signal,
      );
    };
    const occurrence: Occurrence = {
      job: 'execute',
      tradingDate: TODAY,
      scheduledAt: new Date(),
      runKey: `execute:${TODAY}T09:00+09:00#lag`,
    };
    try {
      const epoch = await fencing.takeEpoch('leader');
      const first = await runner.run(occurrence, 'api', 'leader', epoch);
      assert.ok(killed, 'the answer was never stored');
      assert.equal(first.run.status, 'waiting', JSON.stringify(first.run));
      // at once, as a sweep may: the same run resumed
      const second = await runner.run(occurrence, 'catch-up', 'leader', epoch, undefined, true);
      assert.equal(second.run.status, 'succeeded', JSON.stringify(second.run));
    } finally {
      fencing.transaction = original;
      double.onOrderPlaced = undefined;
    }
    const { rows } = await cluster.pool.query<IntentRow>(
      `SELECT id, status, broker_order_id, quantity, code FROM trading.order_intents WHERE auto_strategy_id = $1`,
      [strategy],
    );
    assert.deepEqual(
      rows.map((r) => [r.code, r.status]),
      [[CODES[0], 'accepted']],
    );
    await assertOneOrderPerIntent(cluster.pool, double, account.appKey, brokerAccountId, 1);
  });
});
