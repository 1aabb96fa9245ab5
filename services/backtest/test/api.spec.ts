import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { assertErrorBody, waitFor } from '@stocklab/test-support';
import { generateDemoMarket } from '../src/cli/demo-data.js';
import {
  importDataset,
  startInProcessBacktest,
  uploadDataset,
  topMomentum,
  waitForInProcessBacktest,
  type InProcessBacktest,
} from './support.js';

const momentum = topMomentum;

/**
 * Every route of the backtest API, in-process (supertest against the application built from a
 * TestingModule, its queue consumer and worker threads running here) on a real PostgreSQL,
 * Redis and S3-compatible store. What needs several replicas or a killed worker is in
 * backtests/datasets/strategies.spec.
 */
describe('backtest API (in-process)', () => {
  let svc: InProcessBacktest;
  let user: string;
  let admin: string;

  beforeAll(async () => {
    svc = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '1', BACKTEST_USER_LIMIT: '2' });
    user = await svc.tokenFor(randomUUID());
    admin = await svc.tokenFor(randomUUID(), ['user', 'admin']);
    const market = generateDemoMarket({ stocks: 8, years: 2, seed: 3, startYear: 2020 });
    await importDataset(svc.url, admin, 'securities', market.securities);
    await importDataset(svc.url, admin, 'bars', market.bars);
  });
  afterAll(() => svc.close());

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const waitForBacktest = (id: string, token = user): Promise<Record<string, unknown>> =>
    waitForInProcessBacktest(svc, id, token);

  describe('public catalogues', () => {
    it('GET /factors lists the factor catalogue without a token', async () => {
      const res = await svc.http().get('/api/backtest/factors').expect(200);
      const ids = (res.body as Array<{ id: string }>).map((f) => f.id);
      for (const id of ['mom_3m', 'per', 'roe', 'rsi_14', 'close']) {
        assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
      }
    });

    it('GET /strategies/schema answers the definition JSON Schema without a token', async () => {
      const res = await svc.http().get('/api/backtest/strategies/schema').expect(200);
      assert.equal(res.body.type, 'object');
      assert.ok((res.body.required as string[]).includes('ranking'));
    });
  });

  describe('strategies', () => {
    it('creates, reads, lists, updates and deletes a strategy of one’s own', async () => {
      const created = await svc
        .http()
        .post('/api/backtest/strategies')
        .set(bearer(user))
        .send({ name: 'momentum', description: 'top 3', definition: momentum() })
        .expect(201);
      const id = created.body.id as string;
      const read = await svc.http().get(`/api/backtest/strategies/${id}`).set(bearer(user)).expect(200);
      assert.equal(read.body.name, 'momentum');
      assert.deepEqual(read.body.definition.ranking, { factor: 'mom_3m', order: 'desc' });

      const list = await svc.http().get('/api/backtest/strategies?limit=10').set(bearer(user)).expect(200);
      assert.ok((list.body.items as Array<{ id: string }>).some((s) => s.id === id));

      const patched = await svc
        .http()
        .patch(`/api/backtest/strategies/${id}`)
        .set(bearer(user))
        .send({ name: 'momentum v2' })
        .expect(200);
      assert.equal(patched.body.name, 'momentum v2');

      await svc.http().delete(`/api/backtest/strategies/${id}`).set(bearer(user)).expect(204);
      await svc.http().get(`/api/backtest/strategies/${id}`).set(bearer(user)).expect(404);
    });

    it('treats another user’s strategy as missing', async () => {
      const created = await svc
        .http()
        .post('/api/backtest/strategies')
        .set(bearer(user))
        .send({ name: 'mine', definition: momentum() })
        .expect(201);
      const other = await svc.tokenFor(randomUUID());
      for (const req of [
        svc.http().get(`/api/backtest/strategies/${created.body.id}`),
        svc.http().patch(`/api/backtest/strategies/${created.body.id}`).send({ name: 'stolen' }),
        svc.http().delete(`/api/backtest/strategies/${created.body.id}`),
      ]) {
        const res = await req.set(bearer(other));
        assert.equal(res.status, 404);
        assertErrorBody(res.body);
      }
    });

    it('rejects an unknown factor with a 400 naming its path, a bad id with 400, no token with 401', async () => {
      const bad = await svc
        .http()
        .post('/api/backtest/strategies')
        .set(bearer(user))
        .send({ name: 'bad', definition: momentum({ ranking: { factor: 'nope', order: 'desc' } }) });
      assert.equal(bad.status, 400);
      assertErrorBody(bad.body);
      assert.match(bad.body.message, /ranking/);
      const badId = await svc.http().get('/api/backtest/strategies/not-a-uuid').set(bearer(user));
      assert.equal(badId.status, 400);
      assertErrorBody(badId.body);
      const anonymous = await svc.http().get('/api/backtest/strategies');
      assert.equal(anonymous.status, 401);
      assertErrorBody(anonymous.body);
    });
  });

  describe('backtests', () => {
    it('runs a submitted backtest and serves its status, equity, trades and exports', async () => {
      const submitted = await svc
        .http()
        .post('/api/backtest/backtests')
        .set(bearer(user))
        .send({ definition: momentum(), from: '2020-06-01', to: '2021-12-31' })
        .expect(202);
      assert.equal(submitted.body.status, 'queued');
      const done = await waitForBacktest(submitted.body.id as string);
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      const metrics = done.metrics as Record<string, number>;
      assert.ok(metrics.numberOfTrades > 0);

      const id = submitted.body.id as string;
      const list = await svc.http().get('/api/backtest/backtests').set(bearer(user)).expect(200);
      assert.ok((list.body.items as Array<{ id: string }>).some((b) => b.id === id));

      const equity = await svc.http().get(`/api/backtest/backtests/${id}/equity?limit=5`).set(bearer(user)).expect(200);
      assert.equal(equity.body.items.length, 5);
      assert.ok(equity.body.nextCursor, 'more equity pages');
      const next = await svc
        .http()
        .get(
          `/api/backtest/backtests/${id}/equity?limit=5&cursor=${encodeURIComponent(equity.body.nextCursor as string)}`,
        )
        .set(bearer(user))
        .expect(200);
      assert.ok(next.body.items[0].date > equity.body.items[4].date, 'the next page continues after the first');

      const trades = await svc
        .http()
        .get(`/api/backtest/backtests/${id}/trades?limit=1000`)
        .set(bearer(user))
        .expect(200);
      assert.equal(trades.body.items.length, metrics.numberOfTrades);

      const csv = await svc
        .http()
        .get(`/api/backtest/backtests/${id}/export?part=trades`)
        .set(bearer(user))
        .expect(200);
      assert.match(String(csv.headers['content-type']), /^text\/csv/);
      assert.match(String(csv.headers['content-disposition']), /attachment; filename=".+\.csv"/);
      assert.equal(csv.text.trim().split('\n').length - 1, metrics.numberOfTrades);

      // cursors the server never issued (the probe's set): 400 INVALID_CURSOR everywhere, never a 500
      const forged = (tuple: unknown[]): string => Buffer.from(JSON.stringify(tuple)).toString('base64url');
      const uuid = '00000000-0000-4000-8000-000000000000';
      const cases: Array<[string, string]> = [
        ['/strategies', forged(['2026-02-30T00:00:00.000000Z', uuid])],
        ['/strategies', forged(['2026-01-01T24:00:00.000000Z', uuid])],
        ['/backtests', forged(['99999-01-01T00:00:00.000000Z', uuid])],
        ['/backtests', 'not-base64url-json!'],
        [`/backtests/${id}/equity`, forged(['2026-13-45'])],
        [`/backtests/${id}/equity`, forged([20260101])],
        [`/backtests/${id}/trades`, forged([1.5])],
        [`/backtests/${id}/trades`, Buffer.from('[1e400]').toString('base64url')],
        [`/backtests/${id}/trades`, forged([2147483648])],
        [`/backtests/${id}/trades`, forged([-1])],
      ];
      for (const [path, cursor] of cases) {
        const res = await svc
          .http()
          .get(`/api/backtest${path}?cursor=${encodeURIComponent(cursor)}`)
          .set(bearer(user));
        assert.equal(res.status, 400, `${path} ${Buffer.from(cursor, 'base64url').toString()}`);
        assert.equal(res.body.code, 'INVALID_CURSOR');
        assertErrorBody(res.body);
      }
    });

    it('replays a retried submission with the same Idempotency-Key; another body with it is a 422', async () => {
      const owner = await svc.tokenFor(randomUUID());
      const key = randomUUID();
      const body = { definition: momentum(), from: '2021-01-01', to: '2021-06-30' };
      const first = await svc
        .http()
        .post('/api/backtest/backtests')
        .set(bearer(owner))
        .set('idempotency-key', key)
        .send(body)
        .expect(202);
      const again = await svc
        .http()
        .post('/api/backtest/backtests')
        .set(bearer(owner))
        .set('idempotency-key', key)
        .send(body)
        .expect(202);
      assert.equal(again.body.id, first.body.id);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      const reused = await svc
        .http()
        .post('/api/backtest/backtests')
        .set(bearer(owner))
        .set('idempotency-key', key)
        .send({ ...body, to: '2021-05-31' });
      assert.equal(reused.status, 422);
      assert.equal(reused.body.code, 'IDEMPOTENCY_KEY_REUSED');
      await waitForBacktest(first.body.id as string, owner);
    });

    it('refuses a bad range, an unknown field and another user’s backtest', async () => {
      const reversed = await svc
        .http()
        .post('/api/backtest/backtests')
        .set(bearer(user))
        .send({ definition: momentum(), from: '2021-12-31', to: '2020-01-01' });
      assert.equal(reversed.status, 400);
      assertErrorBody(reversed.body);
      const unknown = await svc
        .http()
        .post('/api/backtest/backtests')
        .set(bearer(user))
        .send({ definition: momentum(), from: '2020-01-01', to: '2020-12-31', priority: 'high' });
      assert.equal(unknown.status, 400);
      const list = await svc.http().get('/api/backtest/backtests').set(bearer(user)).expect(200);
      const id = (list.body.items as Array<{ id: string }>)[0]?.id;
      const stranger = await svc.tokenFor(randomUUID());
      for (const path of ['', '/equity', '/trades', '/export']) {
        const res = await svc.http().get(`/api/backtest/backtests/${id}${path}`).set(bearer(stranger));
        assert.equal(res.status, 404, path);
        assertErrorBody(res.body);
      }
    });
  });

  describe('datasets', () => {
    it('needs the admin role to upload (403), and lists and shows one’s own imports', async () => {
      const refused = await uploadDataset(svc.url, user, { kind: 'securities', content: 'code\n' });
      assert.equal(refused.status, 403);
      assertErrorBody(refused.body);
      const list = await svc.http().get('/api/backtest/datasets').set(bearer(admin)).expect(200);
      const items = list.body.items as Array<{ id: string; kind: string; status: string }>;
      assert.deepEqual(items.map((d) => d.kind).sort(), ['bars', 'securities']);
      const one = await svc.http().get(`/api/backtest/datasets/${items[0]?.id}`).set(bearer(admin)).expect(200);
      assert.equal(one.body.status, 'succeeded');
      await svc.http().get(`/api/backtest/datasets/${items[0]?.id}`).set(bearer(user)).expect(404);
    });
  });

  describe('platform routes', () => {
    it('answers liveness, readiness, metrics and the OpenAPI document', async () => {
      // liveness judges the event loop since the previous probe; the first covers the whole set-up
      await svc.http().get('/health/live');
      await svc.http().get('/health/live').expect(200);
      await waitFor(
        'readiness',
        async () => ((await svc.http().get('/health/ready')).status === 200 ? true : undefined),
        15_000,
      );
      const metrics = await svc.http().get('/metrics').expect(200);
      assert.match(metrics.text, /http_request_duration_seconds_bucket/);
      const docs = await svc.http().get('/api/backtest/docs/openapi.json').expect(200);
      const paths = Object.keys(docs.body.paths as object);
      for (const path of ['/api/backtest/backtests', '/api/backtest/strategies/{id}', '/api/backtest/datasets']) {
        assert.ok(paths.includes(path), `${path} in ${paths.join(', ')}`);
      }
    });
  });
});

describe('backtest result budget (in-process)', () => {
  let svc: InProcessBacktest;
  let user: string;

  beforeAll(async () => {
    svc = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '1', BACKTEST_MAX_TRADES: '100' });
    user = await svc.tokenFor(randomUUID());
    const admin = await svc.tokenFor(randomUUID(), ['user', 'admin']);
    const market = generateDemoMarket({ stocks: 8, years: 2, seed: 3, startYear: 2020 });
    await importDataset(svc.url, admin, 'securities', market.securities);
    await importDataset(svc.url, admin, 'bars', market.bars);
  });
  afterAll(() => svc.close());

  it('fails a run that makes more trades than BACKTEST_MAX_TRADES, naming the limit, and stores none of them', async () => {
    // the two stocks with the lowest RSI, re-ranked every day: a trade or two most days
    const churn = momentum({ ranking: { factor: 'rsi_14', order: 'asc' }, maxPositions: 2, rebalance: 'daily' });
    const submitted = await svc
      .http()
      .post('/api/backtest/backtests')
      .set({ authorization: `Bearer ${user}` })
      .send({ definition: churn, from: '2020-03-01', to: '2021-12-31' })
      .expect(202);
    const id = submitted.body.id as string;
    let done: Record<string, unknown> = {};
    for (let i = 0; i < 600 && !['succeeded', 'failed'].includes(String(done.status)); i += 1) {
      await sleep(100);
      done = (
        await svc
          .http()
          .get(`/api/backtest/backtests/${id}`)
          .set({ authorization: `Bearer ${user}` })
      ).body;
    }
    assert.equal(done.status, 'failed', JSON.stringify(done));
    assert.match(
      String(done.error),
      /^RESULT_TOO_LARGE: the backtest made \d+ trades, more than the 100 .*BACKTEST_MAX_TRADES/,
    );
    assert.equal(done.attempts, 1, 'not retried: the same run would make the same trades');
    const trades = await svc
      .http()
      .get(`/api/backtest/backtests/${id}/trades`)
      .set({ authorization: `Bearer ${user}` })
      .expect(200);
    assert.deepEqual(trades.body.items, [], 'no trade row stored');
  });
});
