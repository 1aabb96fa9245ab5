/**
 * Cold start of a backtest process with a full market: from a fresh process's start to its first
 * full-universe backtest (monthly top-20 momentum over the whole range), with the market read
 * (a) from PostgreSQL, as every process did before snapshots, and (b) from the snapshot in object
 * storage (s3rver here), as processes do now; plus the snapshot's size and build time, each
 * child's peak RSS, the peak RSS of a backtest process and of a trading replica's window
 * across a data-version change, and a daily increment (one new day imported, stored, and taken
 * up by processes holding the previous version).
 *
 *   npx tsc -p tsconfig.spec.json && node dist-spec/bench/market-snapshot.js --stocks 2500 --years 10
 *
 * BENCH_DATABASE_URL=postgres://.../db uses (and keeps) that database: the market is generated and
 * imported into it only when it holds none (minutes at full size), so later runs start at once.
 * The market's trading values are drawn between volume x low and volume x high, as a real VWAP lies
 * (DemoMarketOptions.tradingValue): the demo market's volume x mean price would make the
 * snapshot's trading value column compress to nothing.
 */
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { generateSigningKeyPair, SERVICE_PROCESS_ENV } from '@stocklab/platform';
import { MarketSnapshotCache, publishMarketSnapshot } from '@stocklab/market-data';
import {
  createTestDatabase,
  markRevocationListRestored,
  README_EXAMPLE_STRATEGY,
  startLocalS3,
  startReplicas,
  type TestDatabase,
} from '@stocklab/test-support';
import { historyDaysOf, parseStrategyDefinition } from '@stocklab/strategy-engine';
import pg from 'pg';
import { loadDemoMarket, writeDemoMarket } from '../src/cli/demo-data.js';
import { loadMarketCsv } from '../src/market/market-loader.js';
import { ObjectStorageSnapshotStore } from '../src/market/snapshot-store.js';
import { storageOf, type ChildReport, type MemoryReport } from './snapshot-bench-storage.js';
import { BACKTEST_ENTRY, backtestEnv } from '../test/support.js';

/** The fresh processes' entry point (loads only what a backtest process loads). */
const CHILD = join(import.meta.dirname, 'snapshot-bench-child.js');
/** The same, bundled as the images' entry points are, by main() */
const BUNDLED_CHILD = join(import.meta.dirname, 'bundle', 'snapshot-bench-child.js');
const BUNDLE_SCRIPT = join(import.meta.dirname, '..', '..', '..', '..', 'scripts', 'lib', 'bundle-service.mjs');

const { values } = parseArgs({
  options: { stocks: { type: 'string' }, years: { type: 'string' }, runs: { type: 'string' } },
});

/**
 * The environment of a fresh process: this one's, with or without the services' glibc tunables,
 * with or without a compile cache (the image's NODE_COMPILE_CACHE, filled at build time).
 */
const childEnv = (hugePages: boolean, compileCache?: string): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const name of [...Object.keys(SERVICE_PROCESS_ENV), 'NODE_COMPILE_CACHE']) {
    delete env[name];
  }
  return {
    ...env,
    ...(hugePages ? SERVICE_PROCESS_ENV : {}),
    ...(compileCache === undefined ? { NODE_DISABLE_COMPILE_CACHE: '1' } : { NODE_COMPILE_CACHE: compileCache }),
  };
};

async function runMemoryChild(
  mode: string,
  nodeOptions: string[],
  databaseUrl: string,
  endpoint: string,
  bucket: string,
): Promise<MemoryReport> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...nodeOptions, CHILD, mode, databaseUrl, endpoint, bucket],
    // as the pods run: with the image's environment
    { maxBuffer: 1 << 20, env: childEnv(true) },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as MemoryReport;
}

async function runChild(
  mode: string,
  databaseUrl: string,
  endpoint: string,
  bucket: string,
  hugePages: boolean,
  compileCache?: string,
  child = CHILD,
): Promise<ChildReport> {
  const { stdout } = await promisify(execFile)(process.execPath, [child, mode, databaseUrl, endpoint, bucket], {
    maxBuffer: 1 << 20,
    env: childEnv(hugePages, compileCache),
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ChildReport;
}

/**
 * A database of an earlier run that already holds a market (the import takes minutes at full
 * size); throws when that market is one whose trading values follow from its prices.
 */
async function holdsMarket(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const present = await client
      .query<{ bars: boolean }>(
        `SELECT to_regclass('market.daily_bars') IS NOT NULL AND EXISTS (SELECT 1 FROM market.daily_bars) AS bars`,
      )
      .then(
        ({ rows }) => rows[0]?.bars === true,
        () => false,
      );
    if (!present) {
      return false;
    }
    // a market kept from before 2026-12-06: its trading values are volume x the mean price, a column
    // the snapshot would store in almost nothing (floor(x + 0.5) is Math.round; round() rounds half to even)
    const { rows } = await client.query<{ follows: boolean }>(
      `SELECT bool_and(trading_value = floor(volume * (open + high + low + close) / 4 + 0.5)) AS follows
         FROM (SELECT * FROM market.daily_bars WHERE volume > 0 AND high > low LIMIT 1000) AS b`,
    );
    if (rows[0]?.follows === true) {
      throw new Error('BENCH_DATABASE_URL holds a market whose trading values follow from its prices: drop it');
    }
    return true;
  } finally {
    await client.end();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  const STOCKS = Number(values.stocks ?? 2500);
  const YEARS = Number(values.years ?? 10);
  const RUNS = Number(values.runs ?? 3);
  const s3 = await startLocalS3('stocklab-bench');
  const reuse = process.env.BENCH_DATABASE_URL;
  const db: TestDatabase = reuse
    ? { name: new URL(reuse).pathname.slice(1), url: reuse, drop: async () => undefined }
    : await createTestDatabase('stocklab_bench');
  const databaseUrl = db.url;
  const dir = mkdtempSync(join(tmpdir(), 'stocklab-bench-'));
  try {
    if (!(await holdsMarket(databaseUrl))) {
      // the migrations, as a replica runs them at start
      const env = backtestEnv(db, s3, generateSigningKeyPair(), { LOG_LEVEL: 'warn' });
      await markRevocationListRestored(env.REDIS_URL ?? '', env.REDIS_KEY_PREFIX ?? '');
      const migrated = await startReplicas(1, { entry: BACKTEST_ENTRY, env, name: 'backtest' });
      await migrated.stopAll(5000);
      const t0 = performance.now();
      // a trading value with a VWAP's noise: the snapshot is not measured on one that follows from the prices
      const paths = await writeDemoMarket(
        { stocks: STOCKS, years: YEARS, seed: 42, startYear: 2015, tradingValue: 'within-range' },
        dir,
      );
      const t1 = performance.now();
      await loadDemoMarket(paths, databaseUrl);
      console.log(
        `synthetic market ${STOCKS} stocks x ${YEARS} years: generated in ${((t1 - t0) / 1000).toFixed(1)} s, ` +
          `imported in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
      );
    }
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    const bars = await pool.query<{ n: string }>('SELECT count(*) AS n FROM market.daily_bars');
    console.log(`market: ${Number(bars.rows[0]?.n).toLocaleString('en')} daily bars`);

    const storage = storageOf(s3.endpoint, s3.bucket);
    const published = await publishMarketSnapshot(pool, new ObjectStorageSnapshotStore(storage));
    storage.destroy();
    await pool.end();
    console.log(
      `snapshot of version ${published.version}: ${(published.bytes / 2 ** 20).toFixed(1)} MiB, ` +
        `built (PostgreSQL read + encode) and stored in ${published.builtInMs} ms`,
    );

    await promisify(execFile)(process.execPath, [BUNDLE_SCRIPT, '--outdir', dirname(BUNDLED_CHILD), CHILD], {
      cwd: join(import.meta.dirname, '..', '..'),
    });
    const rows: string[] = [];
    for (const [mode, hugePages, cached, child, label] of [
      ['database', false, false, CHILD, 'PostgreSQL (before), 4 KiB pages'],
      ['store', false, false, CHILD, 'stored snapshot, 4 KiB pages'],
      ['store', true, false, CHILD, `stored snapshot, ${SERVICE_PROCESS_ENV.GLIBC_TUNABLES}`],
      ['store', true, true, CHILD, `stored snapshot, ${SERVICE_PROCESS_ENV.GLIBC_TUNABLES}, compile cache`],
      [
        'store',
        true,
        true,
        BUNDLED_CHILD,
        `stored snapshot, ${SERVICE_PROCESS_ENV.GLIBC_TUNABLES}, bundled, compile cache (as the image runs)`,
      ],
    ] as const) {
      const compileCache = join(dir, `node-compile-cache-${rows.length}`);
      if (cached) {
        // not measured: fills the cache, as the image build does (libs/platform warm-compile-cache.ts)
        await runChild(mode, databaseUrl, s3.endpoint, s3.bucket, hugePages, compileCache, child);
      }
      const reports: ChildReport[] = [];
      for (let i = 0; i < RUNS; i++) {
        reports.push(
          await runChild(
            mode,
            databaseUrl,
            s3.endpoint,
            s3.bucket,
            hugePages,
            cached ? compileCache : undefined,
            child,
          ),
        );
      }
      if (reports.some((r) => r.source !== mode)) {
        throw new Error(`a ${mode} run loaded its market from ${reports.map((r) => r.source).join(', ')}`);
      }
      const r = (f: (x: ChildReport) => number): string => `${Math.round(median(reports.map(f))).toLocaleString('en')}`;
      rows.push(
        `| ${label} | ${r((x) => x.importMs)} ms | ${r((x) => x.loadMs)} ms | ` +
          `${r((x) => x.backtestMs)} ms | ${r((x) => x.firstBacktestAtMs)} ms | ${r((x) => x.peakRssMb)} MB |`,
      );
    }
    console.log(`\nmedian of ${RUNS} fresh processes each:\n`);
    console.log(
      '| Market read from | Modules loaded | Load | First backtest | Process start to its result | Peak RSS |',
    );
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const row of rows) {
      console.log(row);
    }

    console.log('\na data-version change while a job holds the old version (both loaded at once):\n');
    console.log(
      '| Process (Node options) | Market held | Load of the new version | Peak RSS | Pod memory limit | Share |',
    );
    console.log('| --- | --- | --- | --- | --- | --- |');
    // as the pods run: a V8 heap of half the limit (Node sizes it from the cgroup limit; this
    // machine's 24 GiB would let garbage pile up) and the manifests' NODE_OPTIONS
    for (const [mode, name, limitMb, flags] of [
      ['store-change', 'backtest worker (whole history, stored snapshot)', 2048, []],
      ['threads-change', 'backtest worker, its jobs on a thread of its pool (as it runs them)', 2048, []],
      ['window-change', 'trading replica (latest days, PostgreSQL)', 512, ['--max-semi-space-size=4']],
    ] as const) {
      const options = [`--max-old-space-size=${limitMb / 2}`, ...flags];
      const m = await runMemoryChild(mode, options, databaseUrl, s3.endpoint, s3.bucket);
      const perThousand = (m.bytesPerBar * m.days * 1000) / 2 ** 20;
      console.log(
        `| ${name} (${options.join(' ')}) | ${m.stocks.toLocaleString('en')} stocks x ${m.days.toLocaleString('en')} days ` +
          `(${perThousand.toFixed(0)} MiB per 1,000 stocks) | ${Math.round(m.secondLoadMs).toLocaleString('en')} ms | ` +
          `${Math.round(m.peakRssMb)} MB | ${limitMb} MiB | ${Math.round((m.peakRssMb / (limitMb * 1.048576)) * 100)} % |`,
      );
    }
    await dailyIncrement(databaseUrl, s3.endpoint, s3.bucket);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await s3.stop();
    await db.drop();
  }
}

/** The next weekday after yyyy-mm-dd (the bench's new trading day). */
function nextWeekday(iso: string): string {
  const d = new Date(`${iso}T00:00:00Z`);
  do {
    d.setUTCDate(d.getUTCDate() + 1);
  } while (d.getUTCDay() === 0 || d.getUTCDay() === 6);
  return d.toISOString().slice(0, 10);
}

/**
 * A daily increment at full size: a process holding the whole history (a backtest worker) and
 * one holding a job's window (a trading replica), then one new trading day imported (every stock's
 * bar), the import job's snapshot of the new version (the stored previous one extended), and each
 * process's move to the new version: extended by the day, the history neither reread nor copied.
 */
async function dailyIncrement(databaseUrl: string, endpoint: string, bucket: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 3 });
  const storage = storageOf(endpoint, bucket);
  const store = new ObjectStorageSnapshotStore(storage);
  try {
    const example = parseStrategyDefinition(README_EXAMPLE_STRATEGY);
    if (!example.ok) {
      throw new Error('bench strategy does not parse');
    }
    const { rows: last } = await pool.query<{ day: string }>(
      `SELECT to_char(max(date), 'YYYY-MM-DD') AS day FROM market.trading_days`,
    );
    const lastDay = last[0]?.day;
    const newDay = nextWeekday(lastDay);
    const whole = new MarketSnapshotCache(pool, { store });
    const windows = new MarketSnapshotCache(pool, { store });
    const lastDays = Math.max(250, historyDaysOf(example.value));
    const ymd = (iso: string): number => Number(iso.replaceAll('-', ''));
    const before = await whole.get();
    const window = await windows.get({ lastDays, before: ymd(newDay) });

    // the new day: every stock's last bar again, a day later
    const { rows: bars } = await pool.query<Record<string, string>>(
      `SELECT code, open, high, low, close, volume, trading_value, market_cap, shares_outstanding
         FROM market.daily_bars WHERE date = $1::date ORDER BY code`,
      [lastDay],
    );
    const csv =
      'code,date,open,high,low,close,volume,trading_value,market_cap,shares_outstanding\n' +
      bars
        .map(
          (b) =>
            `${b.code},${newDay},${b.open},${b.high},${b.low},${b.close},${b.volume},${b.trading_value},${b.market_cap},${b.shares_outstanding}`,
        )
        .join('\n') +
      '\n';
    const client = await pool.connect();
    const t0 = performance.now();
    const outcome = await loadMarketCsv(client, 'bars', () => Readable.from([csv])).finally(() => client.release());
    const importMs = performance.now() - t0;
    if (!outcome.succeeded) {
      throw new Error(`the new day did not import: ${JSON.stringify(outcome.errors)}`);
    }
    const published = await publishMarketSnapshot(pool, store, before.version);
    const t1 = performance.now();
    const after = await whole.get();
    const wholeMs = performance.now() - t1;
    const t2 = performance.now();
    const movedWindow = await windows.get({ lastDays, before: ymd(nextWeekday(newDay)) });
    const windowMs = performance.now() - t2;
    if (
      after.data.dates.length !== before.data.dates.length + 1 ||
      after.data.close.buffer !== before.data.close.buffer
    ) {
      throw new Error('the whole history was not extended in place');
    }
    if (movedWindow.data.dates.length !== window.data.dates.length + 1) {
      throw new Error('the window was not extended');
    }
    console.log(`\na daily increment: ${bars.length.toLocaleString('en')} bars of ${newDay}:\n`);
    console.log('| Step | Time |');
    console.log('| --- | --- |');
    console.log(`| import of the day (one transaction, version ${outcome.dataVersion}) | ${Math.round(importMs)} ms |`);
    console.log(
      `| snapshot of the new version stored (${published.extended ? 'an increment on the stored previous version' : 'built from PostgreSQL'}) | ${published.builtInMs.toLocaleString('en')} ms |`,
    );
    console.log(
      `| a process holding the whole history (${before.data.dates.length.toLocaleString('en')} days) moves to it | ${Math.round(wholeMs)} ms |`,
    );
    console.log(
      `| a trading replica's window (${window.data.dates.length} days) moves to the next trading date | ${Math.round(windowMs)} ms |`,
    );
  } finally {
    storage.destroy();
    await pool.end();
  }
}

await main();
