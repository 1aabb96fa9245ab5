import assert from 'node:assert/strict';
import { afterAll, afterEach, beforeAll, describe, it } from '@jest/globals';
import { ProviderAuthFailed, ProviderDataInvalid, ProviderRequestRefused, ProviderUnavailable } from '../src/errors.js';
import { SharedDailyBudget, seoulDay } from '../src/http.js';
import { KrxOpenApiProvider, type KrxOpenApiOptions } from '../src/krx-open-api.js';
import { KrxOpenApiDouble } from '../src/testing/krx-open-api-double.js';
import { scriptedMarket } from '../src/testing/scripted-market.js';
import type { DailyBar } from '../src/types.js';
import { FAST_RETRY, refusal, TestRedis } from './helpers.js';

describe('KRX Open API provider against the KRX double', () => {
  let double: KrxOpenApiDouble;
  const redis = new TestRedis('krx');
  let keySeq = 0;

  /** A key registered at the double (for `markets`, default all) and a provider using it. */
  const provider = (
    options: Partial<KrxOpenApiOptions> & { markets?: Parameters<KrxOpenApiDouble['addKey']>[1] } = {},
  ) => {
    keySeq += 1;
    const authKey = options.authKey ?? `KRX${String(keySeq).padStart(37, '0')}`;
    double.addKey(authKey, options.markets);
    return new KrxOpenApiProvider({
      authKey,
      redis: options.redis ?? redis.connection(),
      host: double.url,
      perSecond: 50,
      timeoutMs: 2_000,
      retry: FAST_RETRY,
      ...options,
    });
  };

  const bar = (bars: DailyBar[], code: string): DailyBar => {
    const found = bars.find((b) => b.code === code);
    assert.ok(found, `no bar of ${code}`);
    return found;
  };

  beforeAll(async () => {
    double = await KrxOpenApiDouble.start();
  });

  afterEach(() => {
    double.faults.clear();
    double.numberFormat = 'plain';
    double.perSecond = undefined;
  });

  afterAll(async () => {
    await double.close();
    await redis.close();
  });

  it('answers a whole day of the three markets, every field as KRX sends it', async () => {
    const day = await provider().dailyBars('20250428');
    assert.equal(day.trading, true);
    assert.deepEqual(day.counts, { KOSPI: 3, KOSDAQ: 2, KONEX: 2 });
    const script = scriptedMarket().bars.find((b) => b.date === '20250428' && b.code === '111120');
    const chem = bar(day.bars, '111120');
    assert.deepEqual(chem, {
      date: '20250428',
      code: '111120',
      name: '누리화학',
      market: 'KOSPI',
      open: script?.open,
      high: script?.high,
      low: script?.low,
      close: script?.close,
      volume: script?.volume,
      tradingValue: script?.tradingValue,
      marketCap: (script?.close ?? 0) * 76_000_000,
      listedShares: 76_000_000,
      basePrice: script?.basePrice,
      traded: true,
    });
    // a code with a letter (a convertible preferred share) is a stock like any other
    assert.equal(bar(day.bars, '11112K').market, 'KOSPI');
    assert.equal(double.faults.count('/svc/apis/sto/'), 3);
  });

  it("reads the data portal's comma-formatted numbers the same", async () => {
    const plain = await provider().dailyBars('20250429');
    double.numberFormat = 'comma';
    assert.equal(double.rows('20250429', 'KOSPI')[0]?.LIST_SHRS.includes(','), true);
    const comma = await provider().dailyBars('20250429');
    assert.deepEqual(comma.bars, plain.bars);
  });

  it('a holiday or weekend is no trading, not an error and not an empty market', async () => {
    const p = provider();
    for (const date of ['20250501', '20250503', '20250505', '20250506']) {
      const day = await p.dailyBars(date);
      assert.equal(day.trading, false, date);
      assert.deepEqual(day.bars, []);
      assert.deepEqual(day.counts, { KOSPI: 0, KOSDAQ: 0, KONEX: 0 });
    }
  });

  it('an empty answer for a day the caller knows traded is "not published yet", not a holiday', async () => {
    const p = provider();
    const copy = double.market;
    double.market = { ...copy, bars: copy.bars.filter((b) => b.date !== '20250508') };
    try {
      assert.equal((await p.dailyBars('20250508')).trading, false);
      const error = await refusal(p.dailyBars('20250508', { tradingDay: true }), ProviderUnavailable);
      assert.equal(error.code, 'not-published');
    } finally {
      double.market = copy;
    }
    assert.equal((await p.dailyBars('20250508', { tradingDay: true })).trading, true);
  });

  it('shows a halt as KRX does: no trade, volume 0, open/high/low 0, the previous close', async () => {
    const p = provider();
    const before = bar((await p.dailyBars('20250429')).bars, '111110');
    const halted = bar((await p.dailyBars('20250430')).bars, '111110');
    assert.equal(halted.traded, false);
    assert.deepEqual([halted.open, halted.high, halted.low, halted.volume, halted.tradingValue], [0, 0, 0, 0, 0]);
    assert.equal(halted.close, before.close);
    assert.equal(halted.listedShares, before.listedShares);
    // KONEX: a day without a trade looks the same
    const konex = bar((await p.dailyBars('20250429')).bars, '333310');
    assert.equal(konex.traded, false);
    assert.equal(konex.volume, 0);
  });

  it('the 50:1 split day: listed shares x50 and the price /50, market cap continuous', async () => {
    const p = provider();
    const last = bar((await p.dailyBars('20250502')).bars, '111110');
    const first = bar((await p.dailyBars('20250507')).bars, '111110');
    assert.equal(first.listedShares, (last.listedShares ?? 0) * 50);
    assert.ok(first.close < last.close / 40 && first.close > last.close / 60, `${last.close} -> ${first.close}`);
    const capMove = (first.marketCap ?? 0) / (last.marketCap ?? 1);
    assert.ok(capMove > 0.9 && capMove < 1.1, `market cap moved x${capMove}`);
  });

  it('gives the base price (close - CMPPREVDD_PRC): the previous close, or the split-adjusted one on the split day', async () => {
    const p = provider();
    const day1 = bar((await p.dailyBars('20250428')).bars, '111120');
    const day2 = bar((await p.dailyBars('20250429')).bars, '111120');
    assert.equal(day2.basePrice, day1.close, 'an ordinary day: the previous close');
    const last = bar((await p.dailyBars('20250502')).bars, '111110');
    const first = bar((await p.dailyBars('20250507')).bars, '111110');
    // the previous close / 50 on the 2025 tick grid (100 won between 50,000 and 200,000)
    assert.equal(first.basePrice, Math.round(last.close / 50 / 100) * 100);
    assert.notEqual(first.basePrice, last.close);
  });

  it('listings and delistings are in the data: a new code appears, a delisted one stops', async () => {
    const p = provider();
    const codes = async (date: string) => new Set((await p.dailyBars(date)).bars.map((b) => b.code));
    const april30 = await codes('20250430');
    const may2 = await codes('20250502');
    assert.equal(april30.has('222220'), true);
    assert.equal(may2.has('222220'), false);
    assert.equal(april30.has('222230'), false);
    assert.equal(may2.has('222230'), true);
  });

  it('an outage that recovers: 500s, a timeout and a 429 are retried with back-off', async () => {
    const p = provider({ timeoutMs: 300 });
    double.inject('http-500', { path: 'stk_bydd_trd', times: 2 });
    double.inject('timeout', { path: 'ksq_bydd_trd', times: 1, delayMs: 2_000 });
    double.inject('rate-limit', { path: 'knx_bydd_trd', times: 1 });
    const day = await p.dailyBars('20250508');
    assert.equal(day.trading, true);
    assert.deepEqual(day.counts, { KOSPI: 3, KOSDAQ: 2, KONEX: 2 });
    assert.equal(double.faults.count('stk_bydd_trd'), 3);
    assert.equal(double.faults.count('ksq_bydd_trd'), 2);
    assert.equal(double.faults.count('knx_bydd_trd'), 2);
  });

  it('an outage that does not recover is ProviderUnavailable, and no part of the day', async () => {
    const p = provider();
    // KOSPI answers, KOSDAQ is down for good: nothing of the day comes back
    double.inject('http-503', { path: 'ksq_bydd_trd', times: Number.POSITIVE_INFINITY });
    const error = await refusal(p.dailyBars('20250508'), ProviderUnavailable);
    assert.equal(error.attempts, 4);
    assert.equal(error.code, '503');
    assert.equal(double.faults.count('ksq_bydd_trd'), 4);
    assert.equal(double.faults.count('knx_bydd_trd'), 0);
  });

  it('a market answering no rows while the others trade is a partial day: ProviderDataInvalid', async () => {
    double.inject('partial', { path: 'knx_bydd_trd' });
    const error = await refusal(provider().dailyBars('20250507'), ProviderDataInvalid);
    assert.match(error.message, /KONEX answered no rows/);
  });

  it('far fewer rows than the previous day is a partial answer; a few listings less is not', async () => {
    const p = provider();
    await refusal(p.dailyBars('20250507', { expectedRows: { KOSPI: 953 } }), ProviderDataInvalid);
    const day = await p.dailyBars('20250507', { expectedRows: { KOSPI: 3, KOSDAQ: 4, KONEX: 2 } });
    assert.equal(day.trading, true);
  });

  it('a malformed answer is ProviderDataInvalid, not data and not retried', async () => {
    double.inject('malformed', { path: 'stk_bydd_trd' });
    await refusal(provider().dailyBars('20250428'), ProviderDataInvalid);
    assert.equal(double.faults.count('stk_bydd_trd'), 1);
  });

  it('an unknown key, or a key not approved for one market, is ProviderAuthFailed at once', async () => {
    const stranger = new KrxOpenApiProvider({
      authKey: 'not-registered',
      redis: redis.connection(),
      host: double.url,
      retry: FAST_RETRY,
    });
    const error = await refusal(stranger.dailyBars('20250428'), ProviderAuthFailed);
    assert.equal(error.code, '401');
    assert.match(error.message, /Unauthorized API Call/);
    const kospiOnly = provider({ markets: ['KOSPI', 'KOSDAQ'] });
    await refusal(kospiOnly.dailyBars('20250428'), ProviderAuthFailed);
    assert.equal(double.faults.count('knx_bydd_trd'), 1);
    await refusal(kospiOnly.dailyBars('2025-04-28'), ProviderRequestRefused);
  });

  it('two replicas with the same key share one pace through Redis', async () => {
    double.perSecond = 5;
    const authKey = 'KRX-shared-key-of-two-replicas';
    const replicas = [0, 1].map(() => provider({ authKey, perSecond: 4, redis: redis.connection() }));
    const days = ['20250428', '20250429', '20250430'];
    const results = await Promise.all(replicas.flatMap((r) => days.map((d) => r.dailyBars(d))));
    assert.equal(
      results.every((d) => d.trading),
      true,
    );
    assert.ok(double.faults.busiestSecond() <= 5, `busiest second: ${double.faults.busiestSecond()}`);
    // nothing was refused: 18 requests for 18 market-days
    assert.equal(double.faults.count(), 18);
  });

  it("two replicas share the key's daily quota: past it a request is refused unsent, not retried, until midnight in Korea", async () => {
    const authKey = 'KRX-daily-quota-of-two-replicas';
    const replicas = [0, 1].map(() => provider({ authKey, perDay: 7, redis: redis.connection() }));
    const before = double.faults.count();
    // a day is 3 requests (one per market): 2 days take 6 of the 7 units, the third day gets 1 and stops
    assert.equal((await replicas[0]?.dailyBars('20250428'))?.trading, true);
    assert.equal((await replicas[1]?.dailyBars('20250429'))?.trading, true);
    const error = await refusal(replicas[0]?.dailyBars('20250430') ?? Promise.resolve(), ProviderUnavailable);
    assert.equal(error.code, 'daily-limit');
    assert.match(error.message, /daily quota of 7 requests is spent/);
    assert.equal(error.attempts, 1, 'not retried');
    // 7 sent: the 8th and 9th were refused before reaching KRX
    assert.equal(double.faults.count() - before, 7);
  });
});

describe(SharedDailyBudget.name, () => {
  const redis = new TestRedis('daily-budget');
  afterAll(() => redis.close());

  it('counts per Korean day: the quota renews at midnight Asia/Seoul (15:00 UTC), not UTC', async () => {
    let now = new Date('2026-12-04T14:59:59Z'); // 23:59:59 in Seoul
    const budget = new SharedDailyBudget(redis.connection(), 'krx', 'quota-test', 2, () => now);
    await budget.take();
    await budget.take();
    await assert.rejects(budget.take(), (e: unknown) => e instanceof ProviderUnavailable && e.code === 'daily-limit');
    now = new Date('2026-12-04T15:00:00Z'); // 00:00 on the 5th in Seoul, still the 4th in UTC
    await budget.take();
    assert.equal(seoulDay(now), '20261205');
  });
});
