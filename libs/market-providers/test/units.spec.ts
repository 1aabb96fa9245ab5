import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { KiwoomError } from '@stocklab/kiwoom';
import { ProviderAuthFailed, ProviderDataInvalid, ProviderRequestRefused, ProviderUnavailable } from '../src/errors.js';
import { isYmd, parseProviderNumber } from '../src/http.js';
import { providerErrorOfKiwoom } from '../src/kiwoom-daily-chart.js';
import { parseDailyTrade } from '../src/krx-open-api.js';
import { errorOfDartStatus, searchWindows } from '../src/open-dart.js';
import { backoffDelay, withRetries } from '../src/retry.js';
import { REPORT_CODE_OF_QUARTER } from '../src/types.js';
import { readZip, writeZip } from '../src/zip.js';
import { refusal } from './helpers.js';

describe('provider building blocks', () => {
  it('back-off: full jitter under a ceiling that doubles per retry and stops growing at the cap', () => {
    const top = { baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0.999_999 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((r) => backoffDelay(r, top)),
      [99, 199, 399, 799, 999, 999],
    );
    assert.equal(backoffDelay(3, { ...top, random: () => 0 }), 0);
    assert.equal(backoffDelay(3, { ...top, random: () => 0.5 }), 200);
  });

  it('retries only transient failures, and says how many attempts it made', async () => {
    let calls = 0;
    const flaky = await withRetries(
      async () => {
        calls += 1;
        if (calls < 3) {
          throw new ProviderUnavailable('p', 'down', '503');
        }
        return 'ok';
      },
      { baseDelayMs: 1 },
    );
    assert.deepEqual([flaky, calls], ['ok', 3]);
    calls = 0;
    await refusal(
      withRetries(async () => {
        calls += 1;
        throw new ProviderDataInvalid('p', 'bad');
      }),
      ProviderDataInvalid,
    );
    assert.equal(calls, 1);
    const exhausted = await refusal(
      withRetries(
        async () => {
          throw new ProviderUnavailable('p', 'limited', '429', true);
        },
        { attempts: 3, baseDelayMs: 1 },
      ),
      ProviderUnavailable,
    );
    assert.deepEqual([exhausted.attempts, exhausted.rateLimited, exhausted.code], [3, true, '429']);
    assert.match(exhausted.message, /^p: limited \(gave up after 3 attempts\)$/);
  });

  it('reads the providers’ numbers: commas, signs, "-" as no value, anything else refused', () => {
    assert.equal(parseProviderNumber('2,975,231,937,664'), 2_975_231_937_664);
    assert.equal(parseProviderNumber('-1,700'), -1_700);
    assert.equal(parseProviderNumber('+74100', true), 74_100);
    assert.equal(parseProviderNumber('-160400', true), 160_400);
    assert.equal(parseProviderNumber('1.15'), 1.15);
    assert.equal(parseProviderNumber('-'), null);
    assert.equal(parseProviderNumber(''), null);
    for (const bad of ['1,23', '12a', 'NaN', '1,234,56', undefined, {}]) {
      assert.equal(parseProviderNumber(bad), undefined, JSON.stringify(bad));
    }
    assert.equal(isYmd('20250229'), false);
    assert.equal(isYmd('20240229'), true);
  });

  it('refuses KRX rows that are not of the day, the market, or a possible bar', () => {
    const row = {
      BAS_DD: '20250428',
      ISU_CD: '111120',
      ISU_NM: '누리화학',
      MKT_NM: 'KOSPI',
      SECT_TP_NM: '-',
      TDD_CLSPRC: '48,300',
      CMPPREVDD_PRC: '0',
      FLUC_RT: '0.00',
      TDD_OPNPRC: '48,000',
      TDD_HGPRC: '48,500',
      TDD_LWPRC: '47,900',
      ACC_TRDVOL: '1,000',
      ACC_TRDVAL: '48,200,000',
      MKTCAP: '3,670,800,000,000',
      LIST_SHRS: '76,000,000',
    };
    assert.equal(parseDailyTrade('20250428', 'KOSPI', { OutBlock_1: [row] })[0]?.close, 48_300);
    for (const [field, value] of [
      ['BAS_DD', '20250425'],
      ['MKT_NM', 'KOSDAQ'],
      ['ISU_CD', '11112'],
      ['TDD_CLSPRC', '-'],
      ['TDD_HGPRC', '47,000'],
      ['TDD_LWPRC', '0'],
      ['LIST_SHRS', 'x'],
    ]) {
      assert.throws(
        () => parseDailyTrade('20250428', 'KOSPI', { OutBlock_1: [{ ...row, [field]: value }] }),
        ProviderDataInvalid,
        `${field}`,
      );
    }
    assert.throws(() => parseDailyTrade('20250428', 'KOSPI', { OutBlock_1: [row, row] }), ProviderDataInvalid);
    assert.throws(() => parseDailyTrade('20250428', 'KOSPI', { output: [] }), ProviderDataInvalid);
    assert.throws(() => parseDailyTrade('20250428', 'KOSPI', { respCode: '500', respMsg: 'x' }), ProviderUnavailable);
  });

  it('OpenDART statuses by what a caller can do about them', () => {
    assert.equal(errorOfDartStatus('000', '정상', 'x'), undefined);
    assert.equal(errorOfDartStatus('013', '조회된 데이타가 없습니다.', 'x'), undefined);
    for (const s of ['010', '011', '012', '901']) {
      assert.ok(errorOfDartStatus(s, '', 'x') instanceof ProviderAuthFailed, s);
    }
    assert.equal((errorOfDartStatus('020', '', 'x') as ProviderUnavailable).rateLimited, true);
    assert.ok(errorOfDartStatus('800', '', 'x') instanceof ProviderUnavailable);
    assert.ok(errorOfDartStatus('100', '', 'x') instanceof ProviderRequestRefused);
    assert.ok(errorOfDartStatus('777', '', 'x') instanceof ProviderDataInvalid);
    assert.deepEqual(REPORT_CODE_OF_QUARTER, { 1: '11013', 2: '11012', 3: '11014', 4: '11011' });
  });

  it('cuts a search range into windows of at most three months', () => {
    assert.deepEqual(searchWindows('20250101', '20250630'), [
      ['20250101', '20250331'],
      ['20250401', '20250630'],
    ]);
    assert.deepEqual(searchWindows('20250315', '20250320'), [['20250315', '20250320']]);
    assert.deepEqual(searchWindows('20241201', '20250301'), [
      ['20241201', '20250228'],
      ['20250301', '20250301'],
    ]);
  });

  it('Kiwoom errors by what a caller can do about them', () => {
    const of = (category: KiwoomError['category'], code: string) =>
      providerErrorOfKiwoom(new KiwoomError(category, 'ka10081', 'm', code));
    assert.ok(of('reject', '8001') instanceof ProviderAuthFailed);
    assert.ok(of('reauth', '8005') instanceof ProviderAuthFailed);
    assert.equal((of('retry', '1700') as ProviderUnavailable).rateLimited, true);
    assert.ok(of('ambiguous', '500') instanceof ProviderUnavailable);
    assert.ok(of('reject', '1902') instanceof ProviderRequestRefused);
  });

  it('ZIP: what it writes it reads back; a non-ZIP is refused', () => {
    const data = Buffer.from('<result>' + '<list><corp_code>00126380</corp_code></list>'.repeat(500) + '</result>');
    const [entry] = readZip(writeZip([{ name: 'CORPCODE.xml', data }]));
    assert.equal(entry?.name, 'CORPCODE.xml');
    assert.equal(entry?.data.equals(data), true);
    assert.throws(() => readZip(Buffer.from('<result><status>010</status></result>')), /not a ZIP/);
  });
});
