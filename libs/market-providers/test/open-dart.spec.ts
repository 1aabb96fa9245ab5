import assert from 'node:assert/strict';
import { afterAll, afterEach, beforeAll, describe, it } from '@jest/globals';
import { ProviderAuthFailed, ProviderDataInvalid, ProviderRequestRefused, ProviderUnavailable } from '../src/errors.js';
import { OpenDartProvider, type OpenDartOptions } from '../src/open-dart.js';
import { OpenDartDouble } from '../src/testing/open-dart-double.js';
import { QUARTER_OF_REPORT_CODE, type FiledStatement, type FiscalQuarter } from '../src/types.js';
import { FAST_RETRY, refusal, TestRedis } from './helpers.js';

describe('OpenDART provider against the OpenDART double', () => {
  let double: OpenDartDouble;
  const redis = new TestRedis('dart');
  let keySeq = 0;

  const provider = (options: Partial<OpenDartOptions> = {}) => {
    keySeq += 1;
    const apiKey = options.apiKey ?? `${String(keySeq).padStart(40, 'd')}`;
    double.addKey(apiKey);
    return new OpenDartProvider({
      apiKey,
      redis: options.redis ?? redis.connection(),
      host: double.url,
      perSecond: 50,
      timeoutMs: 2_000,
      retry: FAST_RETRY,
      ...options,
    });
  };

  const amount = (s: FiledStatement | null, id: string, cumulative = false): number | null | undefined => {
    const account = s?.accounts.find((a) => a.accountId === id);
    return cumulative ? account?.cumulativeAmount : account?.amount;
  };

  beforeAll(async () => {
    double = await OpenDartDouble.start();
  });

  afterEach(() => {
    double.faults.clear();
    double.maxPageCount = 100;
    double.dailyLimit = Number.POSITIVE_INFINITY;
  });

  afterAll(async () => {
    await double.close();
    await redis.close();
  });

  it('a statement comes with the date it was filed: the annual 2024 report of 2025-03-11', async () => {
    const s = await provider().statement('00900001', 2024, 4, 'CFS');
    assert.ok(s);
    assert.deepEqual([s.reportCode, s.quarter, s.receiptNo, s.filingDate], ['11011', 4, '20250311001085', '20250311']);
    assert.equal(amount(s, 'ifrs-full_Revenue'), 300_870_903_000_000);
    assert.equal(amount(s, 'ifrs-full_Equity'), 514_531_948_000_000 - 112_339_878_000_000);
    // annual flows have no "since the year began" figure
    assert.equal(amount(s, 'ifrs-full_Revenue', true), null);
    const separate = await provider().statement('00900001', 2024, 4, 'OFS');
    assert.equal(amount(separate, 'ifrs-full_Revenue'), 209_052_241_000_000);
  });

  it('reprt_code maps to quarters: 11013 Q1, 11012 half-year (Q2), 11014 Q3, 11011 annual (Q4)', async () => {
    assert.deepEqual(QUARTER_OF_REPORT_CODE, { '11013': 1, '11012': 2, '11014': 3, '11011': 4 });
    const p = provider();
    const year = await Promise.all(
      ([1, 2, 3, 4] as FiscalQuarter[]).map((q) => p.statement('00900001', 2024, q, 'CFS')),
    );
    assert.deepEqual(
      year.map((s) => [s?.quarter, s?.reportCode, s?.filingDate]),
      [
        [1, '11013', '20240516'],
        [2, '11012', '20240814'],
        [3, '11014', '20241114'],
        [4, '11011', '20250311'],
      ],
    );
    // quarterly flows: the quarter itself, and since January; Q3's cumulative is Q1 + Q2 + Q3
    const quarters = year.slice(0, 3).map((s) => amount(s, 'ifrs-full_Revenue') ?? 0);
    assert.equal(
      amount(year[2] ?? null, 'ifrs-full_Revenue', true),
      quarters.reduce((a, b) => a + b, 0),
    );
  });

  it('point in time: what is known on a date is only what was filed by then', async () => {
    const p = provider();
    const filed = (await Promise.all([
      p.statement('00900001', 2024, 4, 'CFS'),
      p.statement('00900001', 2025, 1, 'CFS'),
    ])) as FiledStatement[];
    const latestKnown = (asOf: string) =>
      filed
        .filter((s) => s.filingDate <= asOf)
        .sort((a, b) => a.filingDate.localeCompare(b.filingDate))
        .at(-1);
    // the Q1 2025 quarter ended 03-31, but it was filed on 05-15: on 05-14 the annual report is the latest
    assert.equal(latestKnown('20250514')?.reportCode, '11011');
    assert.equal(latestKnown('20250515')?.reportCode, '11013');
    assert.equal(latestKnown('20250310'), undefined);
  });

  it('a report not filed (013) is null, not an error; a company without consolidated statements too', async () => {
    const p = provider();
    assert.equal(await p.statement('00900002', 2025, 1, 'CFS'), null);
    assert.equal(await p.statement('00900003', 2024, 4, 'CFS'), null);
    const separate = await p.statement('00900003', 2024, 4, 'OFS');
    assert.equal(amount(separate, 'dart_OperatingIncomeLoss'), -12_500_000_000);
    await refusal(p.statement('900003', 2024, 4, 'OFS'), ProviderRequestRefused);
  });

  it('the disclosure search: every page, with receipt dates; periodic reports only on request', async () => {
    double.maxPageCount = 2;
    const p = provider();
    const all = await p.filings('20250301', '20250531');
    assert.equal(all.length, 7);
    assert.equal(double.faults.count('/api/list.json'), 4);
    const amended = all.find((f) => f.receiptNo === '20250402000222');
    assert.deepEqual(
      [amended?.receiptDate, amended?.reportName, amended?.stockCode],
      ['20250402', '[기재정정]사업보고서 (2024.12)', '111120'],
    );
    const periodic = await p.filings('20250301', '20250531', { periodicOnly: true });
    assert.deepEqual(periodic.map((f) => f.receiptDate).sort(), [
      '20250311',
      '20250318',
      '20250320',
      '20250402',
      '20250515',
    ]);
    assert.deepEqual(await p.filings('20240101', '20240131'), []);
  });

  it('a search over more than three months without a company is asked in three-month windows', async () => {
    const p = provider();
    const half = await p.filings('20250101', '20250630');
    assert.equal(half.length, 7);
    assert.equal(double.faults.count('/api/list.json'), 2);
    const ofOne = await p.filings('20240101', '20251231', { corpCode: '00900001' });
    assert.deepEqual(ofOne.map((f) => f.receiptNo).sort(), ['20250311001085', '20250320000512', '20250515000456']);
    assert.equal(double.faults.count('/api/list.json'), 3);
  });

  it('a search page short of its count is ProviderDataInvalid, not fewer filings', async () => {
    double.maxPageCount = 3;
    double.inject('partial', { path: '/api/list.json', after: 1 });
    await refusal(provider().filings('20250301', '20250531'), ProviderDataInvalid);
  });

  it('corpCode.xml: the ZIP unpacked, listed companies with stock codes, unlisted ones without', async () => {
    const codes = await provider().corpCodes();
    assert.equal(codes.length, 6);
    assert.deepEqual(
      codes.find((c) => c.corpCode === '00900001'),
      {
        corpCode: '00900001',
        corpName: '한빛전자',
        stockCode: '111110',
        modifyDate: '20250320',
      },
    );
    const unlisted = codes.find((c) => c.corpCode === '00900004');
    assert.equal(unlisted?.stockCode, null);
    assert.equal(unlisted?.corpName, '비상장기술 & 파트너스');
  });

  it('an unknown key (010) or a suspended one (011) is ProviderAuthFailed at once, JSON or XML', async () => {
    const stranger = new OpenDartProvider({
      apiKey: 'x'.repeat(40),
      redis: redis.connection(),
      host: double.url,
      retry: FAST_RETRY,
    });
    assert.equal((await refusal(stranger.statement('00900001', 2024, 4, 'CFS'), ProviderAuthFailed)).code, '010');
    assert.equal((await refusal(stranger.corpCodes(), ProviderAuthFailed)).code, '010');
    double.addKey('s'.repeat(40), 'suspended');
    const suspended = new OpenDartProvider({
      apiKey: 's'.repeat(40),
      redis: redis.connection(),
      host: double.url,
      retry: FAST_RETRY,
    });
    assert.equal((await refusal(suspended.filings('20250301', '20250331'), ProviderAuthFailed)).code, '011');
    assert.equal(double.faults.count(), 3);
  });

  it('the rate limit (020), maintenance (800), 5xx and a timeout recover through retries', async () => {
    const p = provider({ timeoutMs: 300 });
    double.inject('rate-limit', { path: 'fnlttSinglAcntAll', times: 2 });
    double.inject('maintenance', { path: 'fnlttSinglAcntAll', times: 1 });
    assert.equal((await p.statement('00900001', 2024, 4, 'CFS'))?.filingDate, '20250311');
    assert.equal(double.faults.count('fnlttSinglAcntAll'), 4);
    double.inject('http-500', { path: 'corpCode' });
    double.inject('timeout', { path: 'corpCode', delayMs: 2_000 });
    assert.equal((await p.corpCodes()).length, 6);
  });

  it('a limit that stays used up is ProviderUnavailable (rate-limited), with nothing returned', async () => {
    const p = provider();
    double.dailyLimit = 0;
    const error = await refusal(p.statement('00900001', 2024, 4, 'CFS'), ProviderUnavailable);
    assert.equal(error.rateLimited, true);
    assert.equal(error.code, '020');
    assert.equal(error.attempts, 4);
  });

  it('an outage that outlasts the retries is ProviderUnavailable', async () => {
    double.inject('drop', { path: 'list.json', times: Number.POSITIVE_INFINITY });
    const error = await refusal(provider().filings('20250301', '20250531'), ProviderUnavailable);
    assert.equal(error.code, 'network');
  });

  it('two replicas with the same key share one pace through Redis', async () => {
    const apiKey = 'r'.repeat(40);
    const replicas = [0, 1].map(() => provider({ apiKey, perSecond: 3, redis: redis.connection() }));
    const started = Date.now();
    await Promise.all(replicas.flatMap((r) => [2024, 2024, 2024].map(() => r.statement('00900001', 2024, 4, 'CFS'))));
    // 6 calls at 3 per second for both together take at least (6 - 1) / 3 s
    assert.ok(Date.now() - started >= 1_600, `took ${Date.now() - started} ms`);
    assert.ok(double.faults.busiestSecond() <= 4, `busiest second: ${double.faults.busiestSecond()}`);
  });
});
