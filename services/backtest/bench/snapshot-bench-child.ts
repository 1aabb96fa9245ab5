/**
 * A fresh process of services/backtest/bench/market-snapshot.ts, on its own so that it loads only
 * what a backtest process loads (the engine, the market data library, the service's object
 * storage and PostgreSQL clients), not the bench's own tooling (s3rver, the generator):
 *
 *   node snapshot-bench-child.js <database|store|store-change|threads-change|window-change> <databaseUrl> <s3 endpoint> <bucket>
 */
import { FIELDS, loadMarketSnapshot, MarketSnapshotCache, type MarketSnapshot } from '@stocklab/market-data';
import { historyDaysOf, parseStrategyDefinition, runBacktest, selectPicks } from '@stocklab/strategy-engine';
import pg from 'pg';
import { BacktestThreadPool } from '../src/backtests/backtest-runner.js';
import { ObjectStorageSnapshotStore } from '../src/market/snapshot-store.js';
import { storageOf, type ChildReport, type MemoryReport } from './snapshot-bench-storage.js';

/** A fresh process: load the market one way, run one backtest, report times since its own start. */
async function child(mode: string, databaseUrl: string, endpoint: string, bucket: string): Promise<void> {
  // performance.now() counts from this process's start: what passed until here is module loading
  const t0 = performance.now();
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  let snapshot: MarketSnapshot;
  let source = 'database';
  if (mode === 'database') {
    const client = await pool.connect();
    snapshot = await loadMarketSnapshot(client).finally(() => client.release());
  } else {
    const storage = storageOf(endpoint, bucket);
    const cache = new MarketSnapshotCache(pool, {
      store: new ObjectStorageSnapshotStore(storage),
      onLoaded: (_, from) => {
        source = from;
      },
    });
    snapshot = await cache.get();
    storage.destroy();
  }
  const loadMs = performance.now() - t0;
  const { data, benchmarks } = snapshot;
  const parsed = parseStrategyDefinition({
    schemaVersion: 1,
    universe: { scope: 'all' },
    ranking: { factor: 'mom_6m', order: 'desc' },
    maxPositions: 20,
    weighting: { method: 'equal' },
    rebalance: 'monthly',
    costs: { commissionBps: 1.5, sellTaxBps: 23, slippageBps: 10 },
    initialCapital: 100_000_000,
    benchmark: 'MARKET',
  });
  if (!parsed.ok) {
    throw new Error('bench strategy does not parse');
  }
  const t1 = performance.now();
  const result = runBacktest(parsed.value, data, {
    from: data.dates[0],
    to: data.dates[data.dates.length - 1],
    benchmark: benchmarks.MARKET,
  });
  const done = performance.now();
  await pool.end();
  const report: ChildReport = {
    source,
    importMs: t0,
    loadMs,
    // performance.now() counts from this process's start: module loading included
    firstBacktestAtMs: done,
    backtestMs: done - t1,
    trades: result.trades.length,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
  console.log(JSON.stringify(report));
}

/**
 * A data-version change while a job still runs on the old version: a process holds one market,
 * loads the next (a new cache, as after a version bump) and uses both. 'store-change' is a
 * backtest process (whole history, from the stored snapshot); 'window-change' a trading replica
 * (the latest days the README's example strategy needs, from PostgreSQL).
 */
async function memoryChild(mode: string, databaseUrl: string, endpoint: string, bucket: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const storage = storageOf(endpoint, bucket);
  // not a cold-start child: the test tooling's example strategy may load with its library
  const { README_EXAMPLE_STRATEGY } = await import('@stocklab/test-support');
  const example = parseStrategyDefinition(README_EXAMPLE_STRATEGY);
  if (!example.ok) {
    throw new Error('bench strategy does not parse');
  }
  const options = mode === 'window-change' ? { lastDays: Math.max(250, historyDaysOf(example.value)) } : {};
  const load = (): Promise<MarketSnapshot> =>
    new MarketSnapshotCache(pool, { store: new ObjectStorageSnapshotStore(storage) }).get(options);
  const old = await load();
  // threads-change: as a backtest worker runs its jobs, on a thread of the service's pool, which
  // is sent each version's market (the price columns shared, the rest copied into the thread)
  const threads = mode === 'threads-change' ? new BacktestThreadPool() : undefined;
  const backtestOn = (snapshot: MarketSnapshot): Promise<unknown> =>
    (threads as BacktestThreadPool).run({
      definition: example.value,
      snapshot,
      from: snapshot.data.dates[0] ?? 0,
      to: snapshot.data.dates.at(-1) ?? 0,
      benchmark: undefined,
      onProgress: () => undefined,
      signal: new AbortController().signal,
    });
  if (threads) {
    await backtestOn(old);
  }
  const t0 = performance.now();
  const next = await load();
  const secondLoadMs = performance.now() - t0;
  // both in use: the old one by the job still running, the new one by the next
  for (const snapshot of [old, next]) {
    const t = snapshot.data.dates.length - 1;
    selectPicks(example.value, snapshot.data, t);
  }
  if (threads) {
    await backtestOn(next);
    await threads.close();
  }
  storage.destroy();
  await pool.end();
  const report: MemoryReport = {
    mode,
    days: next.data.dates.length,
    stocks: next.data.codes.length,
    bytesPerBar: FIELDS.reduce((sum, f) => sum + next.data[f].BYTES_PER_ELEMENT, 0),
    secondLoadMs,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
  console.log(JSON.stringify(report));
}

const [mode, databaseUrl, endpoint, bucket] = process.argv.slice(2) as [string, string, string, string];
await (mode.endsWith('-change') ? memoryChild : child)(mode, databaseUrl, endpoint, bucket);
