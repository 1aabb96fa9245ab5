import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { assertErrorBody } from '@stocklab/test-support';
import { FencingService } from '../src/fencing/fencing.service.js';
import { TRADING_JOBS_ROLE } from '../src/jobs/jobs.controller.js';
import { SchedulerService } from '../src/scheduler/scheduler.service.js';
import {
  AS_OF,
  activateStrategy,
  startInProcessTrading,
  triggerRun,
  waitFor,
  type InProcessTrading,
} from './support.js';

/**
 * Every route of the trading API, in-process (supertest against the application built from a
 * TestingModule, sole scheduler leader through the PostgreSQL elector), on a real PostgreSQL and
 * Redis with one backtest replica for the strategies. The rules of the runs are in
 * trading-rules.spec; what needs several replicas in acceptance/failover/postgres-backend.spec.
 */
describe('trading API (in-process)', () => {
  let trading: InProcessTrading;
  let owner: string;
  let ownerToken: string;
  let adminToken: string;
  let strategy: { id: string; strategyId: string };

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const http = () => trading.service.http();

  beforeAll(async () => {
    trading = await startInProcessTrading();
    owner = randomUUID();
    ownerToken = trading.tokenFor(owner);
    adminToken = trading.tokenFor(randomUUID(), ['user', 'admin']);
    strategy = await activateStrategy(trading, ownerToken, ['000010', '000020'], 1_000_000);
  });
  afterAll(() => trading.close());

  describe('auto strategies', () => {
    it('lists one’s own strategies and shows one with its rules snapshot', async () => {
      const list = await http().get('/api/trading/auto-strategies').set(bearer(ownerToken)).expect(200);
      assert.deepEqual(
        (list.body as Array<{ id: string }>).map((s) => s.id),
        [strategy.id],
      );
      const one = await http().get(`/api/trading/auto-strategies/${strategy.id}`).set(bearer(ownerToken)).expect(200);
      assert.equal(one.body.status, 'active');
      assert.equal(one.body.sourceStrategyId, strategy.strategyId);
      assert.equal(one.body.allocatedCapital, 1_000_000);
      assert.equal(one.body.rules.maxPositions, 2);
    });

    it('renames (trimmed), refuses an empty name, and hides it from everyone else', async () => {
      const renamed = await http()
        .patch(`/api/trading/auto-strategies/${strategy.id}`)
        .set(bearer(ownerToken))
        .send({ name: '  two stocks  ' })
        .expect(200);
      assert.equal(renamed.body.name, 'two stocks');
      const empty = await http()
        .patch(`/api/trading/auto-strategies/${strategy.id}`)
        .set(bearer(ownerToken))
        .send({ name: '' });
      assert.equal(empty.status, 400);
      assertErrorBody(empty.body);
      const stranger = trading.tokenFor(randomUUID());
      for (const path of ['', '/positions', '/orders', '/logs', '/performance']) {
        const res = await http().get(`/api/trading/auto-strategies/${strategy.id}${path}`).set(bearer(stranger));
        assert.equal(res.status, 404, path);
        assertErrorBody(res.body);
      }
    });

    it('shows the positions, orders, logs and performance a trading day leaves', async () => {
      assert.equal((await triggerRun(trading, adminToken, 'select', AS_OF)).status, 201);
      const executed = await triggerRun(trading, adminToken, 'execute', AS_OF);
      assert.equal(executed.status, 201, JSON.stringify(executed.body));
      assert.equal(executed.body.status, 'succeeded');
      const base = `/api/trading/auto-strategies/${strategy.id}`;
      const positions = await http().get(`${base}/positions`).set(bearer(ownerToken)).expect(200);
      assert.deepEqual(
        (positions.body as Array<{ code: string; quantity: number }>).map((p) => [p.code, p.quantity]),
        // 500,000 KRW each at a limit of 10,500 (the close + 5 %)
        [
          ['000010', 47],
          ['000020', 47],
        ],
      );
      const orders = await http().get(`${base}/orders?limit=10`).set(bearer(ownerToken)).expect(200);
      assert.deepEqual(
        (orders.body as Array<{ status: string; side: string; kind: string; fillPrice: number }>)
          .map((o) => [o.side, o.kind, o.status, o.fillPrice])
          .sort(),
        [
          ['buy', 'limit_buy', 'filled', 10_000],
          ['buy', 'limit_buy', 'filled', 10_000],
        ],
      );
      const logs = await http().get(`${base}/logs?limit=50`).set(bearer(ownerToken)).expect(200);
      assert.ok((logs.body as unknown[]).length > 0);
      const performance = await http().get(`${base}/performance`).set(bearer(ownerToken)).expect(200);
      assert.ok(Array.isArray(performance.body));
      const badLimit = await http().get(`${base}/orders?limit=0`).set(bearer(ownerToken));
      assert.equal(badLimit.status, 400);
      assertErrorBody(badLimit.body);
    });

    it('deactivates once (201), then answers 409 ALREADY_INACTIVE; a bad mode is a 400', async () => {
      const other = await activateStrategy(trading, ownerToken, ['000030'], 100_000);
      const bad = await http()
        .post(`/api/trading/auto-strategies/${other.id}/deactivate`)
        .set(bearer(ownerToken))
        .send({ mode: 'later' });
      assert.equal(bad.status, 400);
      const off = await http()
        .post(`/api/trading/auto-strategies/${other.id}/deactivate`)
        .set(bearer(ownerToken))
        .send({ mode: 'immediate' })
        .expect(201);
      assert.equal(off.body.status, 'inactive');
      const again = await http()
        .post(`/api/trading/auto-strategies/${other.id}/deactivate`)
        .set(bearer(ownerToken))
        .send({ mode: 'immediate' });
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'ALREADY_INACTIVE');
    });

    it('refuses a malformed id with 400 and a missing token with 401', async () => {
      const badId = await http().get('/api/trading/auto-strategies/not-a-uuid').set(bearer(ownerToken));
      assert.equal(badId.status, 400);
      assertErrorBody(badId.body);
      const anonymous = await http().get('/api/trading/auto-strategies');
      assert.equal(anonymous.status, 401);
      assertErrorBody(anonymous.body);
    });
  });

  describe('portfolio and scheduler', () => {
    it('answers the account: cash, strategies’ cash and positions valued at the last close', async () => {
      const res = await http().get('/api/trading/portfolio').set(bearer(ownerToken)).expect(200);
      assert.equal(res.body.asOf, AS_OF);
      assert.equal(res.body.totalValue, res.body.cash + res.body.marketValue);
      assert.ok((res.body.positions as unknown[]).length >= 2);
    });

    it('reports this process as the leader with its epoch and the next occurrences', async () => {
      const status = await waitFor(
        'the in-process scheduler to lead',
        async () => {
          const res = await http().get('/api/trading/scheduler').set(bearer(adminToken));
          return res.body.role === 'leader' ? (res.body as Record<string, unknown>) : undefined;
        },
        15_000,
      );
      assert.equal(status.backend, 'postgres');
      assert.equal(status.ownEpoch, status.epoch);
      assert.equal(status.tradingDate, AS_OF);
      assert.ok((status.nextOccurrences as unknown[]).length >= 1);
      // the leader's identity and the jobs' details are the operators' business
      const user = await http().get('/api/trading/scheduler').set(bearer(ownerToken));
      assert.equal(user.status, 403);
      assertErrorBody(user.body);
    });

    it('never shows a term begun while it reads the epoch beside the epoch before it', async () => {
      const scheduler = trading.service.app.get(SchedulerService);
      const fencing = trading.service.app.get(FencingService);
      // white-box: the term a real election begins (startedLeading: an epoch taken, then the term
      // set) made to begin exactly while the status reads the current epoch
      const internals = scheduler as unknown as { term: { epoch: number; signal: AbortSignal } | undefined };
      const term = internals.term;
      assert.ok(term, 'the in-process scheduler leads');
      const original = fencing.current.bind(fencing);
      // one term begun, as an election begins one: the first read through the wrapper (the
      // status's, unless the catch-up sweep's own check came first) begins it; a second, beside
      // it, would take a newer epoch still and leave the scheduler with the older one
      let begun = false;
      fencing.current = async (...args: Parameters<FencingService['current']>) => {
        const read = await original(...args);
        if (!begun) {
          begun = true;
          internals.term = { epoch: await fencing.takeEpoch(scheduler.identity), signal: term.signal };
        }
        return read;
      };
      try {
        const res = await http().get('/api/trading/scheduler').set(bearer(adminToken)).expect(200);
        // the term as it was when the status began (newer if the catch-up sweep's own epoch check,
        // every 2 s here, went through the wrapper first): never newer than the epoch shown
        const { role, ownEpoch, epoch } = res.body as { role: string; ownEpoch: number; epoch: number };
        assert.equal(role, 'leader');
        assert.ok(ownEpoch >= term.epoch && ownEpoch <= epoch, JSON.stringify({ ownEpoch, epoch }));
      } finally {
        fencing.current = original;
      }
      // the new term stays (its epoch is the current one): the scheduler leads on with it
      const after = await http().get('/api/trading/scheduler').set(bearer(adminToken)).expect(200);
      assert.equal(after.body.ownEpoch, after.body.epoch);
      assert.ok(after.body.epoch > term.epoch);
    });

    it('lets only admins and the trading-jobs role trigger a run, of a known job, on a well-formed date', async () => {
      const forbidden = await http().post('/api/trading/jobs/select/runs').set(bearer(ownerToken)).send({});
      assert.equal(forbidden.status, 403);
      // a CronJob's account: the trading-jobs role alone triggers runs, and reaches nothing else of an admin's
      const cronJob = trading.tokenFor(randomUUID(), ['user', TRADING_JOBS_ROLE]);
      const byCronJob = await http().post('/api/trading/jobs/select/runs').set(bearer(cronJob)).send({ date: AS_OF });
      assert.equal(byCronJob.status, 200, JSON.stringify(byCronJob.body));
      assert.equal(byCronJob.body.status, 'succeeded');
      for (const [method, path] of [
        ['get', '/api/trading/scheduler'],
        ['put', '/api/trading/calendar/holidays/2026-12-31'],
      ] as const) {
        const res = await http()[method](path).set(bearer(cronJob)).send({ name: 'closed' });
        assert.equal(res.status, 403, `${method} ${path}: ${res.status}`);
        assertErrorBody(res.body);
      }
      const unknownJob = await http().post('/api/trading/jobs/rebalance/runs').set(bearer(adminToken)).send({});
      assert.equal(unknownJob.status, 400);
      const badDate = await http()
        .post('/api/trading/jobs/select/runs')
        .set(bearer(adminToken))
        .send({ date: '10/03/2026' });
      assert.equal(badDate.status, 400);
      assertErrorBody(badDate.body);
      const replayed = await http()
        .post('/api/trading/jobs/select/runs')
        .set(bearer(adminToken))
        .send({ date: AS_OF })
        .expect(200);
      assert.equal(replayed.body.status, 'succeeded', 'an occurrence that ran is answered, not run again');
    });
  });

  describe('platform routes', () => {
    it('answers liveness, readiness, metrics and the OpenAPI document', async () => {
      // liveness judges the event loop since the previous probe (the kubelet probes every few
      // seconds); the first probe of this app also covers its whole set-up on a busy machine
      await http().get('/health/live');
      await http().get('/health/live').expect(200);
      await waitFor(
        'readiness',
        async () => ((await http().get('/health/ready')).status === 200 ? true : undefined),
        15_000,
      );
      const metrics = await http().get('/metrics').expect(200);
      assert.match(metrics.text, /http_request_duration_seconds_bucket/);
      const docs = await http().get('/api/trading/docs/openapi.json').expect(200);
      const paths = Object.keys(docs.body.paths as object);
      for (const path of ['/api/trading/auto-strategies', '/api/trading/portfolio', '/api/trading/scheduler']) {
        assert.ok(paths.includes(path), `${path} in ${paths.join(', ')}`);
      }
    });
  });
});
