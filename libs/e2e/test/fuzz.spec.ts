import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { requestPatiently, waitFor } from '@stocklab/test-support';
import fc from 'fast-check';
import { CODES, definition, prng, startE2EPlatform, type E2EPlatform } from '../src/harness.js';
import { requestsOf, type FuzzRequest, type OpenApiDocument } from '../src/openapi-fuzz.js';

/**
 * Thousands of malformed requests, seeded, across every public endpoint of the three services,
 * through the gateway: random JSON, wrong types, huge strings (under and over the 100 kB body
 * limit), path traversal in uploaded file names and path parameters, SQL and script injection,
 * invalid tokens. None may be answered with a 5xx, no replica may die, all stay ready.
 */

const SEED = 4242;
/** FUZZ_SEED and FUZZ_RUNS run the OpenAPI fuzz longer, or with another seed, on demand. */
const OPENAPI_FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const OPENAPI_FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const REQUESTS = 3000;
const CONCURRENCY = 6;

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];

const NASTY = [
  "' OR '1'='1",
  "'; DROP TABLE auth.users; --",
  '1; SELECT pg_sleep(0)',
  '" OR ""="',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '{{7*7}}',
  '${jndi:ldap://x/a}',
  '../../../../etc/passwd',
  '..\\..\\..\\windows\\win.ini',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '\u0000',
  'null',
  'undefined',
  '__proto__',
  '😀🚀 한국어',
  '',
  ' ',
  '-1',
  '1e309',
  '2026-02-30',
  '9999-99-99',
];
const FIELDS = [
  'email',
  'password',
  'nickname',
  'refreshToken',
  'name',
  'description',
  'definition',
  'from',
  'to',
  'strategyId',
  'allocatedCapital',
  'date',
  'kind',
  'status',
  'limit',
  'cursor',
  '__proto__',
  'constructor',
];

function randomString(random: Random): string {
  const r = random();
  if (r < 0.5) {
    return pick(random, NASTY);
  }
  if (r < 0.8) {
    return Math.floor(random() * 36 ** 8)
      .toString(36)
      .slice(0, 1 + Math.floor(random() * 8));
  }
  return pick(random, NASTY).repeat(1 + Math.floor(random() * 200));
}

function randomJson(random: Random, depth = 0): unknown {
  const r = random();
  if (depth > 3 || r < 0.15) {
    return pick(random, [null, true, false, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2]);
  }
  if (r < 0.5) {
    return randomString(random);
  }
  if (r < 0.7) {
    return Array.from({ length: Math.floor(random() * 5) }, () => randomJson(random, depth + 1));
  }
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(random() * 5); i > 0; i -= 1) {
    out[random() < 0.7 ? pick(random, FIELDS) : randomString(random)] = randomJson(random, depth + 1);
  }
  return out;
}

/** A valid-looking body of the endpoint with one thing wrong (or a random value instead). */
function mutate(random: Random, template: Record<string, unknown>): unknown {
  const r = random();
  const body: Record<string, unknown> = structuredClone(template);
  const keys = Object.keys(body);
  if (r < 0.15 || keys.length === 0) {
    return randomJson(random);
  }
  const key = pick(random, keys);
  if (r < 0.35) {
    delete body[key];
  } else if (r < 0.7) {
    body[key] = randomJson(random);
  } else if (r < 0.8) {
    body[randomString(random)] = randomJson(random);
  } else if (r < 0.95 && typeof body.definition === 'object' && body.definition !== null) {
    const def = body.definition as Record<string, unknown>;
    def[pick(random, Object.keys(def))] = randomJson(random);
  } else {
    body[key] = 'x'.repeat(1000 + Math.floor(random() * 20_000));
  }
  return body;
}

interface Endpoint {
  method: string;
  path: string;
  template?: Record<string, unknown>;
}

const day = '2026-03-10';
const ENDPOINTS: Endpoint[] = [
  {
    method: 'POST',
    path: '/api/auth/signup',
    template: { email: 'a@example.com', password: 'long enough pw', nickname: 'n' },
  },
  { method: 'POST', path: '/api/auth/login', template: { email: 'a@example.com', password: 'wrong password!' } },
  { method: 'POST', path: '/api/auth/refresh', template: { refreshToken: 'x' } },
  { method: 'POST', path: '/api/auth/logout' },
  { method: 'POST', path: '/api/auth/logout-all' },
  { method: 'GET', path: '/api/auth/.well-known/jwks.json' },
  { method: 'GET', path: '/api/auth/me' },
  { method: 'DELETE', path: '/api/auth/me' },
  { method: 'GET', path: '/api/backtest/factors' },
  {
    method: 'POST',
    path: '/api/backtest/backtests',
    template: { definition: definition(CODES), from: '2026-02-26', to: '2026-03-10' },
  },
  { method: 'GET', path: '/api/backtest/backtests' },
  { method: 'GET', path: '/api/backtest/backtests/:id' },
  { method: 'GET', path: '/api/backtest/backtests/:id/equity' },
  { method: 'GET', path: '/api/backtest/backtests/:id/trades' },
  { method: 'GET', path: '/api/backtest/backtests/:id/export' },
  { method: 'DELETE', path: '/api/backtest/backtests/:id' },
  { method: 'GET', path: '/api/backtest/strategies/schema' },
  { method: 'POST', path: '/api/backtest/strategies', template: { name: 's', definition: definition(CODES) } },
  { method: 'GET', path: '/api/backtest/strategies' },
  { method: 'GET', path: '/api/backtest/strategies/:id' },
  { method: 'PATCH', path: '/api/backtest/strategies/:id', template: { name: 'renamed', description: 'd' } },
  { method: 'DELETE', path: '/api/backtest/strategies/:id' },
  { method: 'GET', path: '/api/backtest/datasets' },
  { method: 'GET', path: '/api/backtest/datasets/:id' },
  { method: 'POST', path: '/api/trading/jobs/:job/runs', template: { date: day } },
  { method: 'GET', path: '/api/trading/scheduler' },
  { method: 'GET', path: '/api/trading/portfolio' },
  {
    method: 'POST',
    path: '/api/trading/auto-strategies',
    template: { strategyId: randomUUID(), allocatedCapital: 100_000 },
  },
  { method: 'GET', path: '/api/trading/auto-strategies' },
  { method: 'GET', path: '/api/trading/auto-strategies/:id' },
  { method: 'PATCH', path: '/api/trading/auto-strategies/:id', template: { name: 'x' } },
  { method: 'POST', path: '/api/trading/auto-strategies/:id/deactivate', template: { mode: 'liquidate' } },
  { method: 'GET', path: '/api/trading/auto-strategies/:id/positions' },
  { method: 'GET', path: '/api/trading/auto-strategies/:id/orders' },
  { method: 'GET', path: '/api/trading/auto-strategies/:id/logs' },
  { method: 'GET', path: '/api/trading/auto-strategies/:id/performance' },
  { method: 'GET', path: '/api/trading/calendar/holidays' },
  { method: 'PUT', path: '/api/trading/calendar/holidays/:date', template: { name: 'holiday' } },
  { method: 'DELETE', path: '/api/trading/calendar/holidays/:date' },
];

const PARAMS = [
  ...NASTY,
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  'select',
  'execute',
  'rebalance',
  '2030-01-01',
  day,
  'a'.repeat(3000),
];

function fillPath(random: Random, path: string): string {
  return path.replace(/:(\w+)/g, () => {
    const r = random();
    if (r < 0.2) {
      return randomUUID();
    }
    const raw = pick(random, PARAMS);
    // mostly encoded; sometimes as is (already-encoded traversal, dots, spaces) for the URL parser to take
    return r < 0.85 ? encodeURIComponent(raw) : raw.replace(/[\s#?]/g, '').replaceAll(String.fromCharCode(0), '');
  });
}

function query(random: Random): string {
  if (random() < 0.6) {
    return '';
  }
  const keys = ['limit', 'cursor', 'part', 'format', 'from', 'to', 'year', pick(random, FIELDS)];
  const parts: string[] = [];
  for (let i = 1 + Math.floor(random() * 3); i > 0; i -= 1) {
    parts.push(`${encodeURIComponent(pick(random, keys))}=${encodeURIComponent(randomString(random))}`);
  }
  return `?${parts.join('&')}`;
}

interface Outcome {
  label: string;
  status: number | 'network error';
  detail: string;
}

describe('fuzzing every public endpoint through the gateway', () => {
  let p: E2EPlatform;
  const outcomes: Outcome[] = [];

  beforeAll(async () => {
    p = await startE2EPlatform();
  });

  afterAll(async () => {
    await p?.stop();
  });

  const token = (random: Random): string | undefined => {
    const r = random();
    if (r < 0.45) {
      // a fresh valid token each time: a fuzzed logout revokes the one it was sent with
      return p.token(randomUUID());
    }
    if (r < 0.65) {
      return p.token(randomUUID(), ['user', 'admin']);
    }
    if (r < 0.75) {
      return undefined;
    }
    const valid = p.token(randomUUID());
    const [h, b] = valid.split('.');
    return pick(random, [
      'garbage',
      `${h}.${b}.`,
      `${h}.${b}.AAAA`,
      `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${b}.`,
      `${valid}x`,
      valid.replace(/^./, 'e'),
      'a.b.c',
      'x'.repeat(5000),
      randomString(random).replace(/[^\x20-\x7e]/g, ''),
    ]);
  };

  async function send(random: Random, i: number): Promise<void> {
    const kind = random();
    const headers: Record<string, string> = {};
    const bearer = token(random);
    if (bearer !== undefined) {
      headers.authorization = random() < 0.95 ? `Bearer ${bearer}` : bearer;
    }
    let method: string;
    let path: string;
    let body: string | FormData | undefined;
    if (kind < 0.12) {
      // multipart uploads: traversal and injection in file names, wrong kinds, wrong parts
      method = 'POST';
      path = '/api/backtest/datasets';
      const form = new FormData();
      const fileName = pick(random, [
        '../../../../etc/passwd',
        '..\\..\\..\\boot.ini',
        '/etc/shadow',
        '....//....//x.csv',
        '%2e%2e%2fsecret.csv',
        '<script>alert(1)</script>.csv',
        "bars'; DROP TABLE market.daily_bars; --.csv",
        'a'.repeat(1000),
        'bars.csv',
        '',
      ]);
      const content = pick(random, [
        'code,date,open,high,low,close,volume,trading_value,market_cap,shares_outstanding\n000010,2026-03-10,1,1,1,1,1,1,1,1\n',
        "code,name,market,sector,listed_on,delisted_on\n'; DROP TABLE x; --,<script>,KOSPI,a,2020-01-01,\n",
        randomString(random),
        'x'.repeat(200_000),
      ]);
      const order = random();
      if (order < 0.7) {
        form.append('kind', pick(random, ['securities', 'bars', 'statements', randomString(random)]));
      }
      form.append(
        'file',
        new Blob([content], { type: pick(random, ['text/csv', 'application/octet-stream']) }),
        fileName,
      );
      if (order > 0.85) {
        form.append('kind', 'bars');
        form.append('file', new Blob(['x']), 'second.csv');
      }
      body = form;
    } else {
      const endpoint = pick(random, ENDPOINTS);
      method = random() < 0.05 ? pick(random, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) : endpoint.method;
      path = fillPath(random, endpoint.path) + query(random);
      if (method !== 'GET' && method !== 'DELETE') {
        const shape = random();
        if (shape < 0.08) {
          body = pick(random, ['{"a":', '{', '[1,2', 'nul', '{"email": "x"}}', '\u0000', '"just a string"']);
        } else if (shape < 0.12) {
          // just under the 100 kB body limit
          body = JSON.stringify({ name: 'x'.repeat(95_000), email: 'y' });
        } else if (shape < 0.15) {
          // over it: 413
          body = JSON.stringify({ name: 'x'.repeat(150_000) });
        } else {
          body = JSON.stringify(endpoint.template ? mutate(random, endpoint.template) : randomJson(random));
        }
        headers['content-type'] =
          random() < 0.9 ? 'application/json' : pick(random, ['text/plain', 'application/xml', 'x/y']);
      }
    }
    let url: URL;
    try {
      url = new URL(`${p.gateway}${path}`);
    } catch {
      return; // not a URL a client could send
    }
    const label = `#${i} ${method} ${url.pathname.slice(0, 120)}${url.search.slice(0, 60)}`;
    try {
      // A 503 with Retry-After is the platform's answer when a dependency missed its timeout (a
      // starved machine): sent again as the contract says, the request must then get no 5xx.
      const deadline = Date.now() + 15_000;
      let res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(30_000) });
      while (res.status === 503 && res.headers.has('retry-after') && Date.now() < deadline) {
        await res.text();
        await sleep(500);
        res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(30_000) });
      }
      const text = await res.text();
      outcomes.push({ label, status: res.status, detail: text.slice(0, 200) });
    } catch (error) {
      outcomes.push({ label, status: 'network error', detail: String((error as Error).cause ?? error) });
    }
  }

  it(`answers ${REQUESTS} malformed requests with no 5xx, and every replica stays up and ready`, async () => {
    const random = prng(SEED);
    // the requests are drawn in order from the seeded stream, then sent CONCURRENCY at a time
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < REQUESTS) {
        const i = next;
        next += 1;
        await send(random, i);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));

    const failures = outcomes.filter((o) => o.status === 'network error' || o.status >= 500);
    const byStatus = new Map<string, number>();
    for (const o of outcomes) {
      byStatus.set(String(o.status), (byStatus.get(String(o.status)) ?? 0) + 1);
    }
    process.stdout.write(
      `statuses: ${[...byStatus]
        .sort()
        .map(([s, n]) => `${s} x${n}`)
        .join(', ')} (${outcomes.length} sent)\n`,
    );
    assert.ok(outcomes.length >= REQUESTS * 0.95, `only ${outcomes.length} requests were sent`);
    assert.deepEqual(
      failures.slice(0, 20).map((f) => `${f.label} -> ${f.status} ${f.detail}`),
      [],
      `${failures.length} requests got a 5xx or no answer`,
    );
    assert.ok(byStatus.has('401') && byStatus.has('400') && byStatus.has('413'), 'the fuzz reached the validators');

    for (const { replicas } of p.platform.services) {
      for (const replica of replicas.replicas) {
        assert.ok(replica.running, `${replica.name} is still running`);
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
    for (const prefix of [
      '/api/auth/.well-known/jwks.json',
      '/api/backtest/factors',
      '/api/trading/calendar/holidays',
    ]) {
      const res = await fetch(`${p.gateway}${prefix}`, {
        headers: { authorization: `Bearer ${p.token(randomUUID())}` },
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(res.status, 200, `${prefix} still answers`);
    }
  });

  it('answers the same fault with the same code in every service: bad ids, limits over the maximum, tampered cursors', async () => {
    const admin = { authorization: `Bearer ${p.token(randomUUID(), ['user', 'admin'])}` };
    const ask = async (
      method: string,
      path: string,
      body?: Record<string, unknown>,
    ): Promise<{ status: number; code: unknown; message: unknown }> => {
      const res = await fetch(`${p.gateway}${path}`, {
        method,
        headers: body ? { ...admin, 'content-type': 'application/json' } : admin,
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10_000),
      });
      const answer = (await res.json()) as { code?: unknown; message?: unknown };
      return { status: res.status, code: answer.code, message: answer.message };
    };
    const answers: string[] = [];
    const expect = (label: string, got: { status: number; code: unknown; message: unknown }, code: string) => {
      answers.push(`${label} -> ${got.status} ${String(got.code)}`);
      return got.status === 400 && got.code === code;
    };
    const wrong: string[] = [];
    for (const endpoint of ENDPOINTS.filter((e) => e.path.endsWith(':id') || e.path.includes(':id/'))) {
      const path = endpoint.path.replace(':id', 'not-a-uuid');
      // a valid body where there is one: the id is the only fault
      const got = await ask(endpoint.method, path, endpoint.template);
      if (
        !expect(`${endpoint.method} ${path}`, got, 'VALIDATION_FAILED') ||
        !/id must be a UUID/.test(String(got.message))
      ) {
        wrong.push(`${endpoint.method} ${path}: ${got.status} ${String(got.code)} ${String(got.message)}`);
      }
    }
    const id = randomUUID();
    const paged = [
      '/api/backtest/backtests',
      '/api/backtest/strategies',
      '/api/backtest/datasets',
      `/api/backtest/backtests/${id}/equity`,
      `/api/backtest/backtests/${id}/trades`,
      `/api/trading/auto-strategies/${id}/orders`,
      `/api/trading/auto-strategies/${id}/logs`,
    ];
    for (const path of paged) {
      for (const limit of ['0', '100000', '1.5', 'ten']) {
        if (!expect(`GET ${path}?limit=${limit}`, await ask('GET', `${path}?limit=${limit}`), 'VALIDATION_FAILED')) {
          wrong.push(`GET ${path}?limit=${limit}: ${answers.at(-1)}`);
        }
      }
    }
    for (const path of paged.filter((x) => x.startsWith('/api/backtest/') && !x.endsWith('/datasets'))) {
      if (!expect(`GET ${path}?cursor=x`, await ask('GET', `${path}?cursor=x`), 'INVALID_CURSOR')) {
        wrong.push(`GET ${path}?cursor=x: ${answers.at(-1)}`);
      }
    }
    assert.deepEqual(wrong, [], answers.join('\n'));
  });

  it('answers requests generated from each service’s OpenAPI document (fast-check, fixed seed) with no 5xx, also sent concurrently', async () => {
    const documents: OpenApiDocument[] = [];
    for (const service of ['auth', 'backtest', 'trading']) {
      const res = await fetch(`${p.gateway}/api/${service}/docs/openapi.json`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200, `${service}'s OpenAPI document`);
      documents.push((await res.json()) as OpenApiDocument);
    }
    const tokenKinds = fc.constantFrom('user', 'admin', 'none', 'tampered');
    const requests = fc.oneof(...documents.map((doc) => requestsOf(doc)));
    const batch = fc.array(fc.tuple(requests, tokenKinds), { minLength: 1, maxLength: 4 });
    const seen = new Map<number, number>();
    const fiveHundreds: string[] = [];
    const sendOne = async ([req, kind]: [FuzzRequest, string]): Promise<boolean> => {
      const headers: Record<string, string> = {};
      if (kind !== 'none') {
        const token = p.token(randomUUID(), kind === 'admin' ? ['user', 'admin'] : ['user']);
        headers.authorization = `Bearer ${kind === 'tampered' ? `${token.slice(0, -4)}AAAA` : token}`;
      }
      const res = await requestPatiently(req.method, `${p.gateway}${req.path}`, { rawBody: req.body, headers });
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      if (res.status >= 500) {
        fiveHundreds.push(
          `${req.method} ${req.path.slice(0, 150)} ${String(req.body).slice(0, 150)} -> ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
        );
      }
      return res.status < 500;
    };
    await fc.assert(
      fc.asyncProperty(batch, async (requests) => (await Promise.all(requests.map(sendOne))).every(Boolean)),
      { seed: OPENAPI_FUZZ_SEED, numRuns: OPENAPI_FUZZ_RUNS, endOnFailure: true },
    );
    process.stdout.write(
      `OpenAPI fuzz (seed ${OPENAPI_FUZZ_SEED}, ${OPENAPI_FUZZ_RUNS} batches): ${[...seen]
        .sort(([a], [b]) => a - b)
        .map(([status, n]) => `${status} x${n}`)
        .join(', ')}\n`,
    );
    assert.deepEqual(fiveHundreds.slice(0, 10), []);
    assert.ok(
      (seen.get(400) ?? 0) > 0 && (seen.get(200) ?? 0) + (seen.get(201) ?? 0) > 0,
      'both refusals and successes were reached',
    );
  });
});
