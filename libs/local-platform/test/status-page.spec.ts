import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { generateSigningKeyPair } from '@stocklab/platform';
import { freePort, request, testRedisUrl, uniqueKeyPrefix } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { findRepoRoot, Gateway, STATUS_PAGE_USER_ID, statusPageToken, type StatusSnapshot } from '../src/index.js';

/** Debian's chromium; `.ci/run` installs it. Missing means the test fails, it is never skipped. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-dev-shm-usage',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** Every wait on the page is bounded by this (the page refreshes every second). */
const PAGE_WAIT_MS = 15_000;

const LEADER = 'trading-1-7c9f';
/** A replica-reported string that must be shown as text, never parsed as markup. */
const HOSTILE_ERROR = '<img src=x onerror="window.__pwned=1"> broker said no';

/** A replica stand-in: /health/ready answers `readyStatus`; other paths by `handlers`, else 404. */
class FakeReplica {
  readyStatus = 200;
  readonly handlers = new Map<string, RequestListener>();
  private server: Server | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<FakeReplica> {
    const replica = new FakeReplica(await freePort());
    replica.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://replica').pathname;
      const handler = replica.handlers.get(path);
      if (handler) {
        handler(req, res);
        return;
      }
      if (path === '/health/ready') {
        res.writeHead(replica.readyStatus, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: replica.readyStatus === 200 ? 'ok' : 'error' }));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((resolve) => replica.server?.listen(replica.port, '127.0.0.1', resolve));
    return replica;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server?.listening) {
      return;
    }
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** The payload of a JWT whose Ed25519 signature checks out against `publicKeyPem`, else null. */
function verifiedPayload(token: string, publicKeyPem: string): { sub?: string; roles?: string[] } | null {
  const [header, payload, signature] = token.split('.');
  if (header === undefined || payload === undefined || signature === undefined) {
    return null;
  }
  const ok = verify(
    null,
    Buffer.from(`${header}.${payload}`),
    createPublicKey(publicKeyPem),
    Buffer.from(signature, 'base64url'),
  );
  return ok ? (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub?: string; roles?: string[] }) : null;
}

describe('gateway status page', () => {
  const keys = generateSigningKeyPair();
  const keyPrefix = uniqueKeyPrefix('status-page');
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  const cleanups: Array<() => Promise<void>> = [];
  /** Authorization headers the fake trading replica received on its scheduler endpoint. */
  const schedulerAuth: string[] = [];
  let auth1: FakeReplica;
  let auth2: FakeReplica;
  let trading: FakeReplica;
  let backtest: FakeReplica;
  let worker: FakeReplica;
  let gateway: Gateway;

  beforeAll(async () => {
    [auth1, auth2, trading, backtest, worker] = await Promise.all([
      FakeReplica.start(),
      FakeReplica.start(),
      FakeReplica.start(),
      FakeReplica.start(),
      FakeReplica.start(),
    ]);
    for (const replica of [auth1, auth2, trading, backtest, worker]) {
      cleanups.push(() => replica.close());
    }
    /** A fake service's answer: 401 unless the request bears a platform token (with `role`, when given). */
    const answerSignedIn = (req: IncomingMessage, res: ServerResponse, body: unknown, role?: string): void => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const claims = token ? verifiedPayload(token, keys.publicKeyPem) : null;
      const allowed = claims !== null && (role === undefined || (claims.roles ?? []).includes(role));
      res.writeHead(allowed ? 200 : 401, { 'content-type': 'application/json' });
      res.end(allowed ? JSON.stringify(body) : '{}');
    };
    trading.handlers.set('/api/trading/scheduler', (req, res) => {
      schedulerAuth.push(req.headers.authorization ?? '');
      answerSignedIn(
        req,
        res,
        {
          leader: LEADER,
          epoch: 42,
          role: 'follower',
          identity: 'trading-0-1a2b',
          backend: 'kubernetes',
          ownEpoch: null,
          tradingDate: '2026-11-27',
          lastRuns: [
            {
              runKey: 'execute:2026-11-26T09:00+09:00',
              job: 'execute',
              status: 'failed',
              trigger: 'cron',
              epoch: 42,
              runner: LEADER,
              startedAt: '2026-11-26T00:00:01.000Z',
              finishedAt: '2026-11-26T00:00:03.000Z',
              error: HOSTILE_ERROR,
            },
            {
              runKey: 'select:2026-11-26T07:00+09:00',
              job: 'select',
              status: 'succeeded',
              trigger: 'catch-up',
              epoch: 41,
              runner: 'trading-2-99aa',
              startedAt: '2026-11-25T22:00:01.000Z',
              finishedAt: '2026-11-25T22:00:02.000Z',
              error: null,
            },
          ],
          nextOccurrences: [
            { job: 'select', at: '2026-11-26T22:00:00.000Z', tradingDate: '2026-11-27' },
            { job: 'execute', at: '2026-11-27T00:00:00.000Z', tradingDate: '2026-11-27' },
          ],
        },
        'admin',
      );
    });

    // the market status as the backtest service answers it (a signed-in caller), the last ingest failed
    backtest.handlers.set('/api/backtest/market/status', (req, res) => {
      answerSignedIn(req, res, {
        dataVersion: '17',
        dataUpdatedAt: '2026-11-26T21:00:05.000Z',
        firstTradingDay: '2016-01-04',
        lastTradingDay: '2026-11-25',
        tradingDays: 2_440,
        markets: [
          { market: 'KOSPI', listed: 950, latestBarDate: '2026-11-25' },
          { market: 'KOSDAQ', listed: 1_700, latestBarDate: '2026-11-24' },
        ],
        lastImport: null,
        lastIngest: {
          date: '2026-11-26',
          attempt: 2,
          status: 'failed',
          provider: 'krx-open-api',
          trigger: 'api',
          error: HOSTILE_ERROR,
          startedAt: '2026-11-26T21:00:00.000Z',
          finishedAt: '2026-11-26T21:00:04.000Z',
        },
        lastIngestedDate: '2026-11-25',
      });
    });

    // Three waiting jobs, as BullMQ keeps them: a list of job ids under `<prefix>queue:backtests:wait`.
    await redis.rpush(`${keyPrefix}queue:backtests:wait`, 'job-1', 'job-2', 'job-3');
    await redis.lpush(`${keyPrefix}queue:backtests:active`, 'job-0');
    cleanups.push(async () => {
      const stale = await redis.keys(`${keyPrefix}*`);
      if (stale.length > 0) {
        await redis.del(...stale);
      }
      redis.disconnect();
    });

    gateway = await Gateway.start({
      routes: [
        {
          prefix: '/api/auth',
          service: 'auth',
          upstreams: [
            { url: auth1.url, name: 'auth-0' },
            { url: auth2.url, name: 'auth-1' },
          ],
        },
        { prefix: '/api/trading', service: 'trading', upstreams: [{ url: trading.url, name: 'trading-0' }] },
        { prefix: '/api/backtest', service: 'backtest', upstreams: [{ url: backtest.url, name: 'backtest-0' }] },
      ],
      readinessIntervalMs: 200,
      status: {
        scheduler: { prefix: '/api/trading', token: statusPageToken(keys.privateKeyPem) },
        market: { prefix: '/api/backtest', token: statusPageToken(keys.privateKeyPem) },
        queue: { redisUrl: testRedisUrl(), keyPrefix, queue: 'backtests' },
        cacheMs: 0,
      },
    });
    gateway.addHealthTarget('backtest-worker-0', worker.url, 'backtest-worker');
    await gateway.checkNow();
    cleanups.push(() => gateway.close());
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup();
    }
  });

  it('answers /gateway/status.json with replicas, scheduler and queue depth', async () => {
    const res = await request<StatusSnapshot>('GET', `${gateway.url}/gateway/status.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = res.body;
    assert.deepEqual(
      body.replicas.map((r) => [r.service, r.name, r.prefix, r.url, r.ready, r.lastStatus]),
      [
        ['auth', 'auth-0', '/api/auth', auth1.url, true, 200],
        ['auth', 'auth-1', '/api/auth', auth2.url, true, 200],
        ['backtest', 'backtest-0', '/api/backtest', backtest.url, true, 200],
        ['trading', 'trading-0', '/api/trading', trading.url, true, 200],
        ['backtest-worker', 'backtest-worker-0', null, worker.url, true, 200],
      ],
    );
    assert.ok(body.replicas.every((r) => r.lastCheckAt !== null));

    assert.ok(body.scheduler, 'the scheduler is configured');
    assert.equal(body.scheduler.error, null);
    assert.equal(body.scheduler.source, trading.url);
    assert.equal(body.scheduler.leader, LEADER);
    assert.equal(body.scheduler.epoch, 42);
    assert.deepEqual(
      body.scheduler.lastRuns.map((r) => [r.runKey, r.status]),
      [
        ['execute:2026-11-26T09:00+09:00', 'failed'],
        ['select:2026-11-26T07:00+09:00', 'succeeded'],
      ],
    );
    assert.deepEqual(
      body.scheduler.nextOccurrences.map((o) => o.job),
      ['select', 'execute'],
    );
    // The token the scheduler got: signed with the platform key, admin, the status page's subject.
    const token = /^Bearer (.+)$/.exec(schedulerAuth.at(-1) ?? '')?.[1] ?? '';
    const claims = verifiedPayload(token, keys.publicKeyPem);
    assert.equal(claims?.sub, STATUS_PAGE_USER_ID);
    assert.deepEqual(claims?.roles, ['admin']);

    assert.ok(body.market, 'the market status is configured');
    assert.deepEqual(body.market, {
      source: backtest.url,
      error: null,
      dataVersion: '17',
      lastTradingDay: '2026-11-25',
      markets: [
        { market: 'KOSPI', latestBarDate: '2026-11-25', listed: 950 },
        { market: 'KOSDAQ', latestBarDate: '2026-11-24', listed: 1_700 },
      ],
      lastIngest: {
        date: '2026-11-26',
        status: 'failed',
        provider: 'krx-open-api',
        attempt: 2,
        finishedAt: '2026-11-26T21:00:04.000Z',
        error: HOSTILE_ERROR,
      },
      lastIngestedDate: '2026-11-25',
    });

    assert.ok(body.queue, 'the queue is configured');
    assert.equal(body.queue.error, null);
    assert.equal(body.queue.keys, `${keyPrefix}queue:backtests:`);
    assert.equal(body.queue.depth, 3);
    assert.equal(body.queue.counts?.wait, 3);
    assert.equal(body.queue.counts?.active, 1);
    assert.equal(body.queue.counts?.delayed, 0);

    const html = await fetch(`${gateway.url}/status`);
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(html.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(await html.text(), /<title>StockLab platform status<\/title>/);
    const post = await request('POST', `${gateway.url}/gateway/status.json`);
    assert.equal(post.status, 405);
  });

  it('reports a scheduler it cannot reach and a Redis that does not answer, instead of failing', async () => {
    const unreachable = await Gateway.start({
      routes: [
        { prefix: '/api/trading', upstreams: [trading.url] },
        { prefix: '/api/backtest', upstreams: [backtest.url] },
      ],
      readinessIntervalMs: 3_600_000,
      status: {
        scheduler: { prefix: '/api/trading', token: () => 'not.a.token' },
        market: { prefix: '/api/backtest', token: () => 'not.a.token' },
        queue: { redisUrl: `redis://127.0.0.1:${await freePort()}`, keyPrefix },
      },
    });
    try {
      const res = await request<StatusSnapshot>('GET', `${unreachable.url}/gateway/status.json`);
      assert.equal(res.status, 200);
      assert.equal(res.body.scheduler?.leader, null);
      assert.match(res.body.scheduler?.error ?? '', /HTTP 401/);
      assert.equal(res.body.market?.lastIngest, null);
      assert.match(res.body.market?.error ?? '', /HTTP 401/);
      assert.equal(res.body.queue?.depth, null);
      assert.match(res.body.queue?.error ?? '', /^redis: /);
    } finally {
      await unreachable.close();
    }
  });

  it('renders live in headless chromium and follows a replica going unready', async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: this test drives Debian's chromium (apt-get install chromium; .ci/run installs it)`,
    );
    const profile = mkdtempSync(join(tmpdir(), 'status-page-chromium-'));
    let context: BrowserContext | undefined;
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1280, height: 900 },
        timeout: 30_000,
      });
      // Only the gateway may be contacted: anything else is refused and recorded.
      const foreign: string[] = [];
      const requested: string[] = [];
      await context.route('**/*', async (route) => {
        const url = route.request().url();
        requested.push(url);
        if (url.startsWith(`${gateway.url}/`)) {
          await route.continue();
        } else {
          foreign.push(url);
          await route.abort();
        }
      });
      const page: Page = context.pages()[0] ?? (await context.newPage());
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') {
          pageErrors.push(message.text());
        }
      });

      const response = await page.goto(`${gateway.url}/`, { timeout: PAGE_WAIT_MS });
      assert.equal(response?.status(), 200);
      await page.locator('tr[data-replica="backtest-worker-0"]').waitFor({ timeout: PAGE_WAIT_MS });
      // the gateway's readiness view is live: on a loaded machine a probe can miss its timeout, and
      // the next one (a second later) answers; wait for the page to show the replicas ready, then read it
      await page
        .locator('#replica-summary')
        .filter({ hasText: /5 of 5 ready/ })
        .waitFor({ timeout: PAGE_WAIT_MS });

      const rows = await Promise.all(
        (await page.locator('tr[data-replica]').all()).map(async (tr) => ({
          name: await tr.getAttribute('data-replica'),
          ready: await tr.getAttribute('data-ready'),
          cells: await tr.locator('td').allInnerTexts(),
        })),
      );
      assert.deepEqual(
        rows.map((r) => [r.cells[0], r.name, r.cells[2], r.cells[3], r.ready]),
        [
          ['auth', 'auth-0', auth1.url, 'ready', 'true'],
          ['auth', 'auth-1', auth2.url, 'ready', 'true'],
          ['backtest', 'backtest-0', backtest.url, 'ready', 'true'],
          ['trading', 'trading-0', trading.url, 'ready', 'true'],
          ['backtest-worker', 'backtest-worker-0', worker.url, 'ready', 'true'],
        ],
      );
      assert.match(await page.locator('#replica-summary').innerText(), /5 of 5 ready/);

      const scheduler = await page.locator('#scheduler').innerText();
      assert.match(scheduler, new RegExp(`leader\\s+${LEADER}`));
      assert.match(scheduler, /epoch\s+42/);
      assert.ok(scheduler.includes('execute:2026-11-26T09:00+09:00'), scheduler);
      assert.match(await page.locator('tr[data-run="select:2026-11-26T07:00+09:00"]').innerText(), /succeeded/);
      assert.match(await page.locator('tr[data-run="execute:2026-11-26T09:00+09:00"]').innerText(), /failed/);
      // The replica's "error" is shown as the text it is, not turned into an element.
      assert.equal(
        await page.locator('tr[data-run-error="execute:2026-11-26T09:00+09:00"]').innerText(),
        HOSTILE_ERROR,
      );
      assert.equal(await page.locator('#scheduler img').count(), 0);
      assert.equal(await page.evaluate('window.__pwned'), undefined);

      const market = await page.locator('#market').innerText();
      assert.match(market, /last trading day\s+2026-11-25/);
      assert.match(market, /last ingested\s+2026-11-25/);
      assert.match(await page.locator('tr[data-market="KOSDAQ"]').innerText(), /2026-11-24/);
      assert.match(await page.locator('#last-ingest').innerText(), /failed 2026-11-26 from krx-open-api, attempt 2/);
      // the service's error text is shown as text, as the scheduler's is
      assert.equal(await page.locator('#last-ingest-error').innerText(), HOSTILE_ERROR);
      assert.equal(await page.locator('#market img').count(), 0);

      assert.equal(await page.locator('#queue-depth').innerText(), '3');
      assert.match(await page.locator('#updated').innerText(), /^last updated /);

      // One auth replica turns unready: the page shows it on its own, without a reload.
      auth2.readyStatus = 503;
      await page.locator('tr[data-replica="auth-1"][data-ready="false"]').waitFor({ timeout: PAGE_WAIT_MS });
      assert.equal(await page.locator('tr[data-replica="auth-1"] td.state').innerText(), 'not ready');
      assert.match(await page.locator('tr[data-replica="auth-1"]').innerText(), /HTTP 503/);
      assert.equal(await page.locator('tr[data-replica="auth-0"]').getAttribute('data-ready'), 'true');
      assert.match(await page.locator('#replica-summary').innerText(), /4 of 5 ready/);

      // The queue is live too.
      await redis.rpush(`${keyPrefix}queue:backtests:wait`, 'job-4');
      await page.locator('#queue-depth').filter({ hasText: /^4$/ }).waitFor({ timeout: PAGE_WAIT_MS });

      const screenshots = join(findRepoRoot(), '.run', 'screenshots');
      mkdirSync(screenshots, { recursive: true });
      const file = join(screenshots, 'status-page.png');
      await page.screenshot({ path: file, fullPage: true });
      assert.ok(statSync(file).size > 1000, 'the screenshot was written');

      assert.deepEqual(foreign, [], 'the page is self-contained: nothing but the gateway was asked');
      assert.ok(requested.some((url) => url.endsWith('/gateway/status.json')));
      assert.deepEqual(pageErrors, [], 'no script error, no CSP violation');
    } finally {
      await context?.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);
});
