import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { createMigratedDatabase, type TestDatabase } from '@stocklab/test-support';
import pg from 'pg';
import {
  extendMarketSnapshot,
  isMarketIncrement,
  loadMarketSnapshot,
  MarketSnapshotCache,
  onlyAppendedSince,
  publishMarketSnapshot,
  type MarketSnapshot,
  type SnapshotSource,
  type SnapshotStore,
} from '../src/index.js';

/** dist-spec/test -> services/backtest/dist/bundle/migrate.js: the market schema is the backtest service's. */
const BACKTEST_MIGRATE = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../services/backtest/dist/bundle/migrate.js',
);
const CODES = ['000010', '000020', '000030'];

/** A store in memory, with the object store's retention rule (the versions before keepFrom go). */
class MemoryStore implements SnapshotStore {
  readonly objects = new Map<string, Buffer>();

  read(version: string): Promise<Buffer | undefined> {
    return Promise.resolve(this.objects.get(version));
  }

  write(version: string, bytes: Buffer, keepFrom = String(Number(version) - 1)): Promise<void> {
    this.objects.set(version, bytes);
    for (const key of [...this.objects.keys()]) {
      if (Number(key) < Number(keepFrom)) {
        this.objects.delete(key);
      }
    }
    return Promise.resolve();
  }
}

const content = (s: MarketSnapshot): unknown => ({
  version: s.version,
  dates: [...s.data.dates],
  close: [...s.data.close],
  volume: [...s.data.volume],
  marketCap: [...s.data.marketCap],
  benchmarks: Object.fromEntries(Object.entries(s.benchmarks).map(([k, v]) => [k, [...v]])),
});

/**
 * The readers' side of daily increments on a real PostgreSQL (the market schema from the backtest
 * service's migrations): which versions only appended days, extending a snapshot by them, and
 * storing and reading increments. The import's side (what it logs) is services/backtest's
 * daily-increment.spec.
 */
describe('increments against PostgreSQL', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let day = 0;

  /** The next weekday of January 2024 onwards, as yyyy-mm-dd. */
  function nextDay(): string {
    for (;;) {
      day += 1;
      const d = new Date(Date.UTC(2024, 0, day));
      if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6) {
        return d.toISOString().slice(0, 10);
      }
    }
  }

  /** One trading day with a bar per code, as a new data version: logged as an append when `append`. */
  async function addDay(append: boolean): Promise<string> {
    const date = nextDay();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ last: string | null }>(
        `SELECT max(date)::text AS last FROM market.trading_days`,
      );
      for (const [i, code] of CODES.entries()) {
        const price = 1000 + i * 100 + day * 7;
        await client.query(
          `INSERT INTO market.daily_bars (code, date, open, high, low, close, volume, trading_value, market_cap, shares_outstanding)
           VALUES ($1, $2, $3, $3, $3, $3, $4, $5, $6, 1000000)`,
          [code, date, price, 100 + day, price * (100 + day), price * 1_000_000],
        );
      }
      await client.query(`INSERT INTO market.trading_days (date) VALUES ($1)`, [date]);
      const { rows: bumped } = await client.query<{ version: string }>(
        `UPDATE market.data_version SET version = version + 1 RETURNING version::text AS version`,
      );
      await client.query(`INSERT INTO market.data_version_log (version, appended_after) VALUES ($1, $2)`, [
        bumped[0]?.version,
        append ? rows[0]?.last : null,
      ]);
      await client.query('COMMIT');
      return date;
    } finally {
      client.release();
    }
  }

  async function whole(): Promise<MarketSnapshot> {
    const client = await pool.connect();
    return loadMarketSnapshot(client).finally(() => client.release());
  }

  beforeAll(async () => {
    db = await createMigratedDatabase('stocklab_market', { family: 'backtest', migrations: [BACKTEST_MIGRATE] });
    pool = new pg.Pool({ connectionString: db.url, max: 3 });
    for (const code of CODES) {
      await pool.query(
        `INSERT INTO market.securities (code, name, market, sector, listed_on) VALUES ($1, $1, 'KOSPI', 'test', '2020-01-01')`,
        [code],
      );
    }
    for (let i = 0; i < 5; i += 1) {
      await addDay(false);
    }
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('tells the versions that only appended days, and extends a snapshot by exactly those', async () => {
    const base = await whole();
    assert.equal(await onlyAppendedSince(pool, base.version, base.version), true);
    await addDay(true);
    await addDay(true);
    const now = await whole();
    assert.equal(await onlyAppendedSince(pool, base.version, now.version), true);
    assert.equal(await onlyAppendedSince(pool, now.version, base.version), false, 'backwards');
    const client = await pool.connect();
    try {
      const extended = await extendMarketSnapshot(client, base);
      assert.ok(extended);
      assert.deepEqual(content(extended), content(now));
      // a window that must end before the base's last day cannot be made from it
      const ended = await extendMarketSnapshot(client, base, { before: base.data.dates[1] });
      assert.equal(ended, undefined);
      // a version that changed more than days: not extended
      await addDay(false);
      assert.equal(await onlyAppendedSince(pool, now.version, String(Number(now.version) + 1)), false);
      assert.equal(await extendMarketSnapshot(client, now), undefined);
    } finally {
      client.release();
    }
  });

  it('stores appended versions as increments, reads the chain back, and stores whole after another change', async () => {
    const store = new MemoryStore();
    const first = await publishMarketSnapshot(pool, store);
    assert.equal(first.extended, false);
    await addDay(true);
    const second = await publishMarketSnapshot(pool, store, first.version);
    assert.equal(second.extended, true);
    assert.ok(isMarketIncrement(store.objects.get(second.version) as Buffer));
    await addDay(true);
    const third = await publishMarketSnapshot(pool, store, second.version);
    assert.equal(third.extended, true);
    assert.deepEqual([...store.objects.keys()].sort(), [first.version, second.version, third.version].sort());

    const sources: SnapshotSource[] = [];
    const cache = new MarketSnapshotCache(pool, { store, onLoaded: (_, source) => sources.push(source) });
    assert.deepEqual(content(await cache.get()), content(await whole()));
    assert.deepEqual(sources, ['store']);
    // the next version appended, not yet stored: this process extends what it holds
    await addDay(true);
    assert.deepEqual(content(await cache.get()), content(await whole()));
    assert.deepEqual(sources, ['store', 'extended']);

    await addDay(false);
    const again = await publishMarketSnapshot(pool, store, String(Number(third.version) + 1));
    assert.equal(again.extended, false, 'the previous version was never stored by the import job');
    assert.equal(isMarketIncrement(store.objects.get(again.version) as Buffer), false);
  });

  it('loads the recorded delisting dates and the point-in-time market and sector, and stores them', async () => {
    await pool.query(`UPDATE market.securities SET delisted_on = '2024-01-05' WHERE code = '000030'`);
    await pool.query(
      `INSERT INTO market.security_classifications (code, valid_from, market, sector)
       VALUES ('000020', '2024-01-03', 'KOSPI', 'pharma'), ('000020', '2020-01-01', 'KOSDAQ', 'bio')`,
    );
    const loaded = await whole();
    assert.deepEqual(loaded.data.stocks, [
      { market: 'KOSPI', sector: 'test' },
      {
        market: 'KOSPI',
        sector: 'test',
        history: [
          { from: 20200101, market: 'KOSDAQ', sector: 'bio' },
          { from: 20240103, market: 'KOSPI', sector: 'pharma' },
        ],
      },
      { market: 'KOSPI', sector: 'test', delistedOn: 20240105 },
    ]);
    const store = new MemoryStore();
    await publishMarketSnapshot(pool, store);
    const cache = new MarketSnapshotCache(pool, { store });
    assert.deepEqual((await cache.get()).data.stocks, loaded.data.stocks);
  });

  it('gives the engine trailing-twelve-month flows of four stored quarters, the comparisons and EPS', async () => {
    // 000010's quarters 2023Q1..2024Q1 (flows of the quarter alone); operating cash flow missing in 2023Q2
    const quarters: Array<[string, string, number, number, number, number, number | null, number | null]> = [
      ['2023Q1', '2023-05-15', 100, 10, 5, 40, 20, null],
      ['2023Q2', '2023-08-14', 110, 11, 6, 44, null, null],
      ['2023Q3', '2023-11-14', 120, 12, 7, 48, 22, null],
      ['2023Q4', '2024-03-20', 130, 13, 8, 52, 23, null],
      ['2024Q1', '2024-05-16', 140, 14, 9, 56, 24, 500],
    ];
    for (const [period, report, revenue, operating, net, gross, cashFlow, currentAssets] of quarters) {
      await pool.query(
        `INSERT INTO market.financial_statements (code, fiscal_period, report_date, revenue, operating_income,
           net_income, total_equity, total_liabilities, gross_profit, operating_cash_flow, current_assets)
         VALUES ('000010', $1, $2, $3, $4, $5, 1000, 400, $6, $7, $8)`,
        [period, report, revenue, operating, net, gross, cashFlow, currentAssets],
      );
    }
    const [q4, q1] = (await whole()).data.fundamentals[0]?.slice(-2) ?? [];
    // 2023Q4: the first quarter with four stored before it (100 + 110 + 120 + 130); no year before
    assert.equal(q4?.reportDate, 20240320);
    assert.deepEqual([q4?.revenue, q4?.operatingIncome, q4?.netIncome], [460, 46, 26]);
    assert.ok(Number.isNaN(q4?.revenuePrevYear ?? 0), 'no TTM a year before: NaN, not a part year');
    assert.ok(Number.isNaN(q4?.operatingCashFlow), '2023Q2 has none: no TTM operating cash flow');
    // 2024Q1: 110 + 120 + 130 + 140 and so on; the quarter alone and the one before it
    assert.deepEqual(
      [q1?.revenue, q1?.operatingIncome, q1?.netIncome, q1?.grossProfit, q1?.currentAssets],
      [500, 50, 30, 200, 500],
    );
    assert.ok(Number.isNaN(q1?.operatingCashFlow), 'still 2023Q2 in its four quarters');
    assert.deepEqual(
      [q1?.revenueQuarter, q1?.revenuePrevQuarter, q1?.operatingIncomePrevQuarter, q1?.netIncomePrevQuarter],
      [140, 130, 13, 8],
    );
    // EPS on the listed shares of the last trading day up to the quarter's end (1,000,000); the
    // quarter before ended before any trading day here: no shares, so no EPS for it
    assert.equal(q1?.eps, 30 / 1_000_000);
    assert.equal(q1?.epsQuarter, 9 / 1_000_000);
    assert.ok(Number.isNaN(q1?.epsPrevQuarter), 'no EPS for the quarter before');
  });
});
