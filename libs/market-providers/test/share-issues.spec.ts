import assert from 'node:assert/strict';
import { afterAll, afterEach, beforeAll, describe, it } from '@jest/globals';
import { isDelistingNotice, parseDartDate } from '../src/corporate-events.js';
import { ProviderAuthFailed, ProviderDataInvalid, ProviderRequestRefused, ProviderUnavailable } from '../src/errors.js';
import { OpenDartProvider } from '../src/open-dart.js';
import { OpenDartDouble } from '../src/testing/open-dart-double.js';
import { FAST_RETRY, refusal, TestRedis } from './helpers.js';

describe('OpenDART share issues (fricDecsn, pifricDecsn, estkRs) against the double', () => {
  let double: OpenDartDouble;
  const redis = new TestRedis('dart-issues');
  let keySeq = 0;

  const provider = () => {
    keySeq += 1;
    const apiKey = String(keySeq).padStart(40, 's');
    double.addKey(apiKey);
    return new OpenDartProvider({
      apiKey,
      redis: redis.connection(),
      host: double.url,
      perSecond: 50,
      timeoutMs: 2_000,
      retry: FAST_RETRY,
    });
  };

  beforeAll(async () => {
    double = await OpenDartDouble.start();
  });

  afterEach(() => {
    double.faults.clear();
  });

  afterAll(async () => {
    await double.close();
    await redis.close();
  });

  it('a bonus issue: one new share per share, record date 2025-04-30, filed 2025-04-10', async () => {
    const issues = await provider().shareIssues('00900003', '20240401', '20250428');
    assert.deepEqual(issues, [
      {
        kind: 'bonus',
        source: 'fricDecsn',
        corpCode: '00900003',
        receiptNo: '20250410000871',
        receiptDate: '20250410',
        recordDate: '20250430',
        sharesPerShare: 1,
        method: null,
        issuePrice: null,
        listingDate: '20250520',
      },
    ]);
    // the search is by receipt date: filed after the range, not there (all three answer 013)
    assert.deepEqual(await provider().shareIssues('00900003', '20240401', '20250409'), []);
  });

  it('a rights issue to shareholders from its registration statement; a third-party allotment is left out', async () => {
    const [rights] = await provider().shareIssues('00900002', '20250101', '20250507');
    assert.deepEqual(rights, {
      kind: 'rights',
      source: 'estkRs',
      corpCode: '00900002',
      receiptNo: '20250404000654',
      receiptDate: '20250404',
      recordDate: '20250508',
      sharesPerShare: null,
      method: '주주배정후 실권주 일반공모',
      issuePrice: 40_000,
      listingDate: null,
    });
    assert.deepEqual(await provider().shareIssues('00900006', '20250101', '20250507'), []);
  });

  it("a 유무상증자's bonus part without a readable record date is kept, with no date to derive from", async () => {
    const [issue] = await provider().shareIssues('00900005', '20250101', '20250507');
    assert.equal(issue?.source, 'pifricDecsn');
    assert.equal(issue?.recordDate, null);
    assert.equal(issue?.sharesPerShare, 0.1);
  });

  it('refusals and outages as OpenDART answers them', async () => {
    await refusal(provider().shareIssues('9003', '20250101', '20250507'), ProviderRequestRefused);
    await refusal(provider().shareIssues('00900003', '20250507', '20250101'), ProviderRequestRefused);
    const unknown = new OpenDartProvider({
      apiKey: 'n'.repeat(40),
      redis: redis.connection(),
      host: double.url,
      retry: FAST_RETRY,
    });
    assert.equal(
      (await refusal(unknown.shareIssues('00900003', '20250101', '20250507'), ProviderAuthFailed)).code,
      '010',
    );
    // maintenance (800) outlasting the retries; a short one ridden out
    double.inject('maintenance', { times: Infinity, path: 'fricDecsn' });
    await refusal(provider().shareIssues('00900003', '20250101', '20250507'), ProviderUnavailable);
    double.faults.clear();
    double.inject('http-503', { times: 2, path: 'estkRs' });
    assert.equal((await provider().shareIssues('00900003', '20250101', '20250507')).length, 1);
    double.faults.clear();
    double.inject('malformed', { times: Infinity, path: 'pifricDecsn' });
    await refusal(provider().shareIssues('00900003', '20250101', '20250507'), ProviderDataInvalid);
  });
});

describe('OpenDART report formats (hand-checked)', () => {
  it('dates as the report APIs write them', () => {
    assert.equal(parseDartDate('2023년 06월 01일'), '20230601');
    assert.equal(parseDartDate('2023-06-01'), '20230601');
    assert.equal(parseDartDate('2023.6.1'), '20230601');
    assert.equal(parseDartDate('20230601'), '20230601');
    assert.equal(parseDartDate('-'), null);
    assert.equal(parseDartDate(' '), null);
    assert.equal(parseDartDate('2023년 02월 30일'), undefined);
    assert.equal(parseDartDate('미정'), undefined);
  });

  it('delisting notices: decided or under way, not the warnings before a decision', () => {
    for (const title of [
      '상장폐지결정',
      '[코스닥시장] 상장폐지 결정',
      '상장폐지',
      '상장폐지(피흡수합병)',
      '[기재정정]상장폐지',
      '정리매매 개시',
    ]) {
      assert.equal(isDelistingNotice(title), true, title);
    }
    for (const title of [
      '상장폐지사유발생',
      '상장폐지 우려',
      '상장폐지 예고',
      '상장폐지 예정',
      '해외증권시장 주권등 상장폐지 결정',
      '주권매매거래정지',
      '사업보고서 (2024.12)',
    ]) {
      assert.equal(isDelistingNotice(title), false, title);
    }
  });
});
