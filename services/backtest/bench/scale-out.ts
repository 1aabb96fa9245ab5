/**
 * Scale-out of the backtest workers: a queue of full-universe backtests (monthly top-20 momentum
 * over the whole market, 4 users) drained by 1 and then 2 worker processes of one backtest slot
 * each (one per core here), behind one API replica that runs none. Each worker has loaded the
 * market (from the stored snapshot) before the queue is filled, so the figures are the steady
 * state. The queue is filled while the workers are held (BullMQ's pause) and then released, so
 * the drain is theirs alone. Reports backtests per minute and the queue wait (release -> started)
 * p50/p95.
 *
 *   npx tsc -p tsconfig.spec.json && BENCH_DATABASE_URL=postgres://.../db node dist-spec/bench/scale-out.js [count] [workers,...]
 *
 * BENCH_DATABASE_URL: a database holding a market already (bench/market-snapshot.js makes one).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { publishMarketSnapshot } from '@stocklab/market-data';
import { generateSigningKeyPair } from '@stocklab/platform';
import {
  markRevocationListRestored,
  README_EXAMPLE_STRATEGY,
  request,
  startLocalS3,
  startReplicas,
  type TestDatabase,
} from '@stocklab/test-support';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ObjectStorageSnapshotStore } from '../src/market/snapshot-store.js';
import { QUEUE } from '../src/queue/queues.js';
import { ObjectStorage } from '../src/storage/object-storage.js';
import { BACKTEST_ENTRY, BACKTEST_WORKER_ENTRY, backtestEnv, mintToken } from '../test/support.js';

const COUNT = Number(process.argv[2] ?? 200);
const WORKER_COUNTS = (process.argv[3] ?? '1,2').split(',').map(Number);
const USERS = 4;
const databaseUrl = process.env.BENCH_DATABASE_URL;
if (!databaseUrl) {
  throw new Error('BENCH_DATABASE_URL: a database holding a market (see bench/market-snapshot.ts)');
}
const db: TestDatabase = {
  name: new URL(databaseUrl).pathname.slice(1),
  url: databaseUrl,
  drop: async () => undefined,
};

const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? Number.NaN;

const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
const range = await pool.query<{ from: string; to: string }>(
  `SELECT min(date)::text AS from, max(date)::text AS to FROM market.trading_days`,
);
const { from, to } = range.rows[0];
const s3 = await startLocalS3('stocklab-bench');
const storage = new ObjectStorage(
  new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  }),
  s3.bucket,
);
await publishMarketSnapshot(pool, new ObjectStorageSnapshotStore(storage));
storage.destroy();

const keys = generateSigningKeyPair();
const env = backtestEnv(db, s3, keys, { LOG_LEVEL: 'warn', BACKTEST_USER_LIMIT: '100', RUN_MIGRATIONS: 'false' });
await markRevocationListRestored(env.REDIS_URL ?? '', env.REDIS_KEY_PREFIX ?? '');
const api = await startReplicas(1, { entry: BACKTEST_ENTRY, env: { ...env, BACKTEST_CONCURRENCY: '0' }, name: 'api' });
const url = api.urls[0];
const users = await Promise.all(Array.from({ length: USERS }, () => mintToken(keys, randomUUID())));
const body = { definition: README_EXAMPLE_STRATEGY, from, to };

async function untilDone(ids: Array<[string, string]>): Promise<void> {
  const left = new Set(ids.map(([id]) => id));
  while (left.size > 0) {
    const { rows } = await pool.query<{ id: string; status: string }>(
      `SELECT id, status FROM backtest.backtests WHERE id = ANY($1::uuid[])`,
      [[...left]],
    );
    for (const row of rows) {
      if (row.status === 'succeeded') {
        left.delete(row.id);
      } else if (row.status === 'failed' || row.status === 'cancelled') {
        throw new Error(`backtest ${row.id} ${row.status}`);
      }
    }
    await sleep(100);
  }
}

async function submit(n: number): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) {
    const token = users[i % USERS];
    const res = await request<{ id: string }>('POST', `${url}/api/backtest/backtests`, { token, body });
    if (res.status !== 202) {
      throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
    }
    out.push([res.body.id, token]);
  }
  return out;
}

// the services' BullMQ prefix (src/queue/queues.ts): `<REDIS_KEY_PREFIX>queue`
const queueConnection = new Redis(env.REDIS_URL ?? '', { maxRetriesPerRequest: null });
const queue = new Queue(QUEUE.backtests, { connection: queueConnection, prefix: `${env.REDIS_KEY_PREFIX}queue` });

const rows: string[] = [];
try {
  for (const workers of WORKER_COUNTS) {
    const started = await startReplicas(workers, {
      entry: BACKTEST_WORKER_ENTRY,
      env: { ...env, BACKTEST_CONCURRENCY: '1' },
      name: 'worker',
    });
    try {
      // every worker loads the market once before the queue fills (a job each, at once)
      await untilDone(await submit(workers * 2));
      // the queue of COUNT is filled while the workers are held (BullMQ's pause), then released:
      // the drain is the workers' alone, not shared with the API replica taking the submissions
      await queue.pause();
      const t0 = Date.now();
      const ids = await submit(COUNT);
      const submittedMs = Date.now() - t0;
      const released = await pool.query<{ now: Date }>(`SELECT clock_timestamp() AS now`);
      await queue.resume();
      await untilDone(ids);
      const { rows: timing } = await pool.query<{ wait_ms: number; last: Date }>(
        `SELECT extract(epoch FROM started_at - $2::timestamptz) * 1000 AS wait_ms, max(finished_at) OVER () AS last
           FROM backtest.backtests WHERE id = ANY($1::uuid[])`,
        [ids.map(([id]) => id), released.rows[0]?.now],
      );
      const first = released.rows[0]?.now ?? new Date();
      const last = timing[0]?.last ?? new Date();
      const minutes = (last.getTime() - first.getTime()) / 60_000;
      const waits = timing.map((r) => Number(r.wait_ms));
      rows.push(
        `| ${workers} | ${COUNT} | ${(COUNT / minutes).toFixed(0)} | ${(minutes * 60).toFixed(1)} s | ` +
          `${(pct(waits, 50) / 1000).toFixed(1)} s | ${(pct(waits, 95) / 1000).toFixed(1)} s | ${(submittedMs / 1000).toFixed(1)} s |`,
      );
      console.log(rows.at(-1));
    } finally {
      await started.stopAll(10_000);
    }
  }
  console.log(`\nfull universe (${from}..${to}), the README's example strategy, ${USERS} users; 1 API replica\n`);
  console.log(
    '| Workers (1 slot each) | Backtests | Per minute | Drained in | Queue wait p50 | p95 | Filling the queue took |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) {
    console.log(row);
  }
} finally {
  await queue.close();
  queueConnection.disconnect();
  await api.stopAll(10_000);
  await pool.end();
  await s3.stop();
}
