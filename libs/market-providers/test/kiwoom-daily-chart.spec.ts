import assert from 'node:assert/strict';
import { afterAll, afterEach, beforeAll, describe, it } from '@jest/globals';
import { KiwoomClient } from '@stocklab/kiwoom';
import { ProviderAuthFailed, ProviderDataInvalid, ProviderRequestRefused, ProviderUnavailable } from '../src/errors.js';
import { KiwoomDailyChartProvider } from '../src/kiwoom-daily-chart.js';
import { KiwoomChartDouble } from '../src/testing/kiwoom-chart-double.js';
import { SCRIPTED_STOCKS, scriptedMarket } from '../src/testing/scripted-market.js';
import { FAST_RETRY, refusal, TestRedis } from './helpers.js';

const SECRET = 'secret-key-of-the-chart-test';

describe("Kiwoom's daily chart (ka10081) as the per-stock fallback, against its double", () => {
  let double: KiwoomChartDouble;
  const redis = new TestRedis('kiwoom-chart');
  let keySeq = 0;

  /** An app key registered at the double and `replicas` providers of it, each on its own Redis connection. */
  const providers = (replicas = 1, secretKey = SECRET) => {
    keySeq += 1;
    const appKey = `chart-app-key-${keySeq}-${redis.prefix}`;
    double.addAppKey(appKey, SECRET);
    return Array.from(
      { length: replicas },
      () =>
        new KiwoomDailyChartProvider({
          client: new KiwoomClient({ host: double.url, appKey, secretKey, redis: redis.connection(), timeoutMs: 500 }),
          retry: FAST_RETRY,
        }),
    );
  };
  const provider = (secretKey = SECRET) => providers(1, secretKey)[0];

  beforeAll(async () => {
    double = await KiwoomChartDouble.start();
  });

  afterEach(() => {
    double.faults.clear();
  });

  afterAll(async () => {
    await double.close();
    await redis.close();
  });

  it("a stock's bars over a range, oldest first, across pages, as KRX traded them", async () => {
    const bars = await provider().stockBars('111120', '20250429', '20250508');
    const script = scriptedMarket().bars.filter((b) => b.code === '111120' && b.date >= '20250429');
    assert.deepEqual(
      bars.map((b) => [b.date, b.open, b.high, b.low, b.close, b.volume]),
      script.map((b) => [b.date, b.open, b.high, b.low, b.close, b.volume]),
    );
    // trading value arrives in millions of KRW
    assert.equal(
      bars.every((b) => b.tradingValue % 1_000_000 === 0),
      true,
    );
    assert.ok(double.faults.count('/api/dostk/chart') >= 2, 'paged');
  });

  it('unadjusted, the split looks like a 98 % fall; adjusted (upd_stkpc_tp=1) it does not', async () => {
    const p = provider();
    const raw = await p.stockBars('111110', '20250429', '20250507');
    const adjusted = await p.stockBars('111110', '20250429', '20250507', { adjusted: true });
    const move = (bars: typeof raw) => (bars.at(-1)?.close ?? 0) / (bars[0]?.close ?? 1);
    assert.ok(move(raw) < 0.03, `raw move ${move(raw)}`);
    assert.ok(move(adjusted) > 0.9 && move(adjusted) < 1.1, `adjusted move ${move(adjusted)}`);
  });

  it('a day of a universe: a holiday is no trading; a delisted stock is listed as absent', async () => {
    const p = provider();
    const universe = SCRIPTED_STOCKS.map((s) => ({ code: s.code, market: s.market }));
    const may2 = await p.dailyBarsOf('20250502', universe);
    assert.equal(may2.trading, true);
    assert.deepEqual(may2.absent, ['222220']);
    assert.equal(may2.bars.length, SCRIPTED_STOCKS.length - 1);
    const halted = may2.bars.find((b) => b.code === '111110');
    assert.deepEqual([halted?.traded, halted?.volume, halted?.marketCap], [false, 0, null]);
    const holiday = await p.dailyBarsOf('20250505', universe.slice(0, 2));
    assert.equal(holiday.trading, false);
  });

  it("the broker's rate limit (1700) and a 500 are retried; an outage that lasts is ProviderUnavailable", async () => {
    const p = provider();
    double.inject('rate-limit', { path: '/api/dostk/chart', times: 2 });
    double.inject('http-500', { path: '/api/dostk/chart', times: 1 });
    assert.equal((await p.stockBars('222210', '20250507', '20250508')).length, 2);
    double.inject('http-503', { path: '/api/dostk/chart', times: Number.POSITIVE_INFINITY });
    const error = await refusal(p.stockBars('222210', '20250507', '20250508'), ProviderUnavailable);
    assert.equal(error.attempts, 4);
  });

  it('a timeout is retried like an outage', async () => {
    const p = provider();
    double.inject('timeout', { path: '/api/dostk/chart', delayMs: 2_000 });
    assert.equal((await p.stockBars('333320', '20250508', '20250508')).length, 1);
  });

  it('a wrong secret is ProviderAuthFailed; an unknown stock ProviderRequestRefused', async () => {
    await refusal(provider('wrong-secret').stockBars('111120', '20250428', '20250508'), ProviderAuthFailed);
    await refusal(provider().stockBars('999990', '20250428', '20250508'), ProviderRequestRefused);
  });

  it('rows missing their volume are ProviderDataInvalid, not bars', async () => {
    double.inject('partial', { path: '/api/dostk/chart' });
    await refusal(provider().stockBars('111120', '20250428', '20250508'), ProviderDataInvalid);
  });

  it("two replicas share the app key's token and its 5 queries a second through Redis", async () => {
    const replicas = providers(2);
    const codes = SCRIPTED_STOCKS.map((s) => s.code).filter((c) => c !== '222230');
    const results = await Promise.all(
      replicas.flatMap((r) => codes.map((c) => r.stockBars(c, '20250429', '20250430'))),
    );
    assert.equal(
      results.every((bars) => bars.length === 2),
      true,
    );
    assert.ok(
      double.faults.busiestSecond('/api/dostk/chart') <= 5,
      `busiest second ${double.faults.busiestSecond('/api/dostk/chart')}`,
    );
    assert.equal(double.faults.count('/oauth2/token'), 1);
  });
});
