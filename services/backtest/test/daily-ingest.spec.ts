import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import {
  KiwoomChartDouble,
  KiwoomDailyChartProvider,
  KrxOpenApiDouble,
  KrxOpenApiProvider,
  scriptedMarket,
  type MarketDataProvider,
} from '@stocklab/market-providers';
import { loadMarketSnapshot } from '@stocklab/market-data';
import { loadConfig, runMigrationsWithLock } from '@stocklab/platform';
import {
  assertErrorBody,
  createTestDatabase,
  deleteRedisKeys,
  testRedisUrl,
  uniqueKeyPrefix,
  type TestDatabase,
} from '@stocklab/test-support';
import { Redis } from 'ioredis';
import pg from 'pg';
import { daysFrom, ingestRange } from '../src/cli/ingest.js';
import { backtestConfigSchema } from '../src/config.js';
import { DailyIngest, derivedCorporateAction, UNCLASSIFIED_SECTOR } from '../src/ingest/daily-ingest.js';
import { backtestServiceOptions } from '../src/service-options.js';
import { startInProcessBacktest, type InProcessBacktest } from './support.js';

const KEY = `KRX${'7'.repeat(37)}`;
const WEEK_FROM = '2025-04-28';
const WEEK_TO = '2025-05-08';
/** the scripted market's KOSPI and KOSDAQ codes (KONEX is not ingested: market.securities has no KONEX) */
const INGESTED = new Set(
  scriptedMarket()
    .stocks.filter((s) => s.market !== 'KONEX')
    .map((s) => s.code),
);

interface Tables {
  securities: unknown[];
  bars: unknown[];
  days: string[];
  corporateActions: unknown[];
}

/** The market rows an ingest leaves, in a fixed order. */
async function tables(pool: pg.Pool): Promise<Tables> {
  const securities = await pool.query(
    `SELECT code, name, market, sector, to_char(listed_on, 'YYYY-MM-DD') AS listed_on,
            to_char(delisted_on, 'YYYY-MM-DD') AS delisted_on, synthetic
       FROM market.securities ORDER BY code`,
  );
  const bars = await pool.query(
    `SELECT code, to_char(date, 'YYYY-MM-DD') AS date, open, high, low, close, volume::text AS volume,
            trading_value, market_cap, shares_outstanding::text AS shares
       FROM market.daily_bars ORDER BY date, code`,
  );
  const days = await pool.query<{ d: string }>(
    `SELECT to_char(date, 'YYYY-MM-DD') AS d FROM market.trading_days ORDER BY date`,
  );
  const actions = await pool.query(
    `SELECT code, to_char(ex_date, 'YYYY-MM-DD') AS ex_date, kind, price_factor, share_ratio
       FROM market.corporate_actions ORDER BY ex_date, code`,
  );
  return {
    securities: securities.rows,
    bars: bars.rows,
    days: days.rows.map((r) => r.d),
    corporateActions: actions.rows,
  };
}

async function dataVersion(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ v: string }>(`SELECT version::text AS v FROM market.data_version`);
  return Number(rows[0]?.v);
}

describe('derivedCorporateAction (hand-computed)', () => {
  it('a base price off the previous close with listed shares changed by the same ratio is a split or reverse split', () => {
    // Samsung Electronics, 2018-05-04: 2,650,000 -> base 53,000, 128,386,494 -> 6,419,324,700 shares
    assert.deepEqual(
      derivedCorporateAction(
        { close: 2_650_000, shares: 128_386_494 },
        { basePrice: 53_000, listedShares: 6_419_324_700 },
      ),
      { kind: 'split', priceFactor: 50, shareRatio: 50 },
    );
    // 1:10 reverse split: 1,000 -> base 10,000, 10,000,000 -> 1,000,000 shares
    assert.deepEqual(
      derivedCorporateAction({ close: 1000, shares: 10_000_000 }, { basePrice: 10_000, listedShares: 1_000_000 }),
      { kind: 'reverse_split', priceFactor: 0.1, shareRatio: 0.1 },
    );
    // a base price on the tick grid: 2,655,000 / 50 = 53,100 exactly, but 2,652,000 / 50 = 53,040 -> 53,000 (100-won ticks)
    const rounded = derivedCorporateAction(
      { close: 2_652_000, shares: 1000 },
      { basePrice: 53_000, listedShares: 50_000 },
    );
    assert.deepEqual(rounded, { kind: 'split', priceFactor: 2_652_000 / 53_000, shareRatio: 50 });
  });

  it('an ordinary day, a halt and a listing of new shares at an unchanged base are no event', () => {
    assert.equal(
      derivedCorporateAction({ close: 48_300, shares: 76e6 }, { basePrice: 48_300, listedShares: 76e6 }),
      null,
    );
    // the bonus issue's new shares listing weeks after its ex-rights day: shares up, base = previous close
    assert.equal(derivedCorporateAction({ close: 3335, shares: 1e6 }, { basePrice: 3335, listedShares: 1.5e6 }), null);
    // no change given (the broker's chart), or no base
    assert.equal(derivedCorporateAction({ close: 1000, shares: 1e6 }, { basePrice: null, listedShares: 2e6 }), null);
    assert.equal(derivedCorporateAction({ close: 1000, shares: 1e6 }, { listedShares: 2e6 }), null);
  });

  it('a base price off the previous close without a matching share change is unexplained, not guessed', () => {
    // a 1:0.5 bonus issue's ex-rights day (권리락): base 5,000 / 1.5 = 3,333.3 -> 3,335, the shares list later
    assert.equal(
      derivedCorporateAction({ close: 5000, shares: 1e6 }, { basePrice: 3335, listedShares: 1e6 }),
      'unexplained',
    );
    // shares x2 but the base price / 3: more than 1 % apart
    assert.equal(
      derivedCorporateAction({ close: 9000, shares: 1e6 }, { basePrice: 3000, listedShares: 2e6 }),
      'unexplained',
    );
  });
});

/**
 * The daily ingest (in-process, real PostgreSQL and Redis, the KRX Open API double serving the
 * scripted market of 2025-04-28..05-08): day by day through POST /market/ingest, with a holiday,
 * outages, a halt, a listing, a disappearance and a 50:1 split, against one backfill of the same
 * range into a fresh database; concurrent triggers; bad input.
 */
describe('daily market ingest (in-process, KRX double)', () => {
  let double: KrxOpenApiDouble;
  let svc: InProcessBacktest;
  let pool: pg.Pool;
  let admin: string;
  let user: string;

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const trigger = (body: unknown, token = admin) =>
    svc
      .http()
      .post('/api/backtest/market/ingest')
      .set(bearer(token))
      .send(body as object);
  const runsOf = async (date: string) =>
    (
      await pool.query<{ attempt: number; status: string; error: string | null }>(
        `SELECT attempt, status, error FROM market.ingest_runs WHERE date = $1 ORDER BY attempt`,
        [date],
      )
    ).rows;

  /** A throwaway database of the service's schema, for a test that needs a market of its own. */
  const migratedDatabase = async (): Promise<TestDatabase> => {
    const db = await createTestDatabase('stocklab_backtest');
    await runMigrationsWithLock(
      backtestServiceOptions(loadConfig(backtestConfigSchema, { ...svc.env, DATABASE_URL: db.url })).dataSource,
    );
    return db;
  };

  beforeAll(async () => {
    double = await KrxOpenApiDouble.start();
    double.addKey(KEY);
    svc = await startInProcessBacktest({
      BACKTEST_CONCURRENCY: '0',
      IMPORT_CONCURRENCY: '0',
      KRX_API_KEY: KEY,
      KRX_API_URL: double.url,
      KRX_REQUESTS_PER_SECOND: '50',
      KRX_RETRY_ATTEMPTS: '3',
      KRX_RETRY_BASE_MS: '10',
    });
    pool = new pg.Pool({ connectionString: svc.db.url, max: 2 });
    admin = await svc.tokenFor(randomUUID(), ['user', 'admin']);
    user = await svc.tokenFor(randomUUID());
  });

  afterAll(async () => {
    await pool?.end();
    await svc?.close();
    await double?.close();
  });

  it('refuses bad input with 400 (401/403 without an admin token) and records no run', async () => {
    const bad: unknown[] = [
      {},
      { date: '2025-5-7' },
      { date: '20250507' },
      { date: 20250507 },
      { date: '2025-02-30' },
      { date: '2999-01-02' },
      { date: '1900-01-02' },
      { date: '2025-05-07', tradingDay: 'yes' },
      { date: '2025-05-07', extra: 1 },
      [{ date: '2025-05-07' }],
    ];
    for (const body of bad) {
      const res = await trigger(body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`);
      assertErrorBody(res.body);
    }
    const notJson = await svc
      .http()
      .post('/api/backtest/market/ingest')
      .set(bearer(admin))
      .set('content-type', 'application/json')
      .send('{"date": "2025-05-07"');
    assert.equal(notJson.status, 400);
    assertErrorBody(notJson.body);
    const notAdmin = await trigger({ date: '2025-05-07' }, user);
    assert.equal(notAdmin.status, 403);
    assertErrorBody(notAdmin.body);
    const anonymous = await svc.http().post('/api/backtest/market/ingest').send({ date: '2025-05-07' });
    assert.equal(anonymous.status, 401);
    assertErrorBody(anonymous.body);
    assert.equal((await pool.query('SELECT 1 FROM market.ingest_runs')).rowCount, 0);
    assert.equal(double.faults.count('/svc/apis/sto/'), 0, 'the provider was never asked');
  });

  it('ingests the week day by day: a halt, a holiday, outages, a listing, a disappearance, the split', async () => {
    // 04-28: the first day into an empty market: every KOSPI/KOSDAQ stock is new
    const first = await trigger({ date: '2025-04-28' }).expect(200);
    assert.equal(first.body.status, 'succeeded');
    assert.equal(first.body.replayed, false);
    assert.equal(first.body.rows, 5);
    assert.deepEqual(first.body.details.counts, { KOSPI: 3, KOSDAQ: 2 });
    assert.deepEqual([...first.body.details.listed].sort(), ['111110', '111120', '11112K', '222210', '222220']);
    assert.equal(first.body.changed, true);

    await trigger({ date: '2025-04-29' }).expect(200);
    // a day of bars alone is an append: processes holding the previous version extend it by the day
    const log = await pool.query(
      `SELECT to_char(appended_after, 'YYYY-MM-DD') AS after FROM market.data_version_log ORDER BY version DESC LIMIT 1`,
    );
    assert.equal(log.rows[0]?.after, '2025-04-28');
    // and the snapshot was published as the import job publishes it: the first day whole, this one
    // as an increment of it
    const chain = await pool.query<{ version: string; chain: number | null }>(
      `SELECT version::text AS version, stored_chain AS chain FROM market.data_version_log ORDER BY version DESC LIMIT 2`,
    );
    assert.deepEqual(
      chain.rows.map((r) => r.chain),
      [1, 0],
    );
    const before30 = await tables(pool);
    const version29 = await dataVersion(pool);

    // 04-30: KRX down for longer than the retries: a failed run, nothing changed, 503 to the caller
    double.inject('http-503', { times: Infinity });
    const down = await trigger({ date: '2025-04-30' });
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assertErrorBody(down.body);
    assert.equal(down.body.code, 'INGEST_FAILED');
    double.faults.clear();
    assert.deepEqual(await tables(pool), before30);
    assert.equal(await dataVersion(pool), version29);
    const [failed] = await runsOf('2025-04-30');
    assert.equal(failed?.status, 'failed');
    assert.match(failed?.error ?? '', /ProviderUnavailable.*gave up after 3 attempts/);
    const status = await svc.http().get('/api/backtest/market/status').set(bearer(user)).expect(200);
    assert.equal(status.body.lastIngest.status, 'failed');
    assert.equal(status.body.lastIngest.date, '2025-04-30');
    assert.equal(status.body.lastIngestedDate, '2025-04-29');

    // a partial answer (KOSDAQ answering no rows while KOSPI trades) is refused the same way
    double.inject('partial', { path: 'ksq_bydd_trd' });
    const partial = await trigger({ date: '2025-04-30' });
    assert.equal(partial.status, 503);
    assert.match(partial.body.message, /ProviderDataInvalid/);
    double.faults.clear();
    assert.deepEqual(await tables(pool), before30);

    // the third attempt meets a short outage that the adapter's retries ride out
    double.inject('http-503', { times: 2, path: 'ksq_bydd_trd' });
    const recovered = await trigger({ date: '2025-04-30' }).expect(200);
    assert.equal(recovered.body.status, 'succeeded');
    assert.equal(recovered.body.attempt, 3);
    assert.deepEqual(recovered.body.details.untraded, ['111110'], 'the halted stock');
    double.faults.clear();
    const halted = await pool.query(
      `SELECT open, high, low, close, volume::int AS volume FROM market.daily_bars WHERE code = '111110' AND date = '2025-04-30'`,
    );
    const prior = await pool.query(`SELECT close FROM market.daily_bars WHERE code = '111110' AND date = '2025-04-29'`);
    const carried = prior.rows[0].close as number;
    assert.deepEqual(halted.rows[0], { open: carried, high: carried, low: carried, close: carried, volume: 0 });

    // 05-01, a holiday: "no trading", nothing changed; with the caller's calendar saying it trades,
    // the same empty answer is "not published yet": a failed run
    const versionBefore = await dataVersion(pool);
    const notPublished = await trigger({ date: '2025-05-01', tradingDay: true });
    assert.equal(notPublished.status, 503);
    assert.match(notPublished.body.message, /not published/);
    const holiday = await trigger({ date: '2025-05-01', tradingDay: false }).expect(200);
    assert.equal(holiday.body.status, 'no_trading');
    assert.equal(holiday.body.rows, 0);
    assert.equal(await dataVersion(pool), versionBefore);

    // 05-02: a listing (a new security, listed that day) and a delisted stock that stops appearing
    const listing = await trigger({ date: '2025-05-02' }).expect(200);
    assert.deepEqual(listing.body.details.listed, ['222230']);
    assert.deepEqual(listing.body.details.disappeared, ['222220']);
    const newcomer = await pool.query(
      `SELECT name, market, sector, to_char(listed_on, 'YYYY-MM-DD') AS listed_on, delisted_on, synthetic
         FROM market.securities WHERE code = '222230'`,
    );
    assert.deepEqual(newcomer.rows[0], {
      name: '새봄로보틱스',
      market: 'KOSDAQ',
      sector: UNCLASSIFIED_SECTOR,
      listed_on: '2025-05-02',
      delisted_on: null,
      synthetic: false,
    });
    const gone = await pool.query(`SELECT delisted_on FROM market.securities WHERE code = '222220'`);
    assert.equal(gone.rows[0].delisted_on, null, 'a delisting is not guessed from absence');

    for (const date of ['2025-05-03', '2025-05-04', '2025-05-05', '2025-05-06']) {
      const res = await trigger({ date }).expect(200);
      assert.equal(res.body.status, 'no_trading', date);
    }

    // 05-07: the split's first day: listed shares x50, prices /50, stored as KRX reports them
    const split = await trigger({ date: '2025-05-07' }).expect(200);
    assert.equal(split.body.status, 'succeeded');
    const shares = await pool.query<{ date: string; shares: string }>(
      `SELECT to_char(date, 'YYYY-MM-DD') AS date, shares_outstanding::text AS shares FROM market.daily_bars
        WHERE code = '111110' AND date IN ('2025-05-02', '2025-05-07') ORDER BY date`,
    );
    assert.equal(Number(shares.rows[1]?.shares), Number(shares.rows[0]?.shares) * 50);
    // and the event it derives: the base price (close - CMPPREVDD_PRC) is 05-02's close / 50 on the
    // tick grid, the listed shares x50
    const closeBefore = (
      await pool.query<{ close: number }>(
        `SELECT close FROM market.daily_bars WHERE code = '111110' AND date = '2025-05-02'`,
      )
    ).rows[0]?.close;
    const base = scriptedMarket().bars.find((b) => b.code === '111110' && b.date === '20250507')?.basePrice as number;
    assert.equal(base, Math.round(closeBefore / 50 / 100) * 100);
    assert.deepEqual(split.body.details.corporateActions, [
      { code: '111110', kind: 'split', priceFactor: closeBefore / base, shareRatio: 50 },
    ]);
    assert.equal(split.body.details.basePriceChanges, undefined, 'no other stock had its base price moved');
    const recorded = await pool.query(
      `SELECT code, to_char(ex_date, 'YYYY-MM-DD') AS ex_date, kind, price_factor, share_ratio FROM market.corporate_actions`,
    );
    assert.deepEqual(recorded.rows, [
      { code: '111110', ex_date: '2025-05-07', kind: 'split', price_factor: closeBefore / base, share_ratio: 50 },
    ]);
    // a version with an event is not a plain append: readers holding the previous version reload it whole
    const splitLog = await pool.query(`SELECT appended_after FROM market.data_version_log WHERE version = $1`, [
      split.body.dataVersion,
    ]);
    assert.equal(splitLog.rows[0]?.appended_after, null);
    // the engine's market data carries it: a split at 05-07, the stock's index
    const client = await pool.connect();
    try {
      const { data } = await loadMarketSnapshot(client);
      assert.deepEqual(data.corporateActions, [
        {
          stock: data.codes.indexOf('111110'),
          exDate: 20250507,
          kind: 'split',
          priceFactor: closeBefore / base,
          shareRatio: 50,
        },
      ]);
      const window = await loadMarketSnapshot(client, { lastDays: 1 });
      assert.equal(window.data.corporateActions, undefined, 'a window starting on the ex-date needs no event');
    } finally {
      client.release();
    }
  });

  it('two concurrent triggers of one date ingest it once; a later trigger answers the same run', async () => {
    const requestsBefore = double.faults.count('/svc/apis/sto/');
    const versionBefore = await dataVersion(pool);
    const [a, b] = await Promise.all([trigger({ date: WEEK_TO }), trigger({ date: WEEK_TO })]);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.deepEqual([a.body.replayed, b.body.replayed].sort(), [false, true]);
    const { replayed: _a, ...runA } = a.body as Record<string, unknown>;
    const { replayed: _b, ...runB } = b.body as Record<string, unknown>;
    assert.deepEqual(runA, runB);
    assert.equal(double.faults.count('/svc/apis/sto/') - requestsBefore, 2, 'KOSPI and KOSDAQ asked once');
    assert.equal(await dataVersion(pool), versionBefore + 1, 'one new data version');
    assert.deepEqual(await runsOf(WEEK_TO), [{ attempt: 1, status: 'succeeded', error: null }]);

    const again = await trigger({ date: WEEK_TO }).expect(200);
    assert.equal(again.body.replayed, true);
    assert.equal(again.body.attempt, 1);
    assert.equal(double.faults.count('/svc/apis/sto/') - requestsBefore, 2);

    // freshness for Prometheus: 05-08 00:00 Asia/Seoul, and when the run finished
    const metrics = await svc.http().get('/metrics').expect(200);
    const gauge = (name: string): number =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics.text)?.[1]);
    assert.equal(
      gauge('backtest_market_ingest_last_completed_date_seconds'),
      Date.UTC(2025, 4, 7, 15) / 1000,
      metrics.text
        .split('\n')
        .filter((l) => l.includes('market_ingest'))
        .join('\n'),
    );
    const finished = Date.parse(a.body.finishedAt as string) / 1000;
    assert.ok(Math.abs(gauge('backtest_market_ingest_last_success_timestamp_seconds') - finished) < 0.01);

    const status = await svc.http().get('/api/backtest/market/status').set(bearer(user)).expect(200);
    assert.equal(status.body.lastIngest.date, WEEK_TO);
    assert.equal(status.body.lastIngest.status, 'succeeded');
    assert.equal(status.body.lastIngestedDate, WEEK_TO);
    assert.equal(status.body.lastTradingDay, WEEK_TO);
    assert.deepEqual(
      (status.body.markets as Array<{ market: string; latestBarDate: string }>).map((m) => [m.market, m.latestBarDate]),
      [
        ['KOSPI', WEEK_TO],
        ['KOSDAQ', WEEK_TO],
      ],
    );
  });

  it('leaves exactly the rows a single backfill of the same range leaves in a fresh database', async () => {
    const daily = await tables(pool);
    const script = scriptedMarket().bars.filter((b) => INGESTED.has(b.code));
    assert.equal(daily.bars.length, script.length, 'every KOSPI/KOSDAQ bar of the script, once');
    assert.deepEqual(daily.days, ['2025-04-28', '2025-04-29', '2025-04-30', '2025-05-02', '2025-05-07', '2025-05-08']);

    let fresh: TestDatabase | undefined;
    let freshPool: pg.Pool | undefined;
    const prefix = uniqueKeyPrefix('ingest-cli');
    const redis = new Redis(testRedisUrl(), { keyPrefix: prefix });
    try {
      fresh = await migratedDatabase();
      freshPool = new pg.Pool({ connectionString: fresh.url, max: 2 });
      const provider = new KrxOpenApiProvider({
        authKey: KEY,
        redis,
        host: double.url,
        perSecond: 50,
        retry: { attempts: 3, baseDelayMs: 10 },
      });
      const lines: string[] = [];
      const { results, failed } = await ingestRange(
        { pool: freshPool, provider, log: (l) => lines.push(l) },
        WEEK_FROM,
        WEEK_TO,
      );
      assert.equal(failed, undefined, lines.join('\n'));
      assert.deepEqual(
        results.map((r) => r.date),
        daysFrom(WEEK_FROM, WEEK_TO),
      );
      assert.deepEqual(await tables(freshPool), daily);
      // the backfill is idempotent too: a second run changes nothing and asks nothing of succeeded days
      const version = await dataVersion(freshPool);
      const again = await ingestRange({ pool: freshPool, provider }, WEEK_FROM, WEEK_TO);
      assert.ok(again.results.every((r) => r.status === 'no_trading' || r.replayed));
      assert.equal(await dataVersion(freshPool), version);
    } finally {
      await freshPool?.end();
      await fresh?.drop();
      redis.disconnect();
      await deleteRedisKeys(testRedisUrl(), prefix);
    }
  });
  it("KRX down on a trading day: the broker's chart gives the day, the same bars; an event's day waits for KRX", async () => {
    let fresh: TestDatabase | undefined;
    let freshPool: pg.Pool | undefined;
    let chart: KiwoomChartDouble | undefined;
    const prefix = uniqueKeyPrefix('ingest-fallback');
    const redis = new Redis(testRedisUrl(), { keyPrefix: prefix });
    try {
      fresh = await migratedDatabase();
      freshPool = new pg.Pool({ connectionString: fresh.url, max: 2 });
      chart = await KiwoomChartDouble.start();
      chart.addAppKey('fallback-app-key', 'fallback-secret');
      const krx = new KrxOpenApiProvider({
        authKey: KEY,
        redis,
        host: double.url,
        perSecond: 50,
        retry: { attempts: 2, baseDelayMs: 10 },
      });
      const fallback = new KiwoomDailyChartProvider({
        clientOptions: { host: chart.url, appKey: 'fallback-app-key', secretKey: 'fallback-secret', redis },
        retry: { attempts: 2, baseDelayMs: 10 },
      });
      const ingest = new DailyIngest({ pool: freshPool, provider: krx, fallback });
      await ingestRange({ pool: freshPool, provider: krx }, '2025-04-28', '2025-04-29');

      double.inject('http-503', { times: Infinity });
      // without the caller's calendar the outage is only an outage: failed, the chart not asked
      const outage = await ingest.ingest('2025-04-30', { trigger: 'cli' });
      assert.equal(outage.status, 'failed');
      assert.equal(chart.faults.count('/api/dostk/chart'), 0);

      const day = await ingest.ingest('2025-04-30', { trigger: 'cli', tradingDay: true });
      assert.equal(day.status, 'succeeded', day.error ?? '');
      assert.equal(day.provider, 'kiwoom-chart');
      assert.equal(day.details.fallback?.asked, 5);
      assert.deepEqual(day.details.fallback?.absent, []);
      assert.match(day.details.fallback?.reason ?? '', /ProviderUnavailable/);
      assert.deepEqual(day.details.untraded, ['111110'], 'the halted stock, as KRX shows it');
      // the bars KRX's own answer left for that day (the week above), but for the chart's trading
      // value in whole millions of KRW
      const barsOn = async (p: pg.Pool, date: string) =>
        (await tables(p)).bars.filter((b) => (b as { date: string }).date === date) as Array<Record<string, unknown>>;
      const fromKrx = await barsOn(pool, '2025-04-30');
      assert.equal(fromKrx.length, 5);
      assert.deepEqual(
        await barsOn(freshPool, '2025-04-30'),
        fromKrx.map((b) => ({ ...b, trading_value: Math.round(Number(b.trading_value) / 1e6) * 1e6 })),
      );

      double.faults.clear();
      await ingestRange({ pool: freshPool, provider: krx }, '2025-05-01', '2025-05-02');
      // 05-07, the split's first day: the chart's base price for 111110 is the close / 50, and only
      // KRX gives the new listed shares: the day is not taken from the chart
      double.inject('http-503', { times: Infinity });
      const splitDay = await ingest.ingest('2025-05-07', { trigger: 'cli', tradingDay: true });
      assert.equal(splitDay.status, 'failed');
      assert.match(
        splitDay.error ?? '',
        /fallback ProviderUnavailable: kiwoom-chart: the base price of 111110 moved on 2025-05-07/,
      );
      const none = await freshPool.query(`SELECT count(*)::int AS n FROM market.daily_bars WHERE date = '2025-05-07'`);
      assert.equal(none.rows[0]?.n, 0);
      double.faults.clear();
      const fromKrxAgain = await ingest.ingest('2025-05-07', { trigger: 'cli', tradingDay: true });
      assert.equal(fromKrxAgain.status, 'succeeded');
      assert.equal(fromKrxAgain.provider, 'krx-open-api');
      assert.deepEqual(
        fromKrxAgain.details.corporateActions?.map((a) => [a.code, a.kind]),
        [['111110', 'split']],
      );
    } finally {
      double.faults.clear();
      await freshPool?.end();
      await fresh?.drop();
      await chart?.close();
      redis.disconnect();
      await deleteRedisKeys(testRedisUrl(), prefix);
    }
  });

  it('two replicas racing one date with a slow provider: one ingests, the other answers its run; a run left by a dead process is taken over', async () => {
    let fresh: TestDatabase | undefined;
    const pools: pg.Pool[] = [];
    const prefix = uniqueKeyPrefix('ingest-race');
    const redis = new Redis(testRedisUrl(), { keyPrefix: prefix });
    try {
      fresh = await migratedDatabase();
      const krx = new KrxOpenApiProvider({ authKey: KEY, redis, host: double.url, perSecond: 50 });
      let calls = 0;
      const slow: MarketDataProvider = {
        name: krx.name,
        async dailyBars(date, options) {
          calls += 1;
          await sleep(300);
          return krx.dailyBars(date, options);
        },
      };
      const replica = () => {
        const p = new pg.Pool({ connectionString: fresh?.url, max: 2 });
        pools.push(p);
        return new DailyIngest({ pool: p, provider: slow });
      };
      const [one, two] = [replica(), replica()];
      // a run some process claimed before it died (its lock went with its connection)
      await pools[0]?.query(
        `INSERT INTO market.ingest_runs (date, attempt, status, provider, trigger) VALUES ('2025-04-28', 1, 'running', 'krx-open-api', 'api')`,
      );
      const results = await Promise.all([
        one.ingest('2025-04-28', { trigger: 'api' }),
        sleep(50).then(() => two.ingest('2025-04-28', { trigger: 'api' })),
      ]);
      assert.equal(calls, 1, 'the provider was asked by one replica');
      assert.deepEqual(
        results.map((r) => [r.status, r.attempt, r.replayed]),
        [
          ['succeeded', 2, false],
          ['succeeded', 2, true],
        ],
      );
      const runs = await pools[0]?.query(
        `SELECT attempt, status, error FROM market.ingest_runs WHERE date = '2025-04-28' ORDER BY attempt`,
      );
      assert.equal(runs?.rows[0]?.status, 'failed');
      assert.match(runs?.rows[0]?.error ?? '', /interrupted/);
      assert.equal(runs?.rows[1]?.status, 'succeeded');
      const bars = await pools[0]?.query(`SELECT count(*)::int AS n FROM market.daily_bars`);
      assert.equal(bars?.rows[0]?.n, 5);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await fresh?.drop();
      redis.disconnect();
      await deleteRedisKeys(testRedisUrl(), prefix);
    }
  });
  it('a day the import rules refuse (here a name too long) rolls back whole: the securities and the bars', async () => {
    const before = await tables(pool);
    const version = await dataVersion(pool);
    const bar = (code: string, name: string) => ({
      date: '20250509',
      code,
      name,
      market: 'KOSDAQ' as const,
      open: 1000,
      high: 1100,
      low: 990,
      close: 1050,
      volume: 10,
      tradingValue: 10_400,
      marketCap: 1050 * 1000,
      listedShares: 1000,
      traded: true,
    });
    const refusing: MarketDataProvider = {
      name: 'scripted',
      dailyBars: (date) =>
        Promise.resolve({
          date,
          trading: true,
          markets: ['KOSPI', 'KOSDAQ'],
          bars: [bar('222210', '가람바이오'), bar('999990', 'x'.repeat(250))],
          counts: { KOSPI: 0, KOSDAQ: 2 },
          absent: [],
          provider: 'scripted',
        }),
    };
    const result = await new DailyIngest({ pool, provider: refusing }).ingest('2025-05-09', { trigger: 'api' });
    assert.equal(result.status, 'failed');
    assert.match(result.error ?? '', /securities line 2: name is longer than 200 characters/);
    assert.deepEqual(await tables(pool), before);
    assert.equal(await dataVersion(pool), version);
  });

  it("a market transfer in the provider's data is kept point in time: the old market until the day before, the new one from that day", async () => {
    const { rows: last } = await pool.query<{
      code: string;
      market: 'KOSPI' | 'KOSDAQ';
      close: number;
      shares: number;
    }>(
      `SELECT b.code, s.market, b.close, b.shares_outstanding::float8 AS shares
         FROM market.daily_bars b JOIN market.securities s USING (code)
        WHERE b.date = (SELECT max(date) FROM market.trading_days) ORDER BY b.code`,
    );
    const moved = '222210';
    const before = await pool.query<{ listed_on: string; sector: string }>(
      `SELECT to_char(listed_on, 'YYYY-MM-DD') AS listed_on, sector FROM market.securities WHERE code = $1`,
      [moved],
    );
    const { listed_on: listedOn, sector } = before.rows[0] ?? { listed_on: '', sector: '' };
    // every stock of the last day trades again on 05-12, the KOSDAQ one now on KOSPI
    const transferring: MarketDataProvider = {
      name: 'scripted',
      dailyBars: (date) =>
        Promise.resolve({
          date,
          trading: true,
          markets: ['KOSPI', 'KOSDAQ'],
          bars: last.map((r) => ({
            date,
            code: r.code,
            name: null,
            market: r.code === moved ? 'KOSPI' : r.market,
            open: r.close,
            high: r.close,
            low: r.close,
            close: r.close,
            volume: 100,
            tradingValue: 100 * r.close,
            marketCap: r.close * r.shares,
            listedShares: r.shares,
            traded: true,
          })),
          counts: {},
          absent: [],
          provider: 'scripted',
        }),
    };
    const result = await new DailyIngest({ pool, provider: transferring }).ingest('2025-05-12', { trigger: 'api' });
    assert.equal(result.status, 'succeeded', result.error ?? '');
    assert.deepEqual(result.details.transferred, [{ code: moved, from: 'KOSDAQ', to: 'KOSPI' }]);
    const history = await pool.query(
      `SELECT to_char(valid_from, 'YYYY-MM-DD') AS valid_from, market, sector
         FROM market.security_classifications WHERE code = $1 ORDER BY valid_from`,
      [moved],
    );
    assert.deepEqual(history.rows, [
      { valid_from: listedOn, market: 'KOSDAQ', sector },
      { valid_from: '2025-05-12', market: 'KOSPI', sector },
    ]);
    const now = await pool.query<{ market: string }>(`SELECT market FROM market.securities WHERE code = $1`, [moved]);
    assert.equal(now.rows[0]?.market, 'KOSPI');
  });
});
