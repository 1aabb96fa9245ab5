import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { computeFactor, FACTOR_IDS, getFactorInfo, plainStatement } from '@stocklab/strategy-engine';
import {
  currentDataVersion,
  dayIndexOf,
  decodeMarketSnapshot,
  loadMarketSnapshot,
  MarketSnapshotCache,
  type MarketSnapshot,
  type SnapshotSource,
} from '@stocklab/market-data';
import pg from 'pg';
import { generateDemoMarket } from '../src/cli/demo-data.js';
import { ObjectStorageSnapshotStore } from '../src/market/snapshot-store.js';
import { ObjectStorage } from '../src/storage/object-storage.js';
import { importDataset, startInProcessBacktest, type InProcessBacktest } from './support.js';

const keyOf = (version: string): string => `market-snapshots/v${version}.bin`;

/**
 * Market snapshots in object storage (real s3rver, real PostgreSQL): the import job stores one per
 * data version, a fresh process loads it with one read, and PostgreSQL stays the source of truth
 * (a missing, corrupt or mislabelled snapshot is rebuilt from it, never trusted).
 */
describe('market snapshots in object storage', () => {
  let svc: InProcessBacktest;
  let pool: pg.Pool;
  let storage: ObjectStorage;
  let admin: string;
  const market = generateDemoMarket({ stocks: 6, years: 1, seed: 11, startYear: 2022 });

  beforeAll(async () => {
    svc = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '0' });
    pool = new pg.Pool({ connectionString: svc.db.url, max: 3 });
    storage = svc.app.get(ObjectStorage);
    admin = await svc.tokenFor(randomUUID(), ['user', 'admin']);
    await importDataset(svc.url, admin, 'securities', market.securities);
    await importDataset(svc.url, admin, 'bars', market.bars);
    await importDataset(svc.url, admin, 'statements', market.statements);
  });
  afterAll(async () => {
    await pool?.end();
    await svc?.close();
  });

  /** A fresh process's cache, recording where each load came from and what it refused. */
  function freshCache(): { cache: MarketSnapshotCache; sources: SnapshotSource[]; rejected: string[] } {
    const sources: SnapshotSource[] = [];
    const rejected: string[] = [];
    const cache = new MarketSnapshotCache(pool, {
      store: new ObjectStorageSnapshotStore(storage),
      onLoaded: (_, source) => sources.push(source),
      onRejected: (_, reason) => rejected.push(reason),
    });
    return { cache, sources, rejected };
  }

  async function fromDatabase(): Promise<MarketSnapshot> {
    const client = await pool.connect();
    return loadMarketSnapshot(client).finally(() => client.release());
  }

  function assertSameMarket(actual: MarketSnapshot, expected: MarketSnapshot): void {
    assert.equal(actual.version, expected.version);
    assert.deepEqual([...actual.data.dates], [...expected.data.dates]);
    assert.deepEqual(actual.data.codes, expected.data.codes);
    for (const field of ['open', 'high', 'low', 'close', 'volume', 'tradingValue', 'marketCap'] as const) {
      assert.deepEqual([...actual.data[field]], [...expected.data[field]], field);
    }
    assert.deepEqual([...actual.benchmarks.MARKET], [...expected.benchmarks.MARKET]);
  }

  it('a window of the latest days is those days of the whole history, and its factors are the whole history’s to the bit', async () => {
    const full = await fromDatabase();
    const client = await pool.connect();
    const window = await loadMarketSnapshot(client, { lastDays: 40 }).finally(() => client.release());
    const D = full.data.dates.length;
    const S = full.data.codes.length;
    const first = D - 40;
    assert.equal(window.data.dates.length, 40);
    assert.deepEqual([...window.precedingDates], [...full.data.dates.subarray(0, first)]);
    assert.deepEqual([...window.data.dates], [...full.data.dates.subarray(first)]);
    for (const field of ['open', 'high', 'low', 'close', 'volume', 'tradingValue', 'marketCap'] as const) {
      assert.deepEqual([...window.data[field]], [...full.data[field].subarray(first * S)], field);
    }
    // a stock's statements from the last one reported before the window's first day: all the
    // engine reads on the window's days (the latest on or before each day), not ten years of them
    const start = window.data.dates[0];
    full.data.fundamentals.forEach((list, s) => {
      const lastBefore = list.filter((st) => st.reportDate < start).at(-1)?.reportDate ?? Number.NEGATIVE_INFINITY;
      assert.deepEqual(
        window.data.fundamentals[s]?.map(plainStatement),
        list.filter((st) => st.reportDate >= lastBefore).map(plainStatement),
        `stock ${s}`,
      );
    });
    assert.ok(
      window.data.fundamentals.some((list, s) => list.length < (full.data.fundamentals[s]?.length ?? 0)),
      'the window leaves out statements no day of it reads',
    );
    // every factor the 40 days hold the lookback of, RSI (recursive since the first bar) among them
    const held = FACTOR_IDS.filter((id) => getFactorInfo(id).lookbackDays < 40);
    assert.ok(held.includes('rsi_14'));
    for (const id of held) {
      const onFull = computeFactor(full.data, id, [D - 1]);
      const onWindow = computeFactor(window.data, id, [39]);
      assert.deepEqual([...onWindow.values], [...onFull.values], id);
      if (getFactorInfo(id).lookbackDays === 0) {
        // the window's first day too: a statement reported before the window still counts there
        const firstDay = computeFactor(window.data, id, [0]);
        assert.deepEqual([...firstDay.values], [...computeFactor(full.data, id, [first]).values], `${id} on day 0`);
      }
    }
    // a day before the window: the distance the whole history has, negative
    for (const day of [0, first - 1, first, D - 1]) {
      assert.equal(dayIndexOf(window, full.data.dates[day]), day - first);
    }
    assert.equal(dayIndexOf(full, full.data.dates[5]), 5);

    // a job of an earlier trading date: the window ends on the market day before that date
    const again = await pool.connect();
    const earlier = await loadMarketSnapshot(again, { lastDays: 40, before: full.data.dates[D - 10] }).finally(() =>
      again.release(),
    );
    assert.deepEqual([...earlier.data.dates], [...full.data.dates.subarray(D - 50, D - 10)]);
    assert.deepEqual([...earlier.data.close], [...full.data.close.subarray((D - 50) * S, (D - 10) * S)]);
  });

  it('the import job stores the new version before its dataset reads "succeeded"', async () => {
    const version = await currentDataVersion(pool);
    const bytes = await storage.read(keyOf(version));
    assert.ok(bytes, `no snapshot of version ${version} after the import`);
    assertSameMarket({ ...decodeMarketSnapshot(bytes), loadedInMs: 0 }, await fromDatabase());
  });

  it('a fresh process loads the stored snapshot, identical to what PostgreSQL holds', async () => {
    const { cache, sources, rejected } = freshCache();
    const snapshot = await cache.get();
    assert.deepEqual(sources, ['store']);
    assert.deepEqual(rejected, []);
    assertSameMarket(snapshot, await fromDatabase());
  });

  it('a corrupt snapshot is refused and rebuilt from PostgreSQL, then stored again', async () => {
    const version = await currentDataVersion(pool);
    const good = (await storage.read(keyOf(version))) as Buffer;
    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 3] = corrupt[corrupt.length - 3] ^ 0x01;
    await storage.put(keyOf(version), corrupt, 'application/octet-stream');

    const { cache, sources, rejected } = freshCache();
    assertSameMarket(await cache.get(), await fromDatabase());
    assert.deepEqual(sources, ['database']);
    assert.match(rejected[0] ?? '', /checksum/);
    assert.ok(((await storage.read(keyOf(version))) as Buffer).equals(good), 'the rebuilt snapshot was stored');
  });

  it('a snapshot stored under the wrong version is refused, and a missing one is rebuilt', async () => {
    const version = await currentDataVersion(pool);
    const good = (await storage.read(keyOf(version))) as Buffer;
    // the bytes of this version under the next version's key: a writer that mislabelled it
    await pool.query('UPDATE market.data_version SET version = version + 1 WHERE id = 1');
    const next = await currentDataVersion(pool);
    await storage.put(keyOf(next), good, 'application/octet-stream');
    const mislabelled = freshCache();
    assert.equal((await mislabelled.cache.get()).version, next);
    assert.deepEqual(mislabelled.sources, ['database']);
    assert.match(mislabelled.rejected[0] ?? '', new RegExp(`holds version ${version}`));

    await storage.delete(keyOf(next));
    const missing = freshCache();
    assert.equal((await missing.cache.get()).version, next);
    assert.deepEqual(missing.sources, ['database']);
    assert.deepEqual(missing.rejected, []);
    assert.equal(decodeMarketSnapshot((await storage.read(keyOf(next))) as Buffer).version, next);
  });

  it('a new data version is loaded once it is committed, and storing it drops the versions before the previous one', async () => {
    const { cache, sources } = freshCache();
    const before = await cache.get();
    // the latest bar of the file, one week later: a new trading day
    const lines = market.bars.trim().split('\n');
    const latest = lines.slice(1).reduce((a, b) => ((b.split(',')[1] ?? '') > (a.split(',')[1] ?? '') ? b : a));
    const fields = latest.split(',');
    const next = new Date(`${fields[1]}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 7);
    const nextDay = next.toISOString().slice(0, 10);
    fields[1] = nextDay;
    await importDataset(svc.url, admin, 'bars', `${lines[0]}\n${fields.join(',')}\n`);
    const after = await cache.get();
    assert.notEqual(after.version, before.version);
    assert.equal(after.data.dates[after.data.dates.length - 1], Number(nextDay.replaceAll('-', '')));
    // a process that held the previous version extends it by the new day (a daily increment)
    assert.deepEqual(sources, ['store', 'extended']);
    const kept = (await storage.list('market-snapshots/')).sort();
    assert.deepEqual(kept, [keyOf(before.version), keyOf(after.version)].sort());
  });
});
