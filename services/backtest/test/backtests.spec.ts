import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { request, startReplicas, type ReplicaSet, readinessUp } from '@stocklab/test-support';
import { generateDemoMarket, loadDemoMarket, writeDemoMarket } from '../src/cli/demo-data.js';
import {
  BACKTEST_ENTRY,
  BACKTEST_WORKER_ENTRY,
  importDataset,
  startBacktestCluster,
  type BacktestCluster,
} from './support.js';

/** A momentum strategy over the synthetic market: monthly top 5, real costs, a benchmark. */
export function momentumDefinition(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 1,
    universe: { scope: 'all' },
    buyConditions: {
      and: [
        { factor: 'mom_3m', op: '>', value: 0 },
        { factor: 'rsi_14', op: '<', value: 80 },
      ],
    },
    ranking: { factor: 'mom_3m', order: 'desc' },
    maxPositions: 5,
    weighting: { method: 'equal', maxWeightPerStock: 0.25 },
    rebalance: 'monthly',
    sell: { stopLossPct: 10, takeProfitPct: 30, minHoldingDays: 5 },
    costs: { commissionBps: 1.5, sellTaxBps: 23, slippageBps: 10 },
    initialCapital: 100_000_000,
    benchmark: 'MARKET',
    ...overrides,
  };
}

type Backtest = {
  id: string;
  status: string;
  progress: number;
  attempts: number;
  metrics: Record<string, number> | null;
  summary: Record<string, unknown> | null;
};

export async function waitForBacktest(url: string, token: string, id: string, timeoutMs = 60000): Promise<Backtest> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request<Backtest>('GET', `${url}/api/backtest/backtests/${id}`, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    if (['succeeded', 'failed', 'cancelled'].includes(res.body.status)) {
      return res.body;
    }
    if (Date.now() > deadline) {
      assert.fail(`backtest ${id} still ${res.body.status} after ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

export async function seedDemoMarket(databaseUrl: string, stocks: number, years: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stocklab-demo-'));
  try {
    await loadDemoMarket(await writeDemoMarket({ stocks, years, seed: 7, startYear: 2018 }, dir), databaseUrl);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('backtests as queued jobs', () => {
  let cluster: BacktestCluster;
  let a: string;
  let b: string;

  beforeAll(async () => {
    cluster = await startBacktestCluster(2, { BACKTEST_CONCURRENCY: '2', BACKTEST_USER_LIMIT: '3' });
    a = cluster.replicas.at(0).url;
    b = cluster.replicas.at(1).url;
    await seedDemoMarket(cluster.db.url, 40, 3);
  });
  afterAll(() => cluster.close());

  it('runs a submitted backtest on some replica and serves its results from any', async () => {
    const token = await cluster.tokenFor(randomUUID());
    const submitted = await request('POST', `${a}/api/backtest/backtests`, {
      token,
      body: { definition: momentumDefinition(), from: '2019-01-01', to: '2020-12-31' },
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    assert.equal(submitted.body.status, 'queued');
    const done = await waitForBacktest(b, token, submitted.body.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.progress, 100);
    for (const key of [
      'totalReturn',
      'cagr',
      'maxDrawdown',
      'sharpe',
      'sortino',
      'calmar',
      'winRate',
      'profitFactor',
      'turnover',
      'numberOfTrades',
    ]) {
      assert.ok(key in (done.metrics ?? {}), `metrics has ${key}`);
    }
    assert.ok((done.metrics?.numberOfTrades ?? 0) > 0, 'the strategy traded');
    for (const key of ['maxDrawdownPeakDate', 'maxDrawdownTroughDate']) {
      assert.match(String(done.metrics?.[key]), /^20(19|20)-\d{2}-\d{2}$/, `${key} is an ISO date in the period`);
    }
    assert.ok(
      done.summary && 'benchmark' in done.summary && done.summary.benchmark !== null,
      'benchmark and excess return reported',
    );

    const equity = await request('GET', `${a}/api/backtest/backtests/${done.id}/equity?limit=100`, { token });
    assert.equal(equity.status, 200);
    assert.equal(equity.body.items.length, 100);
    assert.ok(equity.body.nextCursor);
    const rest = await request(
      'GET',
      `${b}/api/backtest/backtests/${done.id}/equity?limit=1000&cursor=${equity.body.nextCursor}`,
      { token },
    );
    assert.ok(rest.body.items[0].date > equity.body.items[99].date, 'pages follow each other');

    const trades = await request('GET', `${b}/api/backtest/backtests/${done.id}/trades?limit=5`, { token });
    assert.equal(trades.status, 200);
    assert.equal(trades.body.items.length, 5);
    assert.ok(
      ['signal', 'rebalance', 'stop_loss', 'take_profit', 'sell_condition', 'max_holding', 'delisted'].includes(
        trades.body.items[0].reason,
      ),
    );

    const exportA = await request('GET', `${a}/api/backtest/backtests/${done.id}/export?format=csv`, { token });
    assert.equal(exportA.status, 200);
    assert.match(exportA.headers.get('content-type') ?? '', /text\/csv/);
    const lines = (exportA.body as string).trim().split('\n');
    assert.equal(lines[0], 'date,value,cash,invested,daily_return,drawdown,benchmark');
    assert.equal(lines.length - 1, equity.body.items.length + rest.body.items.length, 'one CSV row per equity day');
    const tradesCsv = await request('GET', `${b}/api/backtest/backtests/${done.id}/export?format=csv&part=trades`, {
      token,
    });
    assert.equal(tradesCsv.status, 200);
    assert.equal((tradesCsv.body as string).trim().split('\n').length - 1, done.metrics?.numberOfTrades);
  });

  it('completes 12 backtests submitted at once by 4 users across both replicas, each exactly once, within the per-user limit', async () => {
    const users = await Promise.all([0, 1, 2, 3].map(async () => cluster.tokenFor(randomUUID())));
    const submissions = await Promise.all(
      users.flatMap((token, u) =>
        [0, 1, 2].map((k) =>
          request('POST', `${(u + k) % 2 ? a : b}/api/backtest/backtests`, {
            token,
            body: { definition: momentumDefinition({ maxPositions: 3 + k }), from: '2019-01-01', to: '2020-06-30' },
          }),
        ),
      ),
    );
    assert.deepEqual(
      submissions.map((s) => s.status),
      Array(12).fill(202),
    );
    // a fourth one for each user while three are queued or running: refused on either replica
    const fourth = await request('POST', `${b}/api/backtest/backtests`, {
      token: users[0],
      body: { definition: momentumDefinition(), from: '2019-01-01', to: '2019-12-31' },
    });
    const stillActive = (
      await Promise.all(
        submissions
          .slice(0, 3)
          .map((s) => request('GET', `${a}/api/backtest/backtests/${s.body.id}`, { token: users[0] })),
      )
    ).filter((r) => ['queued', 'running'].includes(r.body.status));
    if (stillActive.length === 3) {
      assert.equal(fourth.status, 429, 'the limit holds while three are active');
      assert.equal(fourth.body.code, 'BACKTEST_LIMIT');
    }
    const results = await Promise.all(
      submissions.map((s, i) => waitForBacktest(i % 2 ? a : b, users[Math.floor(i / 3)], s.body.id)),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array(12).fill('succeeded'),
    );
    assert.deepEqual(
      results.map((r) => r.attempts),
      Array(12).fill(1),
      'no backtest ran twice',
    );
    const client = new pg.Client({ connectionString: cluster.db.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT worker, count(*)::int AS n FROM backtest.backtests WHERE id = ANY($1) GROUP BY worker`,
        [results.map((r) => r.id)],
      );
      assert.ok(rows.length >= 2, `both replicas took jobs: ${JSON.stringify(rows)}`);
    } finally {
      await client.end();
    }
  });

  it('cancels a queued backtest, and a DELETE of a cancelled one erases it', async () => {
    const token = await cluster.tokenFor(randomUUID());
    const submitted = await request('POST', `${a}/api/backtest/backtests`, {
      token,
      body: { definition: momentumDefinition({ rebalance: 'daily' }), from: '2018-03-01', to: '2020-12-31' },
    });
    const cancelled = await request('DELETE', `${b}/api/backtest/backtests/${submitted.body.id}`, { token });
    if (cancelled.status === 200) {
      assert.equal(cancelled.body.status, 'cancelled');
      const final = await waitForBacktest(a, token, submitted.body.id);
      assert.equal(final.status, 'cancelled');
      // a cancelled backtest is finished: the next DELETE erases it, on whichever replica
      const again = await request('DELETE', `${a}/api/backtest/backtests/${submitted.body.id}`, { token });
      assert.equal(again.status, 204);
    } else {
      assert.equal(cancelled.status, 204, 'it had already finished: erased');
    }
    const gone = await request('GET', `${b}/api/backtest/backtests/${submitted.body.id}`, { token });
    assert.equal(gone.status, 404);
  });

  it('refuses bad submissions with a clear 4xx and writes nothing', async () => {
    const owner = randomUUID();
    const token = await cluster.tokenFor(owner);
    const other = await cluster.tokenFor(randomUUID());
    const strategy = await request('POST', `${a}/api/backtest/strategies`, {
      token: other,
      body: { name: 'theirs', definition: momentumDefinition() },
    });
    assert.equal(strategy.status, 201, JSON.stringify(strategy.body));
    let nested = '{"factor":"per","op":"<","value":10}';
    for (let i = 0; i < 5000; i += 1) {
      nested = `{"and":[${nested}]}`;
    }
    const cases: Array<[string, { body?: unknown; rawBody?: string }, number, string?]> = [
      [
        'an unknown factor',
        {
          body: {
            definition: momentumDefinition({ ranking: { factor: 'astrology', order: 'desc' } }),
            from: '2019-01-01',
            to: '2019-12-31',
          },
        },
        400,
        'INVALID_STRATEGY',
      ],
      [
        'from after to',
        { body: { definition: momentumDefinition(), from: '2020-01-01', to: '2019-01-01' } },
        400,
        'INVALID_DATE_RANGE',
      ],
      [
        'a weekend, where the market has no trading day (the run would only fail later)',
        { body: { definition: momentumDefinition(), from: '2019-06-01', to: '2019-06-02' } },
        400,
        'NO_TRADING_DAYS',
      ],
      [
        'an impossible date',
        { body: { definition: momentumDefinition(), from: '2019-02-30', to: '2019-12-31' } },
        400,
        'INVALID_DATE',
      ],
      [
        'another user’s strategy',
        { body: { strategyId: strategy.body.id, from: '2019-01-01', to: '2019-12-31' } },
        404,
      ],
      [
        'both a strategy and a definition',
        {
          body: {
            strategyId: strategy.body.id,
            definition: momentumDefinition(),
            from: '2019-01-01',
            to: '2019-12-31',
          },
        },
        400,
      ],
      ['neither', { body: { from: '2019-01-01', to: '2019-12-31' } }, 400],
      [
        'an unknown benchmark',
        {
          body: { definition: momentumDefinition({ benchmark: 'RANDOM_WALK' }), from: '2019-01-01', to: '2019-12-31' },
        },
        400,
      ],
      [
        'a 5,000-level nested condition',
        {
          rawBody: `{"from":"2019-01-01","to":"2019-12-31","definition":${JSON.stringify(momentumDefinition()).replace(/"buyConditions":\{[^]*?\]\}/, `"buyConditions":${nested}`)}}`,
        },
        400,
      ],
      ['a malformed strategy id', { body: { strategyId: 'not-a-uuid', from: '2019-01-01', to: '2019-12-31' } }, 400],
    ];
    for (const [name, input, status, code] of cases) {
      const res = await request('POST', `${b}/api/backtest/backtests`, { token, ...input });
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body).slice(0, 200)}`);
      assert.deepEqual(Object.keys(res.body).sort(), ['code', 'error', 'message', 'statusCode'], name);
      if (code) {
        assert.equal(res.body.code, code, name);
      }
    }
    const list = await request('GET', `${a}/api/backtest/backtests`, { token });
    assert.deepEqual(list.body.items, [], 'nothing was written for this user');
    const missing = await request('GET', `${a}/api/backtest/backtests/${randomUUID()}`, { token });
    assert.equal(missing.status, 404);
    await readinessUp(a);
  });
});

describe('the per-user limit', () => {
  let cluster: BacktestCluster;

  beforeAll(async () => {
    // nobody takes jobs here, so whatever is accepted stays active
    cluster = await startBacktestCluster(2, { BACKTEST_CONCURRENCY: '0', BACKTEST_USER_LIMIT: '3' });
    // a backtest is accepted only over trading days of the market data
    await seedDemoMarket(cluster.db.url, 10, 3);
  });
  afterAll(() => cluster.close());

  it('holds atomically across replicas when one user submits eight at once', async () => {
    const token = await cluster.tokenFor(randomUUID());
    const urls = cluster.replicas.urls;
    const body = { definition: momentumDefinition(), from: '2019-01-01', to: '2019-12-31' };
    const burst = await Promise.all(
      Array.from({ length: 8 }, (_, i) => request('POST', `${urls[i % 2]}/api/backtest/backtests`, { token, body })),
    );
    assert.deepEqual(burst.map((r) => r.status).sort(), [202, 202, 202, 429, 429, 429, 429, 429]);
    const refused = burst.find((r) => r.status === 429);
    assert.equal(refused?.body.code, 'BACKTEST_LIMIT');
    assert.ok(Number(refused?.headers.get('retry-after')) > 0);

    const otherUser = await cluster.tokenFor(randomUUID());
    assert.equal(
      (await request('POST', `${urls[1]}/api/backtest/backtests`, { token: otherUser, body })).status,
      202,
      'the limit is per user',
    );

    const accepted = burst.find((r) => r.status === 202);
    assert.equal(
      (await request('DELETE', `${urls[0]}/api/backtest/backtests/${accepted?.body.id}`, { token })).status,
      200,
    );
    assert.equal(
      (await request('POST', `${urls[1]}/api/backtest/backtests`, { token, body })).status,
      202,
      'a cancelled one frees a slot',
    );
  });

  it('runs a submission retried with the same Idempotency-Key once, on whichever replica the retries reach', async () => {
    const ownerId = randomUUID();
    const token = await cluster.tokenFor(ownerId);
    const [a, b] = cluster.replicas.urls as [string, string];
    const body = { definition: momentumDefinition(), from: '2019-01-01', to: '2019-12-31' };
    const key = randomUUID();
    const headers = { 'idempotency-key': key };
    // the same request 5 times at once over both replicas (a client retrying after timeouts)
    const attempts = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        request('POST', `${i % 2 ? b : a}/api/backtest/backtests`, { token, body, headers }),
      ),
    );
    assert.deepEqual(
      attempts.map((r) => r.status),
      [202, 202, 202, 202, 202],
    );
    assert.equal(new Set(attempts.map((r) => String(r.body.id))).size, 1, 'one backtest for every attempt');
    assert.equal(attempts.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 4);
    const client = new pg.Client({ connectionString: cluster.db.url });
    await client.connect();
    try {
      const rows = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM backtest.backtests WHERE owner_id = $1`,
        [ownerId],
      );
      assert.equal(Number(rows.rows[0]?.n), 1, 'one row');
    } finally {
      await client.end();
    }

    // the same key with a different request is the client's mistake; keys are per user
    const other = await request('POST', `${a}/api/backtest/backtests`, {
      token,
      headers,
      body: { ...body, to: '2019-06-30' },
    });
    assert.equal(other.status, 422);
    assert.equal(other.body.code, 'IDEMPOTENCY_KEY_REUSED');
    const anotherUser = await request('POST', `${b}/api/backtest/backtests`, {
      token: await cluster.tokenFor(randomUUID()),
      headers,
      body,
    });
    assert.equal(anotherUser.status, 202);
    assert.notEqual(anotherUser.body.id, attempts[0]?.body.id);

    // at the per-user limit a replay still answers with the original, a new key gets the 429
    for (let i = 0; i < 2; i += 1) {
      assert.equal((await request('POST', `${a}/api/backtest/backtests`, { token, body })).status, 202);
    }
    const replay = await request('POST', `${b}/api/backtest/backtests`, { token, body, headers });
    assert.equal(replay.status, 202);
    assert.equal(replay.body.id, attempts[0]?.body.id);
    const fresh = await request('POST', `${b}/api/backtest/backtests`, {
      token,
      body,
      headers: { 'idempotency-key': randomUUID() },
    });
    assert.equal(fresh.status, 429);

    for (const bad of ['', 'has space', 'x'.repeat(256), 'é']) {
      const res = await request('POST', `${a}/api/backtest/backtests`, {
        token,
        body,
        headers: { 'idempotency-key': bad },
      });
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(res.body.code, 'INVALID_IDEMPOTENCY_KEY');
    }
  });
});

describe('a worker killed mid-backtest', () => {
  let cluster: BacktestCluster;
  let workers: ReplicaSet | undefined;

  beforeAll(async () => {
    // API replicas take no jobs here: only the worker processes do, so we know whom to kill
    cluster = await startBacktestCluster(1, { BACKTEST_CONCURRENCY: '0', JOB_LOCK_MS: '2000' });
    await seedDemoMarket(cluster.db.url, 150, 5);
  });
  afterAll(async () => {
    await workers?.stopAll(3000);
    await cluster.close();
  });

  it('is taken up again elsewhere and completes with the same result as an undisturbed run', async () => {
    const api = cluster.replicas.at(0).url;
    const token = await cluster.tokenFor(randomUUID());
    const body = {
      definition: momentumDefinition({ rebalance: 'daily', maxPositions: 10 }),
      from: '2018-06-01',
      to: '2022-12-31',
    };
    const workerEnv = { ...cluster.env, BACKTEST_CONCURRENCY: '1', RUN_MIGRATIONS: 'false' };
    workers = await startReplicas(2, { entry: BACKTEST_WORKER_ENTRY, env: workerEnv, name: 'worker' });
    const [first, second] = workers.replicas as [(typeof workers.replicas)[0], (typeof workers.replicas)[0]];
    await second.stop(3000); // only the first one runs now

    const submitted = await request('POST', `${api}/api/backtest/backtests`, { token, body });
    assert.equal(submitted.status, 202);
    // wait until the first worker has claimed it, then kill it without warning
    for (let i = 0; i < 300; i += 1) {
      const res = await request('GET', `${api}/api/backtest/backtests/${submitted.body.id}`, { token });
      if (res.body.status === 'running') {
        break;
      }
      assert.equal(res.body.status, 'queued', 'it must not finish before the kill');
      await sleep(20);
    }
    await first.kill();
    const afterKill = await request('GET', `${api}/api/backtest/backtests/${submitted.body.id}`, { token });
    assert.equal(afterKill.body.status, 'running', 'the kill landed mid-backtest');

    await second.restart();
    const recovered = await waitForBacktest(api, token, submitted.body.id, 90000);
    assert.equal(recovered.status, 'succeeded');
    assert.equal(recovered.attempts, 2, 'the second attempt completed it');

    const undisturbed = await request('POST', `${api}/api/backtest/backtests`, { token, body });
    const reference = await waitForBacktest(api, token, undisturbed.body.id, 90000);
    assert.equal(reference.attempts, 1);
    assert.deepEqual(recovered.metrics, reference.metrics, 'same metrics as an undisturbed run');
    const [x, y] = await Promise.all(
      [recovered.id, reference.id].map((id) =>
        request('GET', `${api}/api/backtest/backtests/${id}/export?format=csv&part=trades`, { token }),
      ),
    );
    assert.equal(x?.body, y?.body, 'same trades, byte for byte');
  });
});

describe('files across replicas', () => {
  let cluster: BacktestCluster;
  let runner: ReplicaSet | undefined;

  beforeAll(async () => {
    // replica A serves the API but runs no backtests; replica B (started below) runs them
    cluster = await startBacktestCluster(1, { BACKTEST_CONCURRENCY: '0', IMPORT_CONCURRENCY: '1' });
    runner = await startReplicas(1, {
      entry: BACKTEST_ENTRY,
      env: { ...cluster.env, BACKTEST_CONCURRENCY: '1', IMPORT_CONCURRENCY: '0' },
      name: 'backtest-b',
    });
  });
  afterAll(async () => {
    await runner?.stopAll(3000);
    await cluster.close();
  });

  it('imports a dataset uploaded through A, runs a backtest on it on B, and serves the export from A', async () => {
    const a = cluster.replicas.at(0).url;
    const b = runner?.at(0).url as string;
    const admin = await cluster.tokenFor(randomUUID(), ['user', 'admin']);
    const market = generateDemoMarket({ stocks: 25, years: 2, seed: 11, startYear: 2020 });
    for (const kind of ['securities', 'bars', 'statements'] as const) {
      const done = await importDataset(a, admin, kind, market[kind]);
      assert.equal(done.status, 'succeeded');
    }
    const submitted = await request('POST', `${b}/api/backtest/backtests`, {
      token: admin,
      body: { definition: momentumDefinition({ buyConditions: undefined }), from: '2020-06-01', to: '2021-12-31' },
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const done = await waitForBacktest(a, admin, submitted.body.id);
    assert.equal(done.status, 'succeeded');
    const client = new pg.Client({ connectionString: cluster.db.url });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT worker FROM backtest.backtests WHERE id = $1`, [done.id]);
      assert.equal(rows[0].worker, 'backtest-b-0', 'replica B ran it');
    } finally {
      await client.end();
    }
    const exported = await request('GET', `${a}/api/backtest/backtests/${done.id}/export?format=csv`, { token: admin });
    assert.equal(exported.status, 200);
    assert.ok((exported.body as string).split('\n').length > 300, 'the whole curve is there');
  });
});
