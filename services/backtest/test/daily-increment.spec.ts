import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import {
  isMarketIncrement,
  loadMarketSnapshot,
  publishMarketSnapshot,
  MarketSnapshotCache,
  type LoadMarketOptions,
  type MarketSnapshot,
  type SnapshotSource,
} from '@stocklab/market-data';
import { plainStatement } from '@stocklab/strategy-engine';
import pg from 'pg';
import { generateDemoMarket } from '../src/cli/demo-data.js';
import { loadMarketCsv, type LoadOutcome } from '../src/market/market-loader.js';
import { ObjectStorageSnapshotStore } from '../src/market/snapshot-store.js';
import { ObjectStorage } from '../src/storage/object-storage.js';
import { startInProcessBacktest, type InProcessBacktest } from './support.js';

const FIELDS = ['open', 'high', 'low', 'close', 'volume', 'tradingValue', 'marketCap'] as const;

/** Everything a snapshot holds, as plain values (NaN compares equal under deepEqual). */
function contentOf(s: MarketSnapshot): Record<string, unknown> {
  return {
    version: s.version,
    dates: [...s.data.dates],
    codes: s.data.codes,
    stocks: s.data.stocks,
    fundamentals: s.data.fundamentals.map((list) => list.map(plainStatement)),
    seeds: s.data.seeds ? Object.fromEntries(Object.entries(s.data.seeds).map(([k, v]) => [k, { ...v }])) : undefined,
    ...Object.fromEntries(FIELDS.map((f) => [f, [...s.data[f]]])),
    benchmarks: Object.fromEntries(Object.entries(s.benchmarks).map(([k, v]) => [k, [...v]])),
    precedingDates: [...s.precedingDates],
  };
}

/**
 * Daily increments (real PostgreSQL, the import's own loader): a bars file that only adds days
 * after the last one is logged as an append, and a process holding the previous version extends
 * it by those days (the price columns grown in place) instead of reloading the history; the
 * result is the whole reload's, bit for bit, and the previous version stays as it was for the
 * jobs still on it. Any other change reloads the whole.
 */
describe('daily increments of the market data', () => {
  let svc: InProcessBacktest;
  let pool: pg.Pool;
  const market = generateDemoMarket({ stocks: 12, years: 1, seed: 21, startYear: 2023 });
  const [barsHeader, ...barRows] = market.bars.trim().split('\n');
  const days = [...new Set(barRows.map((l) => l.split(',')[1] ?? ''))].sort();
  const rowsOn = (...on: string[]): string[] => barRows.filter((l) => on.includes(l.split(',')[1] ?? ''));
  const csv = (rows: string[]): string => `${barsHeader}\n${rows.join('\n')}\n`;
  const ymd = (iso: string): number => Number(iso.replaceAll('-', ''));

  async function load(kind: 'securities' | 'bars', content: string): Promise<LoadOutcome> {
    const client = await pool.connect();
    try {
      const outcome = await loadMarketCsv(client, kind, () => Readable.from([content]));
      assert.ok(outcome.succeeded, JSON.stringify(outcome.errors));
      return outcome;
    } finally {
      client.release();
    }
  }

  async function appendedAfter(version: number): Promise<string | null | undefined> {
    const { rows } = await pool.query<{ after: string | null }>(
      `SELECT to_char(appended_after, 'YYYY-MM-DD') AS after FROM market.data_version_log WHERE version = $1`,
      [version],
    );
    return rows[0]?.after;
  }

  async function fromDatabase(options: LoadMarketOptions = {}): Promise<MarketSnapshot> {
    const client = await pool.connect();
    return loadMarketSnapshot(client, options).finally(() => client.release());
  }

  function cacheWithSources(): { cache: MarketSnapshotCache; sources: SnapshotSource[] } {
    const sources: SnapshotSource[] = [];
    return { cache: new MarketSnapshotCache(pool, { onLoaded: (_, source) => sources.push(source) }), sources };
  }

  beforeAll(async () => {
    svc = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '0', IMPORT_CONCURRENCY: '0' });
    pool = new pg.Pool({ connectionString: svc.db.url, max: 3 });
    await load('securities', market.securities);
    // all but the last five days: the increments below add them
    await load('bars', csv(rowsOn(...days.slice(0, -5))));
  });
  afterAll(async () => {
    await pool?.end();
    await svc?.close();
  });

  it('extends the whole history by an appended day, in place, equal to a reload, the old version untouched', async () => {
    const { cache, sources } = cacheWithSources();
    const before = await cache.get();
    const beforeContent = contentOf(before);
    const day = days.at(-5) as string;
    const outcome = await load('bars', csv(rowsOn(day)));
    assert.equal(outcome.changed, true);
    assert.equal(await appendedAfter(outcome.dataVersion), days.at(-6));

    const after = await cache.get();
    assert.deepEqual(sources, ['database', 'extended']);
    assert.deepEqual(contentOf(after), contentOf(await fromDatabase()));
    assert.equal(after.data.dates.at(-1), ymd(day));
    // the columns grew where they were: the same memory, the history not copied
    assert.equal(after.data.close.buffer, before.data.close.buffer);
    // and the version a job may still be running on is exactly what it was
    assert.deepEqual(contentOf(before), beforeContent);
  });

  it('extends by several appended versions at once, and a window by the days its end moved over', async () => {
    const { cache, sources } = cacheWithSources();
    const nextDay = days.at(-4) as string;
    const window: LoadMarketOptions = { lastDays: 30, before: ymd(nextDay) };
    const whole = await cache.get();
    const windows = cacheWithSources();
    const first = await windows.cache.get(window);
    assert.equal(first.data.dates.length, 30);

    const a = await load('bars', csv(rowsOn(nextDay)));
    const b = await load('bars', csv(rowsOn(days.at(-3) as string)));
    assert.equal(await appendedAfter(a.dataVersion), days.at(-5));
    assert.equal(await appendedAfter(b.dataVersion), nextDay);
    const extended = await cache.get();
    assert.deepEqual(sources, ['database', 'extended']);
    assert.deepEqual(contentOf(extended), contentOf(await fromDatabase()));
    assert.equal(extended.data.dates.length, whole.data.dates.length + 2);

    // the next job's window (its trading date after both new days) starts where the old one did
    const later = { lastDays: 30, before: ymd(days.at(-2) as string) };
    const moved = await windows.cache.get(later);
    assert.deepEqual(windows.sources, ['database', 'extended']);
    assert.deepEqual(contentOf(moved), contentOf(await fromDatabase({ lastDays: 32, before: later.before })));
    assert.deepEqual(contentOf(first), contentOf(await fromDatabaseAt(first)), 'the old window is unchanged');
  });

  /** The window `w` as it was loaded, read again: its version's days are all still in the database. */
  async function fromDatabaseAt(w: MarketSnapshot): Promise<MarketSnapshot> {
    const again = await fromDatabase({ lastDays: w.data.dates.length, before: (w.data.dates.at(-1) ?? 0) + 1 });
    return { ...again, version: w.version };
  }

  it('reloads the whole after a change that is not an append: a corrected bar, or a new day with a bar of an old one', async () => {
    const { cache, sources } = cacheWithSources();
    await cache.get();
    // a correction of an existing bar (its volume): updated, not appended
    const [old] = rowsOn(days[3]);
    const fields = old.split(',');
    fields[6] = String(Number(fields[6]) + 1);
    const corrected = await load('bars', csv([fields.join(',')]));
    assert.equal(corrected.updated, 1);
    assert.equal(await appendedAfter(corrected.dataVersion), null);
    assert.deepEqual(contentOf(await cache.get()), contentOf(await fromDatabase()));
    assert.deepEqual(sources, ['database', 'database']);

    // the next day plus a bar for an old day that had none: history changed too
    const { rows } = await pool.query<{ code: string }>(
      `SELECT code FROM market.securities s WHERE NOT EXISTS
         (SELECT 1 FROM market.daily_bars b WHERE b.code = s.code AND b.date = $1::date) ORDER BY code LIMIT 1`,
      [days[0]],
    );
    const missing = rows[0]?.code;
    const mixed = [...rowsOn(days.at(-2) as string)];
    if (missing !== undefined) {
      mixed.push(`${missing},${days[0]},1000,1000,1000,1000,1,1000,1000000,1000`);
    } else {
      // every stock traded on the first day: correct one instead (still not an append)
      const [bar] = rowsOn(days[1]);
      const f = bar.split(',');
      f[6] = String(Number(f[6]) + 1);
      mixed.push(f.join(','));
    }
    const outcome = await load('bars', csv(mixed));
    assert.equal(await appendedAfter(outcome.dataVersion), null);
    assert.deepEqual(contentOf(await cache.get()), contentOf(await fromDatabase()));
    assert.deepEqual(sources, ['database', 'database', 'database']);
  });

  it('a version whose log says nothing (written before the log existed, or by hand) reloads the whole', async () => {
    const { cache, sources } = cacheWithSources();
    await cache.get();
    await pool.query(`UPDATE market.data_version SET version = version + 1`);
    const outcome = await load('bars', csv(rowsOn(days.at(-1) as string)));
    assert.equal(await appendedAfter(outcome.dataVersion), days.at(-2));
    assert.deepEqual(contentOf(await cache.get()), contentOf(await fromDatabase()));
    assert.deepEqual(sources, ['database', 'database'], 'one version in between has no log row');
  });

  it('stores an appended version as an increment on the stored one, read back equal to a build from the whole', async () => {
    const storage = svc.app.get(ObjectStorage);
    const store = new ObjectStorageSnapshotStore(storage);
    const base = await publishMarketSnapshot(pool, store);
    assert.equal(base.extended, false, 'nothing stored before: built from PostgreSQL');
    const barOf = (day: string): string => {
      // the last day's bar of one stock, on `day`
      const f = rowsOn(days.at(-2) as string)[0].split(',');
      f[1] = day;
      return f.join(',');
    };
    const later = (weeks: number): string => {
      const d = new Date(`${days.at(-1)}T00:00:00Z`);
      d.setUTCDate(d.getUTCDate() + 7 * weeks); // after every day loaded
      return d.toISOString().slice(0, 10);
    };
    const first = await load('bars', csv([barOf(later(1))]));
    assert.notEqual(await appendedAfter(first.dataVersion), null);
    // a process starting before the import job stored the new version: the stored previous one, extended
    const early: SnapshotSource[] = [];
    const starting = new MarketSnapshotCache(pool, { store, onLoaded: (_, source) => early.push(source) });
    assert.deepEqual(contentOf(await starting.get()), contentOf(await fromDatabase()));
    assert.deepEqual(early, ['extended']);
    assert.equal(await store.read(String(first.dataVersion)), undefined, 'it stored nothing itself');

    const published = await publishMarketSnapshot(pool, store, base.version);
    assert.equal(published.extended, true);
    assert.equal(published.version, String(first.dataVersion));
    const bytes = (await store.read(published.version)) as Buffer;
    assert.ok(isMarketIncrement(bytes));
    assert.ok(bytes.length < 10_000, `${bytes.length} bytes for one day`);
    // a second day on top: a chain of two increments on the whole snapshot, which is kept
    const second = await load('bars', csv([barOf(later(2))]));
    const chained = await publishMarketSnapshot(pool, store, published.version);
    assert.equal(chained.extended, true);
    assert.deepEqual(
      (await storage.list('market-snapshots/')).sort(),
      [base.version, published.version, chained.version].map((v) => `market-snapshots/v${v}.bin`).sort(),
    );
    const fresh: SnapshotSource[] = [];
    const reader = new MarketSnapshotCache(pool, { store, onLoaded: (_, source) => fresh.push(source) });
    assert.deepEqual(contentOf(await reader.get()), contentOf(await fromDatabase()));
    assert.deepEqual(fresh, ['store']);
    assert.equal(chained.version, String(second.dataVersion));

    // a broken chain (its whole snapshot gone) is never trusted: rebuilt from PostgreSQL
    await storage.delete(`market-snapshots/v${base.version}.bin`);
    const rejected: string[] = [];
    const broken: SnapshotSource[] = [];
    const afterLoss = new MarketSnapshotCache(pool, {
      store,
      onLoaded: (_, source) => broken.push(source),
      onRejected: (_, reason) => rejected.push(reason),
    });
    assert.deepEqual(contentOf(await afterLoss.get()), contentOf(await fromDatabase()));
    assert.deepEqual(broken, ['database']);
    assert.match(rejected[0] ?? '', /not stored/);

    // a version that is not an append is stored whole again
    await pool.query(`UPDATE market.data_version SET version = version + 1`);
    const whole = await publishMarketSnapshot(pool, store, chained.version);
    assert.equal(whole.extended, false);
    assert.equal(isMarketIncrement((await store.read(whole.version)) as Buffer), false);
  });
});
