import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { assertErrorBody } from '@stocklab/test-support';
import { generateDemoMarket } from '../src/cli/demo-data.js';
import {
  importDataset,
  startInProcessBacktest,
  topMomentum,
  waitForInProcessBacktest,
  type InProcessBacktest,
} from './support.js';

/** Listed companies as KRX names them, with a delisting and a KOSDAQ one; sectors of their own. */
const KOREAN = [
  ['005930', '삼성전자', 'KOSPI', '반도체', '1975-06-11', ''],
  ['006400', '삼성SDI', 'KOSPI', '2차전지', '1979-02-27', ''],
  ['028260', '삼성물산', 'KOSPI', '유통', '2014-12-18', ''],
  ['000660', 'SK하이닉스', 'KOSPI', '반도체', '1996-12-26', ''],
  ['086520', '에코프로', 'KOSDAQ', '2차전지', '2007-07-20', ''],
  ['900140', '엘브이엠씨홀딩스', 'KOSPI', '유통', '2009-05-15', '2021-06-30'],
] as const;
/** KOSPI has a bar one day after the demo market ends; KOSDAQ does not. */
const EXTRA_DAY = '2022-01-04';

const momentum = (): Record<string, unknown> => topMomentum();

const codesOf = (body: unknown): string[] => (body as { items: Array<{ code: string }> }).items.map((s) => s.code);

const listedOn = (row: readonly string[], date: string): boolean =>
  (row[4] ?? '') <= date && ((row[5] ?? '') === '' || (row[5] ?? '') > date);

/**
 * What a strategy builder looks up (in-process, real PostgreSQL, Redis and S3): securities by
 * code or Korean name prefix, markets and sectors with their counts on a date, the data's
 * freshness, factor categories; and the user's backtest history: the list with strategy names,
 * a side-by-side comparison on one date axis, and deleting a finished backtest.
 */
describe('builder lookups and backtest history (in-process)', () => {
  let svc: InProcessBacktest;
  let user: string;
  let admin: string;
  /** every securities row imported: code, name, market, sector, listed_on, delisted_on */
  let securities: string[][];
  let demoLastDay: string;

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    svc = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '2' });
    user = await svc.tokenFor(randomUUID());
    admin = await svc.tokenFor(randomUUID(), ['user', 'admin']);
    const demo = generateDemoMarket({ stocks: 8, years: 2, seed: 5, startYear: 2020 });
    const korean = KOREAN.map((r) => [...r, 'false'].join(',')).join('\n');
    const [header, ...demoRows] = demo.securities.trim().split('\n');
    await importDataset(svc.url, admin, 'securities', `${header}\n${demoRows.join('\n')}\n${korean}\n`);
    const barRows = demo.bars.trim().split('\n');
    demoLastDay = barRows
      .slice(1)
      .map((l) => l.split(',')[1] ?? '')
      .reduce((a, b) => (b > a ? b : a), '');
    const kospiBars = ['005930', '006400', '000660'].map(
      (code) => `${code},${EXTRA_DAY},70000,71000,69000,70500,1000,70500000,420000000000000,5969782550`,
    );
    await importDataset(svc.url, admin, 'bars', `${barRows.join('\n')}\n${kospiBars.join('\n')}\n`);
    securities = [...demoRows.map((l) => l.split(',')), ...KOREAN.map((r) => [...r])];
  });
  afterAll(() => svc.close());

  describe('GET /market/securities', () => {
    const search = (query: string, token = user) =>
      svc.http().get(`/api/backtest/market/securities?${query}`).set(bearer(token));

    it('finds by Korean name prefix, by code prefix, and filters by market and listing date', async () => {
      const samsung = await search(`q=${encodeURIComponent('삼성')}`).expect(200);
      assert.deepEqual(codesOf(samsung.body), ['005930', '006400', '028260']);
      assert.deepEqual(samsung.body.items[0], {
        code: '005930',
        name: '삼성전자',
        market: 'KOSPI',
        sector: '반도체',
        listedOn: '1975-06-11',
        delistedOn: null,
      });
      const byCode = await search('q=0006').expect(200);
      assert.deepEqual(codesOf(byCode.body), ['000660']);
      // the name as typed with conjoining jamo (NFD) finds the precomposed name
      const decomposed = await search(`q=${encodeURIComponent('삼성전'.normalize('NFD'))}`).expect(200);
      assert.deepEqual(codesOf(decomposed.body), ['005930']);
      const caseless = await search('q=sk').expect(200);
      assert.deepEqual(
        (caseless.body as { items: Array<{ name: string }> }).items.map((s) => s.name),
        ['SK하이닉스'],
      );
      const kosdaq = await search(`q=${encodeURIComponent('에코')}&market=KOSDAQ`).expect(200);
      assert.equal(kosdaq.body.items.length, 1);
      const notKospi = await search(`q=${encodeURIComponent('에코')}&market=KOSPI`).expect(200);
      assert.equal(notKospi.body.items.length, 0);
      // delisted on 2021-06-30: there on the 29th, gone on the 30th, and its delisting shown
      const before = await search(`q=${encodeURIComponent('엘브이')}&listedOn=2021-06-29`).expect(200);
      assert.equal(before.body.items[0]?.delistedOn, '2021-06-30');
      const after = await search(`q=${encodeURIComponent('엘브이')}&listedOn=2021-06-30`).expect(200);
      assert.equal(after.body.items.length, 0);
    });

    it('pages through every security in code order with nextCursor', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await search(`limit=4${cursor ? `&cursor=${cursor}` : ''}`).expect(200);
        assert.ok(res.body.items.length <= 4);
        seen.push(...codesOf(res.body));
        cursor = res.body.nextCursor as string | null;
      } while (cursor);
      assert.deepEqual(seen, securities.map((s) => s[0] ?? '').sort());
    });

    it('answers bad queries with a 400 and a stable error body, and needs a token', async () => {
      const forged = Buffer.from(JSON.stringify(["' OR 1=1 --"])).toString('base64url');
      for (const query of [
        'limit=0',
        'limit=101',
        'market=NYSE',
        'listedOn=2021-02-30',
        'listedOn=yesterday',
        `q=${encodeURIComponent('a\u0000b')}`,
        `q=${encodeURIComponent('x'.repeat(41))}`,
        'q=%20%20',
        // LIKE's wildcards are not search text
        'q=%25',
        'q=SK_',
        `cursor=${forged}`,
        'cursor=not-a-cursor!',
      ]) {
        const res = await search(query);
        assert.equal(res.status, 400, `${query}: ${res.status} ${JSON.stringify(res.body)}`);
        assertErrorBody(res.body);
      }
      const anonymous = await svc.http().get('/api/backtest/market/securities');
      assert.equal(anonymous.status, 401);
      assertErrorBody(anonymous.body);
    });
  });

  describe('GET /market/sectors and /market/status', () => {
    it('counts the securities listed on a date per market and per sector', async () => {
      const date = '2021-06-30';
      const res = await svc.http().get(`/api/backtest/market/sectors?date=${date}`).set(bearer(user)).expect(200);
      const listed = securities.filter((s) => listedOn(s, date));
      assert.equal(res.body.date, date);
      assert.equal(res.body.total, listed.length);
      for (const market of ['KOSPI', 'KOSDAQ']) {
        const count = (res.body.markets as Array<{ market: string; count: number }>).find(
          (m) => m.market === market,
        )?.count;
        assert.equal(count, listed.filter((s) => s[2] === market).length, market);
      }
      const sectors = new Map(
        (res.body.sectors as Array<{ sector: string; count: number; byMarket: Record<string, number> }>).map((s) => [
          s.sector,
          s,
        ]),
      );
      assert.deepEqual(sectors.get('2차전지'), { sector: '2차전지', count: 2, byMarket: { KOSPI: 1, KOSDAQ: 1 } });
      // 엘브이엠씨홀딩스 was delisted that day: only 삼성물산 is left in 유통
      assert.deepEqual(sectors.get('유통'), { sector: '유통', count: 1, byMarket: { KOSPI: 1 } });
      const bad = await svc.http().get('/api/backtest/market/sectors?date=2021-13-01').set(bearer(user));
      assert.equal(bad.status, 400);
      assertErrorBody(bad.body);
    });

    it('defaults to the last trading day, and the status says how fresh each market is', async () => {
      const sectors = await svc.http().get('/api/backtest/market/sectors').set(bearer(user)).expect(200);
      assert.equal(sectors.body.date, EXTRA_DAY);
      const status = await svc.http().get('/api/backtest/market/status').set(bearer(user)).expect(200);
      assert.equal(status.body.lastTradingDay, EXTRA_DAY);
      assert.ok(Number(status.body.dataVersion) >= 2, 'two imports changed the market');
      const latest = Object.fromEntries(
        (status.body.markets as Array<{ market: string; latestBarDate: string | null }>).map((m) => [
          m.market,
          m.latestBarDate,
        ]),
      );
      assert.equal(latest.KOSPI, EXTRA_DAY);
      // no KOSDAQ bar on the extra day: that market's data ends with the demo market (if it has KOSDAQ bars)
      assert.ok(latest.KOSDAQ === null || latest.KOSDAQ <= demoLastDay, String(latest.KOSDAQ));
      assert.equal(status.body.lastImport.kind, 'bars');
      assert.equal(status.body.lastImport.status, 'succeeded');
      assert.equal(status.body.lastImport.datasetId, undefined, 'whose import it was is not shown');
    });

    it('counts, lists and filters a stock in the market and sector it had on the date asked', async () => {
      // 에코프로 (KOSDAQ, 2차전지) moves to KOSPI and to 소재 on 2021-07-01; before, as listed
      await importDataset(
        svc.url,
        admin,
        'classifications',
        'code,valid_from,market,sector\n086520,2007-07-20,KOSDAQ,2차전지\n086520,2021-07-01,KOSPI,소재\n',
      );
      const sectorsOn = async (date: string) => {
        const res = await svc.http().get(`/api/backtest/market/sectors?date=${date}`).set(bearer(user)).expect(200);
        const body = res.body as {
          markets: Array<{ market: string; count: number }>;
          sectors: Array<{ sector: string; count: number; byMarket: Record<string, number> }>;
        };
        return {
          markets: Object.fromEntries(body.markets.map((m) => [m.market, m.count])),
          sectors: new Map(body.sectors.map((x) => [x.sector, x])),
        };
      };
      const before = await sectorsOn('2021-06-30');
      const after = await sectorsOn('2021-07-01');
      assert.equal(after.markets.KOSPI, (before.markets.KOSPI ?? 0) + 1);
      assert.equal(after.markets.KOSDAQ, (before.markets.KOSDAQ ?? 0) - 1);
      assert.deepEqual(before.sectors.get('2차전지')?.byMarket, { KOSPI: 1, KOSDAQ: 1 });
      assert.equal(before.sectors.get('소재'), undefined);
      assert.deepEqual(after.sectors.get('2차전지')?.byMarket, { KOSPI: 1 });
      assert.deepEqual(after.sectors.get('소재'), { sector: '소재', count: 1, byMarket: { KOSPI: 1 } });

      const search = (query: string) =>
        svc.http().get(`/api/backtest/market/securities?${query}`).set(bearer(user)).expect(200);
      const q = `q=${encodeURIComponent('에코')}`;
      const asOfBefore = await search(`${q}&listedOn=2021-06-30`);
      assert.deepEqual([asOfBefore.body.items[0]?.market, asOfBefore.body.items[0]?.sector], ['KOSDAQ', '2차전지']);
      const asOfAfter = await search(`${q}&listedOn=2021-07-01&market=KOSPI&sector=${encodeURIComponent('소재')}`);
      assert.deepEqual(codesOf(asOfAfter.body), ['086520']);
      assert.deepEqual([asOfAfter.body.items[0]?.market, asOfAfter.body.items[0]?.sector], ['KOSPI', '소재']);
      assert.equal((await search(`${q}&listedOn=2021-07-01&market=KOSDAQ`)).body.items.length, 0);
      // before its first classification, the first one (the engine's rule), not the current row
      const early = await search(`${q}&listedOn=2008-01-02`);
      assert.deepEqual([early.body.items[0]?.market, early.body.items[0]?.sector], ['KOSDAQ', '2차전지']);
    });
  });

  describe('POST /market/universe-preview', () => {
    const preview = (body: unknown, token = user) =>
      svc
        .http()
        .post('/api/backtest/market/universe-preview')
        .set(bearer(token))
        .send(body as object);

    it('counts and lists the stocks a universe and its buy conditions pass on a date, with their names', async () => {
      const kospi = await preview({ universe: { scope: 'markets', markets: ['KOSPI'] }, date: EXTRA_DAY }).expect(200);
      // on the extra day only the three KOSPI stocks given a bar trade
      assert.equal(kospi.body.date, EXTRA_DAY);
      assert.equal(kospi.body.count, 3);
      assert.deepEqual(kospi.body.stocks, [
        { code: '000660', name: 'SK하이닉스', market: 'KOSPI', sector: '반도체' },
        { code: '005930', name: '삼성전자', market: 'KOSPI', sector: '반도체' },
        { code: '006400', name: '삼성SDI', market: 'KOSPI', sector: '2차전지' },
      ]);
      // the last trading day by default; the buy conditions remove stocks; limit lists fewer but counts all
      const cheap = await preview({
        universe: { scope: 'all' },
        buyConditions: { factor: 'close', op: '>', value: 70_000 },
        limit: 1,
      }).expect(200);
      assert.equal(cheap.body.date, EXTRA_DAY);
      assert.equal(cheap.body.count, 3);
      assert.deepEqual(
        (cheap.body as { stocks: Array<{ code: string }> }).stocks.map((x) => x.code),
        ['000660'],
      );
      const none = await preview({
        universe: { scope: 'codes', codes: ['005930', '086520'] },
        buyConditions: { factor: 'close', op: '>', value: 80_000 },
      }).expect(200);
      assert.equal(none.body.count, 0);
      const one = await preview({ universe: { scope: 'codes', codes: ['005930', '086520'] } }).expect(200);
      assert.deepEqual(
        (one.body as { stocks: Array<{ code: string }> }).stocks.map((x) => x.code),
        ['005930'],
        'the KOSDAQ stock has no bar that day',
      );
    });

    it('refuses a bad universe, conditions, date or limit with 400, and anonymous callers with 401', async () => {
      for (const [body, code] of [
        [{}, 'VALIDATION_FAILED'],
        [{ universe: 'all' }, 'VALIDATION_FAILED'],
        [{ universe: { scope: 'markets' } }, 'INVALID_UNIVERSE'],
        [{ universe: { scope: 'all' }, buyConditions: { factor: 'nope', op: '>', value: 1 } }, 'INVALID_UNIVERSE'],
        [{ universe: { scope: 'all' }, date: '2022-01-01' }, 'NOT_A_TRADING_DAY'],
        [{ universe: { scope: 'all' }, date: '2022-02-30' }, 'INVALID_DATE'],
        [{ universe: { scope: 'all' }, date: '20220104' }, 'VALIDATION_FAILED'],
        [{ universe: { scope: 'all' }, limit: 5000 }, 'VALIDATION_FAILED'],
        [{ universe: { scope: 'all' }, extra: 1 }, 'VALIDATION_FAILED'],
      ] as const) {
        const res = await preview(body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`);
        assertErrorBody(res.body);
        if (code !== 'VALIDATION_FAILED') {
          assert.equal(res.body.code, code, JSON.stringify(res.body));
        }
      }
      const anonymous = await svc
        .http()
        .post('/api/backtest/market/universe-preview')
        .send({ universe: { scope: 'all' } });
      assert.equal(anonymous.status, 401);
    });

    it('answers 503 with Retry-After when no process holding the market data answers in time', async () => {
      const idle = await startInProcessBacktest(
        { BACKTEST_CONCURRENCY: '0', PREVIEW_TIMEOUT_MS: '300' },
        { db: svc.db },
      );
      try {
        const token = await idle.tokenFor(randomUUID());
        const res = await idle
          .http()
          .post('/api/backtest/market/universe-preview')
          .set(bearer(token))
          .send({ universe: { scope: 'all' } });
        assert.equal(res.status, 503, JSON.stringify(res.body));
        assertErrorBody(res.body);
        assert.equal(res.body.code, 'PREVIEW_UNAVAILABLE');
        assert.equal(res.headers['retry-after'], '5');
      } finally {
        await idle.close();
      }
    });
  });

  describe('GET /factors/categories', () => {
    it('groups every factor of the catalog in exactly one category', async () => {
      const factors = await svc.http().get('/api/backtest/factors').expect(200);
      const categories = await svc.http().get('/api/backtest/factors/categories').expect(200);
      const grouped = (categories.body as Array<{ id: string; factors: string[] }>).flatMap((c) =>
        c.factors.map((f) => [f, c.id]),
      );
      const byFactor = new Map(grouped as Array<[string, string]>);
      assert.equal(grouped.length, byFactor.size, 'no factor in two categories');
      for (const f of factors.body as Array<{ id: string; category: string }>) {
        assert.equal(byFactor.get(f.id), f.category, f.id);
      }
      assert.equal(byFactor.size, (factors.body as unknown[]).length);
      assert.equal(byFactor.get('per'), 'value');
      assert.equal(byFactor.get('mom_12m'), 'momentum');
    });
  });

  describe('backtest history', () => {
    const finished = (id: string): Promise<Record<string, unknown>> => waitForInProcessBacktest(svc, id, user);

    async function submit(body: Record<string, unknown>, token = user): Promise<string> {
      const res = await svc.http().post('/api/backtest/backtests').set(bearer(token)).send(body).expect(202);
      return res.body.id as string;
    }

    it('lists backtests with their strategy name, compares them on one date axis, deletes a finished one', async () => {
      const strategy = await svc
        .http()
        .post('/api/backtest/strategies')
        .set(bearer(user))
        .send({ name: '모멘텀 상위 3', definition: momentum() })
        .expect(201);
      const saved = await submit({ strategyId: strategy.body.id, from: '2020-03-02', to: '2021-06-30' });
      const inline = await submit({ definition: momentum(), from: '2020-09-01', to: '2021-12-30' });
      const [a, b] = [await finished(saved), await finished(inline)];
      assert.equal(a.status, 'succeeded');
      assert.equal(b.status, 'succeeded');

      const list = await svc.http().get('/api/backtest/backtests').set(bearer(user)).expect(200);
      const names = new Map(
        (list.body.items as Array<{ id: string; strategyName: string | null }>).map((i) => [i.id, i.strategyName]),
      );
      assert.equal(names.get(saved), '모멘텀 상위 3');
      assert.equal(names.get(inline), null);

      const compared = await svc
        .http()
        .get(`/api/backtest/backtests/compare?ids=${inline},${saved}`)
        .set(bearer(user))
        .expect(200);
      assert.deepEqual(
        (compared.body as { backtests: Array<{ id: string }> }).backtests.map((x) => x.id),
        [inline, saved],
      );
      assert.equal(compared.body.backtests[1].strategyName, '모멘텀 상위 3');
      assert.deepEqual(compared.body.backtests[0].metrics, b.metrics);
      const dates = compared.body.dates as string[];
      assert.deepEqual(dates, [...dates].sort(), 'one ascending axis');
      assert.equal(new Set(dates).size, dates.length);
      // each series is that backtest's own equity curve, placed on the shared axis
      for (const [k, id] of [inline, saved].entries()) {
        const equity = await svc
          .http()
          .get(`/api/backtest/backtests/${id}/equity?limit=1000`)
          .set(bearer(user))
          .expect(200);
        const rows = equity.body.items as Array<{ date: string; value: number; drawdown: number }>;
        const series = compared.body.series[k] as {
          backtestId: string;
          value: Array<number | null>;
          cumulativeReturn: Array<number | null>;
          drawdown: Array<number | null>;
        };
        assert.equal(series.backtestId, id);
        const at = new Map(rows.map((r) => [r.date, r]));
        dates.forEach((date, i) => {
          const row = at.get(date);
          assert.equal(series.value[i], row ? row.value : null, `${id} ${date}`);
          assert.equal(series.drawdown[i], row ? row.drawdown : null);
          assert.equal(series.cumulativeReturn[i], row ? row.value / (rows[0]?.value ?? NaN) - 1 : null);
        });
      }
      // the axis holds days of one only: the saved run ends in June 2021, the inline one starts in September 2020
      const savedSeries = compared.body.series[1].value as Array<number | null>;
      assert.equal(savedSeries[dates.length - 1], null);
      assert.equal((compared.body.series[0].value as Array<number | null>)[0], null);

      // someone else's backtest is missing, an unfinished one cannot be compared
      const other = await svc.tokenFor(randomUUID());
      const foreign = await svc.http().get(`/api/backtest/backtests/compare?ids=${inline},${saved}`).set(bearer(other));
      assert.equal(foreign.status, 404);
      assert.equal(foreign.body.code, 'BACKTEST_NOT_FOUND');
      for (const ids of [inline, `${inline},${inline}`, `${inline},nope`, Array(6).fill(inline).join(',')]) {
        const res = await svc.http().get(`/api/backtest/backtests/compare?ids=${ids}`).set(bearer(user));
        assert.equal(res.status, 400, ids);
        assertErrorBody(res.body);
      }
      const missing = await svc.http().get('/api/backtest/backtests/compare').set(bearer(user));
      assert.equal(missing.status, 400);
      assertErrorBody(missing.body);

      // deleting a finished backtest erases it and its results; a second delete is a 404
      await svc.http().delete(`/api/backtest/backtests/${saved}`).set(bearer(other)).expect(404);
      await svc.http().delete(`/api/backtest/backtests/${saved}`).set(bearer(user)).expect(204);
      await svc.http().get(`/api/backtest/backtests/${saved}`).set(bearer(user)).expect(404);
      await svc.http().get(`/api/backtest/backtests/${saved}/equity`).set(bearer(user)).expect(404);
      await svc.http().get(`/api/backtest/backtests/${saved}/export`).set(bearer(user)).expect(404);
      const again = await svc.http().delete(`/api/backtest/backtests/${saved}`).set(bearer(user));
      assert.equal(again.status, 404);
      assertErrorBody(again.body);
      const after = await svc.http().get('/api/backtest/backtests').set(bearer(user)).expect(200);
      assert.ok(!(after.body.items as Array<{ id: string }>).some((i) => i.id === saved));
      const gone = await svc.http().get(`/api/backtest/backtests/compare?ids=${inline},${saved}`).set(bearer(user));
      assert.equal(gone.status, 404);
    });

    it('a DELETE of a queued backtest cancels it and keeps it; a second erases it; an unfinished one cannot be compared', async () => {
      // an API replica without a queue consumer (BACKTEST_CONCURRENCY 0, no reconciler): its backtests stay queued
      const idle = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '0' });
      try {
        const market = generateDemoMarket({ stocks: 3, years: 1, seed: 7, startYear: 2021 });
        const idleAdmin = await idle.tokenFor(randomUUID(), ['user', 'admin']);
        await importDataset(idle.url, idleAdmin, 'securities', market.securities);
        await importDataset(idle.url, idleAdmin, 'bars', market.bars);
        const owner = await idle.tokenFor(randomUUID());
        const ids: string[] = [];
        for (let i = 0; i < 2; i += 1) {
          const res = await idle
            .http()
            .post('/api/backtest/backtests')
            .set(bearer(owner))
            .send({ definition: momentum(), from: '2021-03-02', to: '2021-12-30' })
            .expect(202);
          ids.push(res.body.id as string);
        }
        const unfinished = await idle
          .http()
          .get(`/api/backtest/backtests/compare?ids=${ids.join(',')}`)
          .set(bearer(owner));
        assert.equal(unfinished.status, 409);
        assert.equal(unfinished.body.code, 'BACKTEST_NOT_SUCCEEDED');
        assertErrorBody(unfinished.body);

        const cancelled = await idle.http().delete(`/api/backtest/backtests/${ids[0]}`).set(bearer(owner)).expect(200);
        assert.equal(cancelled.body.status, 'cancelled');
        const kept = await idle.http().get(`/api/backtest/backtests/${ids[0]}`).set(bearer(owner)).expect(200);
        assert.equal(kept.body.status, 'cancelled');
        // cancelled is finished: the next DELETE erases it
        await idle.http().delete(`/api/backtest/backtests/${ids[0]}`).set(bearer(owner)).expect(204);
        await idle.http().get(`/api/backtest/backtests/${ids[0]}`).set(bearer(owner)).expect(404);
        const queued = await idle.http().get(`/api/backtest/backtests/${ids[1]}`).set(bearer(owner)).expect(200);
        assert.equal(queued.body.status, 'queued', 'the other one is untouched');
      } finally {
        await idle.close();
      }
    });
  });
});
