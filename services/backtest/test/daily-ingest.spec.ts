import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import {
  KiwoomChartDouble,
  KiwoomDailyChartProvider,
  KrxOpenApiDouble,
  KrxOpenApiProvider,
  OpenDartDouble,
  OpenDartProvider,
  scriptedMarket,
  type Filing,
  type MarketDataProvider,
  type ShareIssue,
} from '@stocklab/market-providers';
import { loadMarketSnapshot } from '@stocklab/market-data';
import { runBacktest, type StrategyDefinition } from '@stocklab/strategy-engine';
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
import {
  DailyIngest,
  delistingNotice,
  derivedCorporateAction,
  exRightsAction,
  isExRightsDay,
  UNCLASSIFIED_SECTOR,
} from '../src/ingest/daily-ingest.js';
import { MARKET_INGEST_ROLE } from '../src/ingest/ingest.controller.js';
import { backtestServiceOptions } from '../src/service-options.js';
import { startInProcessBacktest, type InProcessBacktest } from './support.js';

const KEY = `KRX${'7'.repeat(37)}`;
const DART_KEY = `DART${'8'.repeat(36)}`;
const WEEK_FROM = '2025-04-28';
const WEEK_TO = '2025-05-08';
/** the scripted market's codes: KOSPI, KOSDAQ and KONEX are all ingested */
const INGESTED = new Set(scriptedMarket().stocks.map((s) => s.code));

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

describe('ex-rights days of bonus and rights issues (hand-computed)', () => {
  const issue = (over: Partial<ShareIssue>): ShareIssue => ({
    kind: 'bonus',
    source: 'fricDecsn',
    corpCode: '00900003',
    receiptNo: '20250410000871',
    receiptDate: '20250410',
    recordDate: '20250430',
    sharesPerShare: 1,
    method: null,
    issuePrice: null,
    listingDate: null,
    ...over,
  });

  it('the ex-rights day is the trading day before the record date, weekends skipped, holidays not assumed', () => {
    assert.equal(isExRightsDay('2025-04-29', '20250430'), true); // Tue -> Wed
    assert.equal(isExRightsDay('2025-05-02', '20250505'), true); // Fri -> Mon: only Sat/Sun between
    assert.equal(isExRightsDay('2025-05-02', '20250507'), false); // 05-05/05-06 are weekdays (holidays): not assumed
    assert.equal(isExRightsDay('2025-04-30', '20250430'), false);
    assert.equal(isExRightsDay('2025-04-29', '20250501'), false);
    assert.equal(isExRightsDay('2025-04-30', '20250429'), false);
  });

  it("a bonus issue: previous close / base within 1 % of 1 + r; KRX's base gives the price factor", () => {
    // 1:1 on KOSDAQ: 8,770 / 2 = 4,385 on the 5-won grid
    assert.deepEqual(exRightsAction('2025-04-29', 8770, 4385, [issue({})]), {
      kind: 'bonus_issue',
      priceFactor: 2,
      shareRatio: 2,
      receiptNo: '20250410000871',
    });
    // 0.5 new share per share: 5,000 / 1.5 = 3,333.3 -> 3,335 (5-won ticks): 5,000 / 3,335 = 1.49925
    const half = exRightsAction('2025-04-29', 5000, 3335, [issue({ sharesPerShare: 0.5 })]);
    assert.deepEqual(half, {
      kind: 'bonus_issue',
      priceFactor: 5000 / 3335,
      shareRatio: 1.5,
      receiptNo: '20250410000871',
    });
    // the base contradicts the filed ratio (1:1 would be 4,385): not guessed
    assert.equal(exRightsAction('2025-04-29', 8770, 7000, [issue({})]), null);
    // another day, a filing received after the day, no record date, no filing: null
    assert.equal(exRightsAction('2025-04-28', 8770, 4385, [issue({})]), null);
    assert.equal(
      exRightsAction('2025-04-29', 8770, 4385, [issue({ receiptNo: '20250430000001', receiptDate: '20250430' })]),
      null,
    );
    assert.equal(exRightsAction('2025-04-29', 8770, 4385, [issue({ recordDate: null })]), null);
    assert.equal(exRightsAction('2025-04-29', 8770, 4385, []), null);
  });

  it('a rights issue to shareholders: the base under the previous close, share ratio 1', () => {
    const rights = issue({
      kind: 'rights',
      source: 'estkRs',
      recordDate: '20250508',
      sharesPerShare: null,
      issuePrice: 40_000,
    });
    // (48,900 + 40,000 x 0.2) / 1.2 = 47,416.7 -> 47,400 (50-won ticks)
    assert.deepEqual(exRightsAction('2025-05-07', 48_900, 47_400, [rights]), {
      kind: 'rights_issue',
      priceFactor: 48_900 / 47_400,
      shareRatio: 1,
      receiptNo: '20250410000871',
    });
    // a base above the previous close is no dilution by a rights issue
    assert.equal(exRightsAction('2025-05-07', 48_900, 49_000, [rights]), null);
    // a bonus and a rights issue on one record date: a combined base this cannot check
    assert.equal(exRightsAction('2025-05-07', 48_900, 24_450, [rights, issue({ recordDate: '20250508' })]), null);
  });
});

describe('delisting notices confirming a disappearance (hand-checked)', () => {
  const filing = (reportName: string, receiptNo: string): Filing => ({
    corpCode: '00900005',
    corpName: '다솜소프트',
    stockCode: '222220',
    corpClass: 'K',
    reportName,
    receiptNo,
    receiptDate: receiptNo.slice(0, 8),
    filerName: '코스닥시장본부',
    remarks: '코',
  });

  it('the latest decided delisting filed on or before the day; warnings and later filings do not confirm', () => {
    const decided = filing('상장폐지결정', '20250415000333');
    const trading = filing('[코스닥시장] 상장폐지(정리매매)', '20250422000101');
    const warning = filing('상장폐지사유발생', '20250301000007');
    assert.equal(delistingNotice([warning, decided, trading], '2025-05-02'), trading);
    assert.equal(delistingNotice([warning, decided], '2025-05-02'), decided);
    assert.equal(delistingNotice([warning, filing('사업보고서 (2024.12)', '20250320000001')], '2025-05-02'), null);
    assert.equal(delistingNotice([filing('상장폐지결정', '20250506000001')], '2025-05-02'), null);
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
  /** The service's migrations run on a throwaway database (a fresh replica's or a backfill's). */
  const migrate = (url: string) =>
    runMigrationsWithLock(
      backtestServiceOptions(loadConfig(backtestConfigSchema, { ...svc.env, DATABASE_URL: url })).dataSource,
    );
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
    await migrate(db.url);
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

  it('refuses bad input with 400 (401/403 without an admin or market-ingest token) and records no run', async () => {
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
    // the scheduler's service account: the market-ingest role alone passes the guard of both
    // ingests (its bad bodies meet the validation: 400), and of nothing an admin does besides
    const scheduler = await svc.tokenFor(randomUUID(), ['user', MARKET_INGEST_ROLE]);
    assert.equal((await trigger({ date: '2025-5-7' }, scheduler)).status, 400);
    const statements = await svc
      .http()
      .post('/api/backtest/market/statements/ingest')
      .set(bearer(scheduler))
      .send({ from: 'soon' });
    assert.equal(statements.status, 400, JSON.stringify(statements.body));
    const dataset = await svc
      .http()
      .post('/api/backtest/datasets')
      .set(bearer(scheduler))
      .send({ kind: 'bars', fileName: 'bars.csv' });
    assert.equal(dataset.status, 403, JSON.stringify(dataset.body));
    assertErrorBody(dataset.body);
    assert.equal(dataset.body.code, 'FORBIDDEN');
    const anonymous = await svc.http().post('/api/backtest/market/ingest').send({ date: '2025-05-07' });
    assert.equal(anonymous.status, 401);
    assertErrorBody(anonymous.body);
    assert.equal((await pool.query('SELECT 1 FROM market.ingest_runs')).rowCount, 0);
    assert.equal(double.faults.count('/svc/apis/sto/'), 0, 'the provider was never asked');
  });

  it('ingests the week day by day: a halt, a holiday, outages, a listing, a disappearance, the split', async () => {
    // 04-28: the first day into an empty market: every KOSPI/KOSDAQ/KONEX stock is new
    const first = await trigger({ date: '2025-04-28' }).expect(200);
    assert.equal(first.body.status, 'succeeded');
    assert.equal(first.body.replayed, false);
    assert.equal(first.body.rows, 7);
    assert.deepEqual(first.body.details.counts, { KOSPI: 3, KOSDAQ: 2, KONEX: 2 });
    assert.deepEqual([...first.body.details.listed].sort(), [
      '111110',
      '111120',
      '11112K',
      '222210',
      '222220',
      '333310',
      '333320',
    ]);
    const konex = await pool.query(
      `SELECT code, name, market, sector FROM market.securities WHERE market = 'KONEX' ORDER BY code`,
    );
    assert.deepEqual(konex.rows, [
      { code: '333310', name: '온누리푸드', market: 'KONEX', sector: UNCLASSIFIED_SECTOR },
      { code: '333320', name: '하늘정밀', market: 'KONEX', sector: UNCLASSIFIED_SECTOR },
    ]);
    assert.equal(first.body.changed, true);

    const exRights = await trigger({ date: '2025-04-29' }).expect(200);
    // without OpenDART (no OPENDART_API_KEY here) the bonus issue's ex-rights day of 222210
    // (base 8,770 / 2 = 4,385, shares unchanged) is only listed, as before
    assert.deepEqual(exRights.body.details.basePriceChanges, [
      { code: '222210', previousClose: 8770, basePrice: 4385, sharesBefore: 45_252_759, sharesAfter: 45_252_759 },
    ]);
    assert.equal(exRights.body.details.corporateActions, undefined);
    // a KONEX stock's untraded day (333310: KRX sends volume 0, open/high/low 0 and the previous
    // close): a flat bar at that close, like any market's
    assert.deepEqual(exRights.body.details.untraded, ['333310']);
    const flat = await pool.query(
      `SELECT open, high, low, close, volume::int AS volume FROM market.daily_bars WHERE code = '333310' AND date = '2025-04-29'`,
    );
    const konexClose = scriptedMarket().bars.find((b) => b.code === '333310' && b.date === '20250428')?.close;
    assert.deepEqual(flat.rows[0], {
      open: konexClose,
      high: konexClose,
      low: konexClose,
      close: konexClose,
      volume: 0,
    });
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
    assert.deepEqual(
      split.body.details.basePriceChanges,
      [{ code: '111120', previousClose: 48_900, basePrice: 47_400, sharesBefore: 76_000_000, sharesAfter: 76_000_000 }],
      "the rights issue's ex-rights day, only listed without OpenDART",
    );
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
    assert.equal(double.faults.count('/svc/apis/sto/') - requestsBefore, 3, 'KOSPI, KOSDAQ and KONEX asked once');
    assert.equal(await dataVersion(pool), versionBefore + 1, 'one new data version');
    assert.deepEqual(await runsOf(WEEK_TO), [{ attempt: 1, status: 'succeeded', error: null }]);

    const again = await trigger({ date: WEEK_TO }).expect(200);
    assert.equal(again.body.replayed, true);
    assert.equal(again.body.attempt, 1);
    assert.equal(double.faults.count('/svc/apis/sto/') - requestsBefore, 3);

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
        ['KONEX', WEEK_TO],
      ],
    );
  });

  it('leaves exactly the rows a single backfill of the same range leaves in a fresh database', async () => {
    const daily = await tables(pool);
    const script = scriptedMarket().bars.filter((b) => INGESTED.has(b.code));
    assert.equal(daily.bars.length, script.length, 'every KOSPI/KOSDAQ/KONEX bar of the script, once');
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
      // every stock with a bar the day before: KOSPI 3, KOSDAQ 2, KONEX 2
      assert.equal(day.details.fallback?.asked, 7);
      assert.deepEqual(day.details.fallback?.absent, []);
      assert.match(day.details.fallback?.reason ?? '', /ProviderUnavailable/);
      assert.deepEqual(day.details.untraded, ['111110'], 'the halted stock, as KRX shows it');
      // the bars KRX's own answer left for that day (the week above), but for the chart's trading
      // value in whole millions of KRW
      const barsOn = async (p: pg.Pool, date: string) =>
        (await tables(p)).bars.filter((b) => (b as { date: string }).date === date) as Array<Record<string, unknown>>;
      const fromKrx = await barsOn(pool, '2025-04-30');
      assert.equal(fromKrx.length, 7);
      assert.deepEqual(
        await barsOn(freshPool, '2025-04-30'),
        fromKrx.map((b) => ({ ...b, trading_value: Math.round(Number(b.trading_value) / 1e6) * 1e6 })),
      );

      double.faults.clear();
      await ingestRange({ pool: freshPool, provider: krx }, '2025-05-01', '2025-05-02');
      // 05-07, the split's first day (and a rights issue's ex-rights day): the chart's base price for
      // 111110 is the close / 50, 111120's the rights-adjusted one, and only KRX gives the new listed
      // shares: the day is not taken from the chart
      double.inject('http-503', { times: Infinity });
      const splitDay = await ingest.ingest('2025-05-07', { trigger: 'cli', tradingDay: true });
      assert.equal(splitDay.status, 'failed');
      assert.match(
        splitDay.error ?? '',
        /fallback ProviderUnavailable: kiwoom-chart: the base price of 111110, 111120 moved on 2025-05-07/,
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

  it('with OpenDART: the bonus and the rights issue become events on their ex-rights days, and a backtest holding is adjusted', async () => {
    let fresh: TestDatabase | undefined;
    let freshPool: pg.Pool | undefined;
    const prefix = uniqueKeyPrefix('ingest-dart');
    const redis = new Redis(testRedisUrl(), { keyPrefix: prefix });
    const krx = await KrxOpenApiDouble.start();
    const dart = await OpenDartDouble.start();
    try {
      krx.addKey(KEY);
      dart.addKey(DART_KEY);
      // a trading day before the week (Friday 04-25), each stock at the close its 04-28 base carries,
      // so that a backtest can hold 222210 before its ex-rights day
      const monday = krx.market.bars.filter((b) => b.date === '20250428');
      krx.market.bars.push(
        ...monday.map((b) => ({
          ...b,
          date: '20250425',
          open: b.basePrice,
          high: b.basePrice,
          low: b.basePrice,
          close: b.basePrice,
          volume: 1000,
          tradingValue: 1000 * b.basePrice,
        })),
      );
      // the preferred share stops appearing from 05-07 without any notice (it has no company code
      // of its own in OpenDART): a disappearance that nothing confirms
      krx.market.bars = krx.market.bars.filter((b) => !(b.code === '11112K' && b.date >= '20250507'));
      fresh = await migratedDatabase();
      freshPool = new pg.Pool({ connectionString: fresh.url, max: 2 });
      const provider = new KrxOpenApiProvider({ authKey: KEY, redis, host: krx.url, perSecond: 50 });
      const events = new OpenDartProvider({
        apiKey: DART_KEY,
        redis,
        host: dart.url,
        perSecond: 50,
        retry: { attempts: 2, baseDelayMs: 10 },
      });

      // OpenDART in maintenance on the ex-rights day: the day fails (nothing of it stored), the
      // backfill stops there; a later run records it
      dart.inject('maintenance', { times: Infinity, path: 'fricDecsn' });
      const down = await ingestRange({ pool: freshPool, provider, events }, '2025-04-25', WEEK_TO);
      assert.equal(down.failed?.date, '2025-04-29');
      assert.match(down.failed?.error ?? '', /ProviderUnavailable.*fricDecsn 00900003: 800/);
      const stored = await freshPool.query(
        `SELECT count(*)::int AS n FROM market.daily_bars WHERE date = '2025-04-29'`,
      );
      assert.equal(stored.rows[0]?.n, 0);
      dart.faults.clear();

      const { results, failed } = await ingestRange({ pool: freshPool, provider, events }, '2025-04-29', WEEK_TO);
      assert.equal(failed, undefined, JSON.stringify(failed));
      const byDate = new Map(results.map((r) => [r.date, r]));
      // 04-29: 1:1 bonus issue of 가람바이오 (record date 04-30): base 8,770 / 2 = 4,385, factor 2, shares x2
      assert.deepEqual(byDate.get('2025-04-29')?.details.corporateActions, [
        { code: '222210', kind: 'bonus_issue', priceFactor: 2, shareRatio: 2, receiptNo: '20250410000871' },
      ]);
      assert.equal(byDate.get('2025-04-29')?.details.basePriceChanges, undefined);
      // 05-07: the split (KRX's data alone) and 누리화학's rights issue (record date 05-08): base
      // (48,900 + 40,000 x 0.2) / 1.2 = 47,416.7 -> 47,400, factor 48,900 / 47,400, share ratio 1
      assert.deepEqual(
        byDate.get('2025-05-07')?.details.corporateActions?.map((a) => [a.code, a.kind, a.shareRatio, a.receiptNo]),
        [
          ['111110', 'split', 50, undefined],
          ['111120', 'rights_issue', 1, '20250404000654'],
        ],
      );
      assert.equal(byDate.get('2025-05-07')?.details.basePriceChanges, undefined);
      // 05-02: 다솜소프트 (last row 04-30) disappears; its company's 상장폐지결정 of 04-15 confirms it:
      // delisted on 05-02, the first trading day without it. 05-07: the preferred share disappears
      // unconfirmed: listed, no date
      assert.deepEqual(byDate.get('2025-05-02')?.details.delisted, [
        { code: '222220', delistedOn: '2025-05-02', receiptNo: '20250415000333', reportName: '상장폐지결정' },
      ]);
      assert.deepEqual(byDate.get('2025-05-07')?.details.disappeared, ['11112K']);
      assert.equal(byDate.get('2025-05-07')?.details.delisted, undefined);
      const delistedOn = await freshPool.query(
        `SELECT code, to_char(delisted_on, 'YYYY-MM-DD') AS delisted_on FROM market.securities
          WHERE code IN ('222220', '11112K') ORDER BY code`,
      );
      assert.deepEqual(delistedOn.rows, [
        { code: '11112K', delisted_on: null },
        { code: '222220', delisted_on: '2025-05-02' },
      ]);
      const actions = await freshPool.query(
        `SELECT code, to_char(ex_date, 'YYYY-MM-DD') AS ex_date, kind, price_factor, share_ratio
           FROM market.corporate_actions WHERE kind IN ('bonus_issue', 'rights_issue') ORDER BY ex_date`,
      );
      assert.deepEqual(actions.rows, [
        { code: '222210', ex_date: '2025-04-29', kind: 'bonus_issue', price_factor: 2, share_ratio: 2 },
        { code: '111120', ex_date: '2025-05-07', kind: 'rights_issue', price_factor: 48_900 / 47_400, share_ratio: 1 },
      ]);
      // the company codes were read once for the whole backfill; share issues asked only for the
      // stocks whose base price moved (222210 on 04-29, 111120 on 05-07: three reports each), the
      // disclosure search only for the disappeared stock with a company code
      assert.equal(dart.faults.count('/api/corpCode.xml'), 1);
      assert.equal(dart.faults.count('/api/estkRs.json'), 2);
      assert.equal(dart.faults.count('/api/list.json'), 1);

      // the engine: bought at 04-28's open on 04-25's signal, the holding doubles on 04-29 at
      // entry / 2, the base 4,385 = 8,770 / 2
      const client = await freshPool.connect();
      try {
        const { data } = await loadMarketSnapshot(client);
        assert.equal(data.stocks[data.codes.indexOf('222220')]?.delistedOn, 20250502);
        const def: StrategyDefinition = {
          schemaVersion: 1,
          universe: { scope: 'codes', codes: ['222210'] },
          ranking: { factor: 'close', order: 'desc' },
          maxPositions: 1,
          weighting: { method: 'equal' },
          rebalance: 'monthly',
          costs: { commissionBps: 0, slippageBps: 0 },
          initialCapital: 1_000_000,
        };
        const r = runBacktest(def, data, { from: 20250425, to: 20250508 });
        const buy = r.trades[0];
        assert.deepEqual([buy?.date, buy?.code, buy?.side], [20250428, '222210', 'buy']);
        const quantity = buy?.quantity ?? 0;
        assert.ok(quantity > 0);
        assert.deepEqual(r.corporateActions, [
          {
            date: 20250429,
            code: '222210',
            kind: 'bonus_issue',
            quantityBefore: quantity,
            quantityAfter: quantity * 2,
            entryPriceBefore: buy?.price,
            entryPriceAfter: (buy?.price ?? 0) / 2,
            basePrice: 4385,
            cash: 0,
          },
        ]);
      } finally {
        client.release();
      }
    } finally {
      await freshPool?.end();
      await fresh?.drop();
      await krx.close();
      await dart.close();
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
      assert.equal(bars?.rows[0]?.n, 7);
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
      market: 'KOSPI' | 'KOSDAQ' | 'KONEX';
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
