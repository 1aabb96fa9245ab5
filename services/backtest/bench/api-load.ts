/**
 * Benchmark: backtests end to end through the API on a full synthetic universe, and API/health
 * latency on two replicas while 12 backtests run.
 *
 *   npx tsc -p tsconfig.spec.json && node dist-spec/bench/api-load.js [--stocks 2500] [--years 10]
 *
 * Needs PostgreSQL and Redis (TEST_DATABASE_URL / TEST_REDIS_URL or the local defaults); starts
 * its own object store and replicas, and drops its database at the end.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSigningKeyPair } from '@stocklab/platform';
import {
  createTestDatabase,
  markRevocationListRestored,
  request,
  startLocalS3,
  startReplicas,
} from '@stocklab/test-support';
import { loadDemoMarket, writeDemoMarket } from '../src/cli/demo-data.js';
import { BACKTEST_ENTRY, BACKTEST_WORKER_ENTRY, backtestEnv, mintToken } from '../test/support.js';

const { values } = parseArgs({
  options: {
    stocks: { type: 'string' },
    years: { type: 'string' },
    warm: { type: 'string' },
    workers: { type: 'string' },
  },
});
/**
 * As deployed: API replicas take no jobs, worker processes do. On one machine the workers run at
 * a lower CPU priority, standing in for the separate CPU budgets of their pods; --workers 0 runs
 * the jobs inside the two API replicas instead.
 */
const WORKERS = Number(values.workers ?? 1);
const STOCKS = Number(values.stocks ?? 2500);
const YEARS = Number(values.years ?? 10);
const WARM_RUNS = Number(values.warm ?? 5);
const START_YEAR = 2015;

const definition = (top: number, rebalance: string) => ({
  schemaVersion: 1,
  universe: { scope: 'all' },
  ranking: { factor: 'mom_6m', order: 'desc' },
  maxPositions: top,
  weighting: { method: 'equal' },
  rebalance,
  costs: { commissionBps: 1.5, sellTaxBps: 23, slippageBps: 10 },
  initialCapital: 100_000_000,
  benchmark: 'MARKET',
});

function pct(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
const ms = (v: number) => `${v.toFixed(1)} ms`;

async function untilDone(
  url: string,
  token: string,
  id: string,
): Promise<{ status: string; metrics: { numberOfTrades: number } }> {
  for (;;) {
    const res = await request<{ status: string; metrics: { numberOfTrades: number } }>(
      'GET',
      `${url}/api/backtest/backtests/${id}`,
      { token },
    );
    if (['succeeded', 'failed', 'cancelled'].includes(res.body.status)) {
      return res.body;
    }
    await sleep(10);
  }
}

const db = await createTestDatabase('stocklab_bench');
const s3 = await startLocalS3();
const keys = generateSigningKeyPair();
const env = backtestEnv(db, s3, keys, {
  BACKTEST_CONCURRENCY: '2',
  BACKTEST_USER_LIMIT: '3',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
});
await markRevocationListRestored(env.REDIS_URL ?? '', env.REDIS_KEY_PREFIX ?? '');
const dir = mkdtempSync(join(tmpdir(), 'stocklab-bench-'));
try {
  // migrations first (one replica), then the market
  const first = await startReplicas(1, { entry: BACKTEST_ENTRY, env, name: 'backtest' });
  await first.stopAll(5000);
  let t0 = performance.now();
  const paths = await writeDemoMarket({ stocks: STOCKS, years: YEARS, seed: 42, startYear: START_YEAR }, dir);
  const generated = performance.now() - t0;
  t0 = performance.now();
  await loadDemoMarket(paths, db.url);
  const loaded = performance.now() - t0;
  console.log(
    `synthetic market: ${STOCKS} stocks x ${YEARS} years; generated in ${(generated / 1000).toFixed(1)} s, imported in ${(loaded / 1000).toFixed(1)} s`,
  );

  const replicas = await startReplicas(2, {
    entry: BACKTEST_ENTRY,
    env: { ...env, RUN_MIGRATIONS: 'false', BACKTEST_CONCURRENCY: WORKERS > 0 ? '0' : '2' },
    name: 'backtest',
    logDir: process.env.BENCH_LOG_DIR,
  });
  const workers =
    WORKERS > 0
      ? await startReplicas(WORKERS, {
          entry: BACKTEST_WORKER_ENTRY,
          env: { ...env, RUN_MIGRATIONS: 'false', BACKTEST_CONCURRENCY: '2' },
          name: 'worker',
          logDir: process.env.BENCH_LOG_DIR,
        })
      : undefined;
  for (const worker of workers?.replicas ?? []) {
    setPriority(worker.pid as number, 10);
  }
  console.log(
    WORKERS > 0
      ? `topology: 2 API replicas (no jobs) + ${WORKERS} worker process(es) x 2 threads at nice 10`
      : 'topology: 2 API replicas running 2 backtest threads each',
  );
  try {
    const [a, b] = replicas.urls as [string, string];
    const from = `${START_YEAR}-01-01`;
    const to = `${START_YEAR + YEARS - 1}-12-31`;

    // 1. one full-universe backtest end to end: submit, queue, load data, run, store, read
    const token = await mintToken(keys, randomUUID());
    const e2e: number[] = [];
    let coldMs = 0;
    for (let i = 0; i <= WARM_RUNS * 2 + 1; i += 1) {
      const started = performance.now();
      const submitted = await request('POST', `${i % 2 ? b : a}/api/backtest/backtests`, {
        token,
        body: { definition: definition(20, 'monthly'), from, to },
      });
      const done = await untilDone(a, token, submitted.body.id);
      await request('GET', `${b}/api/backtest/backtests/${submitted.body.id}/equity?limit=1000`, { token });
      const elapsed = performance.now() - started;
      if (done.status !== 'succeeded') {
        throw new Error(`backtest ${done.status}`);
      }
      // the first run on each replica loads the market into that process
      if (i < 2) {
        coldMs = Math.max(coldMs, elapsed);
      } else {
        e2e.push(elapsed);
      }
    }
    console.log(`\n| full universe, monthly top 20, ${from}..${to}, through the API | value |`);
    console.log('|---|---|');
    console.log(`| first run on a replica (includes loading the market into the process) | ${ms(coldMs)} |`);
    console.log(`| warm, median of ${e2e.length} | ${ms(pct(e2e, 50))} |`);
    console.log(`| warm, max | ${ms(Math.max(...e2e))} |`);

    // 2. 12 backtests from 4 users at once; probe the API and health meanwhile
    const users = await Promise.all([0, 1, 2, 3].map(() => mintToken(keys, randomUUID())));
    const strategy = await request('POST', `${a}/api/backtest/strategies`, {
      token: users[0],
      body: { name: 'probe', definition: definition(20, 'monthly') },
    });
    const probes: Record<string, number[]> = {
      'GET /health/ready': [],
      'GET /api/backtest/strategies/:id': [],
      'GET /api/backtest/backtests/:id': [],
    };
    const submissions = await Promise.all(
      users.flatMap((userToken, u) =>
        [0, 1, 2].map((k) =>
          request('POST', `${(u + k) % 2 ? a : b}/api/backtest/backtests`, {
            token: userToken,
            body: { definition: definition(10 + k * 5, k === 2 ? 'weekly' : 'monthly'), from, to },
          }),
        ),
      ),
    );
    let running = true;
    const probe = (async () => {
      let i = 0;
      while (running) {
        const url = i % 2 ? a : b;
        i += 1;
        for (const [name, path, tok] of [
          ['GET /health/ready', '/health/ready', undefined],
          ['GET /api/backtest/strategies/:id', `/api/backtest/strategies/${strategy.body.id}`, users[0]],
          ['GET /api/backtest/backtests/:id', `/api/backtest/backtests/${submissions[0]?.body.id}`, users[0]],
        ] as const) {
          const t = performance.now();
          await request('GET', `${url}${path}`, { token: tok });
          probes[name]?.push(performance.now() - t);
        }
        await sleep(20);
      }
    })();
    const batchStart = performance.now();
    await Promise.all(submissions.map((s, i) => untilDone(a, users[Math.floor(i / 3)], s.body.id)));
    const batchMs = performance.now() - batchStart;
    running = false;
    await probe;
    console.log(
      `\n| while 12 full-universe backtests run on 2 replicas (${(batchMs / 1000).toFixed(1)} s) | requests | p50 | p99 | max |`,
    );
    console.log('|---|---|---|---|---|');
    for (const [name, samples] of Object.entries(probes)) {
      console.log(
        `| ${name} | ${samples.length} | ${ms(pct(samples, 50))} | ${ms(pct(samples, 99))} | ${ms(Math.max(...samples))} |`,
      );
    }
  } finally {
    await replicas.stopAll(5000);
    await workers?.stopAll(5000);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await s3.stop();
  await db.drop();
}
