import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Redis } from 'ioredis';
import pg from 'pg';
import { request, readinessUp } from '@stocklab/test-support';
import { assertErrorBody, startBacktestCluster, type BacktestCluster } from './support.js';

/** A valid definition (a fresh object each time: fixtures are factories). */
function newDefinition(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 1,
    universe: { scope: 'markets', markets: ['KOSPI'] },
    buyConditions: {
      and: [
        { factor: 'per', op: '<', value: 10 },
        { factor: 'roe', op: '>', value: 15 },
      ],
    },
    ranking: { factor: 'mom_3m', order: 'desc' },
    maxPositions: 10,
    weighting: { method: 'equal' },
    rebalance: 'monthly',
    costs: { commissionBps: 1.5, sellTaxBps: 18, slippageBps: 5 },
    initialCapital: 10_000_000,
    ...overrides,
  };
}

/** `{"and":[` n times around one comparison: a condition tree n levels deep, built without recursion. */
function deepCondition(levels: number): string {
  return `${'{"and":['.repeat(levels)}{"factor":"per","op":"<","value":10}${']}'.repeat(levels)}`;
}

/** The sum of a counter's samples with `labels` in a Prometheus text exposition. */
function counterValue(metrics: string, name: string, labels: string): number {
  return metrics
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('strategies across replicas', () => {
  let cluster: BacktestCluster;
  let a: string;
  let b: string;
  let redis: Redis;
  let db: pg.Client;

  /** A new user: their id and a token for it. */
  async function newUser(): Promise<{ id: string; token: string }> {
    const id = randomUUID();
    return { id, token: await cluster.tokenFor(id) };
  }

  async function createStrategy(
    baseUrl: string,
    token: string,
    body: Record<string, unknown> = { name: `s-${randomUUID().slice(0, 8)}`, definition: newDefinition() },
  ) {
    const res = await request('POST', `${baseUrl}/api/backtest/strategies`, { token, body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; name: string; version: number; definition: Record<string, unknown> };
  }

  async function rowOf(id: string): Promise<{ name: string; version: number; definition: unknown } | undefined> {
    const res = await db.query<{ name: string; version: number; definition: unknown }>(
      'SELECT name, version, definition FROM backtest.strategies WHERE id = $1',
      [id],
    );
    return res.rows[0];
  }

  async function strategyCount(ownerId: string): Promise<number> {
    const res = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM backtest.strategies WHERE owner_id = $1',
      [ownerId],
    );
    return res.rows[0]?.n ?? -1;
  }

  beforeAll(async () => {
    // the API only: no job processing in these replicas
    cluster = await startBacktestCluster(2, { BACKTEST_CONCURRENCY: '0', IMPORT_CONCURRENCY: '0' });
    a = cluster.replicas.at(0).url;
    b = cluster.replicas.at(1).url;
    redis = new Redis(cluster.env.REDIS_URL ?? '', { keyPrefix: cluster.env.REDIS_KEY_PREFIX });
    db = new pg.Client({ connectionString: cluster.db.url });
    await db.connect();
  });

  afterAll(async () => {
    redis?.disconnect();
    await db?.end();
    await cluster?.close();
  });

  it('serves the factor catalog and the definition schema without a token', async () => {
    const factors = await request<
      { id: string; name: string; nameKo: string; description: string; unit: string; kind: string }[]
    >('GET', `${a}/api/backtest/factors`);
    assert.equal(factors.status, 200);
    const ids = factors.body.map((f) => f.id);
    for (const id of [
      'mom_1m',
      'mom_3m',
      'mom_6m',
      'mom_12m',
      'rsi_14',
      'per',
      'pbr',
      'roe',
      'psr',
      'debt_ratio',
      'operating_margin',
      'revenue_growth',
      'market_cap',
    ]) {
      assert.ok(ids.includes(id), `catalog lacks ${id}`);
    }
    for (const factor of factors.body) {
      assert.ok(
        factor.name && factor.nameKo && factor.description && factor.unit && factor.kind,
        JSON.stringify(factor),
      );
    }
    const schema = await request('GET', `${b}/api/backtest/strategies/schema`);
    assert.equal(schema.status, 200);
    assert.equal(schema.body.title, 'StrategyDefinition');
    assert.deepEqual(schema.body.$defs.FactorId.enum, ids);
  });

  it('caches a strategy read on A so that B answers it from the shared cache', async () => {
    const user = await newUser();
    const created = await createStrategy(a, user.token, {
      name: '  저PER 모멘텀  ',
      description: 'value and momentum',
      definition: newDefinition(),
    });
    assert.equal(created.name, '저PER 모멘텀');
    assert.equal(created.version, 1);

    const onA = await request('GET', `${a}/api/backtest/strategies/${created.id}`, { token: user.token });
    assert.equal(onA.status, 200);
    assert.equal(onA.headers.get('x-cache'), 'MISS');
    assert.deepEqual(onA.body, created);
    const cached = JSON.parse((await redis.get(`strategy:${created.id}`)) ?? 'null');
    assert.equal(cached?.strategy?.ownerId, user.id, 'the row (with its owner) is in the shared Redis');

    const hitsBefore = counterValue(
      (await request<string>('GET', `${b}/metrics`)).body,
      'strategy_cache_requests_total',
      'result="hit"',
    );
    const onB = await request('GET', `${b}/api/backtest/strategies/${created.id}`, { token: user.token });
    assert.equal(onB.status, 200);
    assert.equal(onB.headers.get('x-cache'), 'HIT');
    assert.deepEqual(onB.body, created);
    const hitsAfter = counterValue(
      (await request<string>('GET', `${b}/metrics`)).body,
      'strategy_cache_requests_total',
      'result="hit"',
    );
    assert.equal(hitsAfter, hitsBefore + 1);
  });

  it('shows an update made on B on A at once, then caches the new version', async () => {
    const user = await newUser();
    const created = await createStrategy(a, user.token);
    const url = (base: string) => `${base}/api/backtest/strategies/${created.id}`;
    assert.equal((await request('GET', url(a), { token: user.token })).headers.get('x-cache'), 'MISS');
    assert.equal((await request('GET', url(b), { token: user.token })).headers.get('x-cache'), 'HIT');

    const definition = newDefinition({ maxPositions: 20, ranking: { factor: 'per', order: 'asc' } });
    const patched = await request('PATCH', url(b), { token: user.token, body: { name: 'renamed', definition } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.version, 2);
    assert.equal(patched.body.name, 'renamed');

    const first = await request('GET', url(a), { token: user.token });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-cache'), 'MISS');
    assert.equal(first.body.version, 2);
    assert.equal(first.body.name, 'renamed');
    assert.equal(first.body.definition.maxPositions, 20);
    const second = await request('GET', url(b), { token: user.token });
    assert.equal(second.headers.get('x-cache'), 'HIT');
    assert.deepEqual(second.body, patched.body);

    const described = await request('PATCH', url(a), { token: user.token, body: { description: 'only this' } });
    assert.equal(described.body.version, 3);
    assert.equal(described.body.name, 'renamed');
    assert.deepEqual(described.body.definition, patched.body.definition);
    assert.equal((await request('GET', url(b), { token: user.token })).body.description, 'only this');
  });

  it('answers 404 on every replica once a strategy is deleted', async () => {
    const user = await newUser();
    const created = await createStrategy(a, user.token);
    const url = (base: string) => `${base}/api/backtest/strategies/${created.id}`;
    assert.equal((await request('GET', url(a), { token: user.token })).status, 200);
    assert.equal((await request('GET', url(b), { token: user.token })).headers.get('x-cache'), 'HIT');

    const deleted = await request('DELETE', url(b), { token: user.token });
    assert.equal(deleted.status, 204);
    assert.equal(await rowOf(created.id), undefined);
    for (const base of [a, b]) {
      const res = await request('GET', url(base), { token: user.token });
      assert.equal(res.status, 404);
      assertErrorBody(res.body);
      assert.equal(res.body.code, 'STRATEGY_NOT_FOUND');
      assert.equal(res.headers.get('x-cache'), null);
    }
    assert.equal((await request('PATCH', url(a), { token: user.token, body: { name: 'x' } })).status, 404);
    assert.equal((await request('DELETE', url(a), { token: user.token })).status, 404);
  });

  it("treats another user's strategy as missing and leaves it unchanged", async () => {
    const owner = await newUser();
    const other = await newUser();
    const created = await createStrategy(a, owner.token);
    const url = (base: string) => `${base}/api/backtest/strategies/${created.id}`;
    const missing = await request('GET', `${a}/api/backtest/strategies/${randomUUID()}`, { token: other.token });

    // once before anyone cached it (PostgreSQL answers), once from the cache
    for (const base of [b, a]) {
      const attempts = [
        await request('GET', url(base), { token: other.token }),
        await request('PATCH', url(base), { token: other.token, body: { name: 'stolen' } }),
        await request('DELETE', url(base), { token: other.token }),
      ];
      for (const res of attempts) {
        assert.equal(res.status, 404);
        assertErrorBody(res.body);
        assert.deepEqual(res.body, missing.body, 'indistinguishable from a strategy that does not exist');
      }
    }
    const row = await rowOf(created.id);
    assert.equal(row?.name, created.name);
    assert.equal(row?.version, 1);
    const mine = await request('GET', url(b), { token: owner.token });
    assert.equal(mine.status, 200);
    assert.equal(mine.body.version, 1);
    const list = await request('GET', `${a}/api/backtest/strategies`, { token: other.token });
    assert.deepEqual(list.body, { items: [], nextCursor: null });
  });

  it('lists a user’s strategies newest first, page by page, without duplicates or gaps', async () => {
    const user = await newUser();
    await createStrategy(a, (await newUser()).token); // someone else's
    const created: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      created.push(
        (await createStrategy(i % 2 === 0 ? a : b, user.token, { name: `p${i}`, definition: newDefinition() })).id,
      );
    }
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? 'limit=3' : `limit=3&cursor=${encodeURIComponent(cursor)}`;
      // alternate replicas: a cursor from one is valid on the other
      const base = pageSizes.length % 2 === 0 ? a : b;
      const page = await request<{ items: { id: string }[]; nextCursor: string | null }>(
        'GET',
        `${base}/api/backtest/strategies?${query}`,
        { token: user.token },
      );
      assert.equal(page.status, 200, JSON.stringify(page.body));
      pageSizes.push(page.body.items.length);
      seen.push(...page.body.items.map((s) => s.id));
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(pageSizes, [3, 3, 1]);
    assert.deepEqual(seen, [...created].reverse());

    const all = await request('GET', `${b}/api/backtest/strategies`, { token: user.token });
    assert.equal(all.body.items.length, 7);
    assert.equal(all.body.nextCursor, null);

    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'cursor=not-a-cursor', `cursor=${'x'.repeat(300)}`]) {
      const res = await request('GET', `${a}/api/backtest/strategies?${query}`, { token: user.token });
      assert.equal(res.status, 400, query);
      assertErrorBody(res.body);
    }
  });

  it('rejects an unknown factor with a 400 naming its path, writing nothing', async () => {
    const user = await newUser();
    const definition = newDefinition({
      buyConditions: {
        and: [
          { factor: 'per', op: '<', value: 10 },
          { factor: 'magic_alpha', op: '>', value: 1 },
        ],
      },
    });
    const res = await request('POST', `${a}/api/backtest/strategies`, {
      token: user.token,
      body: { name: 'bad', definition },
    });
    assert.equal(res.status, 400);
    assertErrorBody(res.body);
    assert.equal(res.body.code, 'INVALID_STRATEGY');
    assert.match(res.body.message, /definition\.buyConditions\.and\[1\]\.factor: unknown factor 'magic_alpha'/);
    assert.equal(await strategyCount(user.id), 0);

    const created = await createStrategy(a, user.token);
    const patch = await request('PATCH', `${b}/api/backtest/strategies/${created.id}`, {
      token: user.token,
      body: { name: 'renamed', definition: newDefinition({ ranking: { factor: 'nope', order: 'asc' } }) },
    });
    assert.equal(patch.status, 400);
    assert.match(patch.body.message, /definition\.ranking\.factor/);
    const row = await rowOf(created.id);
    assert.equal(row?.name, created.name, 'the valid half of the update was not written');
    assert.equal(row?.version, 1);
  });

  it('rejects a 5,000-level nested condition with a 400 and stays healthy', async () => {
    const user = await newUser();
    const created = await createStrategy(b, user.token);
    const valid = JSON.stringify(newDefinition({ buyConditions: '@DEEP@' }));
    // 5,000 levels never reach the parser (the platform refuses JSON nested deeper than 64);
    // 20 levels do, and the definition parser names the limit of 8
    const hugeDefinition = valid.replace('"@DEEP@"', deepCondition(5_000));
    const deepDefinition = valid.replace('"@DEEP@"', deepCondition(20));
    const deepArrays = valid.replace('"@DEEP@"', `${'['.repeat(40_000)}${']'.repeat(40_000)}`);
    for (const base of [a, b]) {
      const create = await request('POST', `${base}/api/backtest/strategies`, {
        token: user.token,
        rawBody: `{"name":"deep","definition":${deepDefinition}}`,
      });
      assert.equal(create.status, 400, JSON.stringify(create.body));
      assertErrorBody(create.body);
      assert.equal(create.body.code, 'INVALID_STRATEGY');
      assert.match(create.body.message, /definition\.buyConditions.*nested deeper than 8 levels/);

      const huge = await request('POST', `${base}/api/backtest/strategies`, {
        token: user.token,
        rawBody: `{"name":"deep","definition":${hugeDefinition}}`,
      });
      assert.equal(huge.status, 400, JSON.stringify(huge.body));
      assertErrorBody(huge.body);
      assert.equal(huge.body.code, 'BODY_TOO_DEEP');

      const arrays = await request('POST', `${base}/api/backtest/strategies`, {
        token: user.token,
        rawBody: `{"name":"deep","definition":${deepArrays}}`,
      });
      assert.equal(arrays.status, 400, JSON.stringify(arrays.body));
      assertErrorBody(arrays.body);

      const patch = await request('PATCH', `${base}/api/backtest/strategies/${created.id}`, {
        token: user.token,
        rawBody: `{"definition":${deepDefinition}}`,
      });
      assert.equal(patch.status, 400);
      assert.equal(patch.body.code, 'INVALID_STRATEGY');
    }
    assert.equal(await strategyCount(user.id), 1);
    assert.equal((await rowOf(created.id))?.version, 1);
    for (const replica of cluster.replicas.replicas) {
      assert.ok(replica.running);
      await readinessUp(replica.url);
      await createStrategy(replica.url, user.token);
    }
  });

  it('rejects malformed bodies, ids and missing tokens with the stable error body', async () => {
    const user = await newUser();
    const created = await createStrategy(a, user.token);
    const cases: Array<[string, string, { body?: unknown; rawBody?: string; token?: string }, number, string]> = [
      [
        'POST',
        '',
        { body: { name: 'x', definition: newDefinition(), ownerId: randomUUID() } },
        400,
        'VALIDATION_FAILED',
      ],
      ['POST', '', { body: { name: 'x', definition: newDefinition({ leverage: 3 }) } }, 400, 'INVALID_STRATEGY'],
      ['POST', '', { body: { name: 'x' } }, 400, 'INVALID_STRATEGY'],
      ['POST', '', { body: { name: 'x', definition: [1] } }, 400, 'INVALID_STRATEGY'],
      ['POST', '', { body: { name: '', definition: newDefinition() } }, 400, 'VALIDATION_FAILED'],
      ['POST', '', { body: { name: 'x'.repeat(101), definition: newDefinition() } }, 400, 'VALIDATION_FAILED'],
      [
        'POST',
        '',
        { body: { name: 'x', description: 'd'.repeat(2001), definition: newDefinition() } },
        400,
        'VALIDATION_FAILED',
      ],
      ['POST', '', { rawBody: '[1,2]' }, 400, 'VALIDATION_FAILED'],
      ['PATCH', `/${created.id}`, { body: {} }, 400, 'VALIDATION_FAILED'],
      ['PATCH', `/${created.id}`, { body: { name: null } }, 400, 'VALIDATION_FAILED'],
      ['PATCH', `/${created.id}`, { body: { version: 7 } }, 400, 'VALIDATION_FAILED'],
      ['GET', '/not-a-uuid', {}, 400, 'VALIDATION_FAILED'],
      ['PATCH', '/not-a-uuid', { body: { name: 'x' } }, 400, 'VALIDATION_FAILED'],
      ['DELETE', '/not-a-uuid', {}, 400, 'VALIDATION_FAILED'],
      ['GET', `/${created.id}`, { token: '' }, 401, 'AUTH_REQUIRED'],
      ['POST', '', { token: '', body: { name: 'x', definition: newDefinition() } }, 401, 'AUTH_REQUIRED'],
    ];
    for (const [method, path, options, status, code] of cases) {
      const res = await request(method, `${b}/api/backtest/strategies${path}`, { token: user.token, ...options });
      const label = `${method} ${path} ${JSON.stringify(options).slice(0, 80)}`;
      assert.equal(res.status, status, `${label}: ${JSON.stringify(res.body)}`);
      assertErrorBody(res.body);
      assert.equal(res.body.code, code, label);
    }
    assert.equal(await strategyCount(user.id), 1);
    assert.equal((await rowOf(created.id))?.version, 1);
  });
});
