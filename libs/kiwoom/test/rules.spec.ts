import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { kiwoomCode, kiwoomNumber } from '../src/account-api.js';
import { parseExpiresDt } from '../src/client.js';
import { detailCode, errorOfAnswer, errorOfStatus } from '../src/errors.js';
import { isOnTick, krxTick, onTick } from '../src/ticks.js';

describe('Kiwoom answers: error shapes the broker is known to send', () => {
  it('finds the detail code in each documented shape', () => {
    assert.equal(detailCode('입력 값 오류입니다[8030:실전/모의 투자 구분이 맞지 않습니다]'), '8030');
    assert.equal(
      detailCode('허용된 요청 개수를 초과하였습니다[1700:허용된 요청 개수를 초과하였습니다. API ID=kt00001]'),
      '1700',
    );
    assert.equal(detailCode('[2000](RC4058:모의투자 장종료)'), '2000');
    assert.equal(detailCode('장종료(RC4058:모의투자 장종료)'), '4058');
    assert.equal(detailCode('no code at all'), undefined);
  });

  it('classifies: 1700 retry, 8005 reauth, 1999 ambiguous, the rest final; 0 is success', () => {
    const category = (code: number, msg: string) =>
      errorOfAnswer('kt10000', { return_code: code, return_msg: msg })?.category;
    assert.equal(category(5, '[1700:rate]'), 'retry');
    assert.equal(category(3, '[8005:Token이 유효하지 않습니다]'), 'reauth');
    assert.equal(category(2, '[1999:예기치 못한 오류]'), 'ambiguous');
    assert.equal(category(20, '[2000](855056:매수증거금이 부족합니다)'), 'reject');
    assert.equal(category(2, '[1902:종목코드 오류]'), 'reject');
    assert.equal(category(8005, ''), 'reauth', 'the detail code alone in return_code');
    assert.equal(errorOfAnswer('kt10000', { return_code: 0, return_msg: '정상' }), undefined);
    assert.equal(errorOfStatus('kt10000', 401, '').category, 'reauth');
    assert.equal(errorOfStatus('kt10000', 429, '').category, 'retry');
    assert.equal(errorOfStatus('kt10000', 502, '').category, 'ambiguous');
    assert.equal(errorOfStatus('kt10000', 404, '').category, 'reject');
  });

  it('reads signed, zero-padded numbers, prefixed codes and expires_dt in Korea time', () => {
    assert.equal(kiwoomNumber('-00000163958'), 163_958);
    assert.equal(kiwoomNumber('+74100'), 74_100);
    assert.equal(kiwoomNumber('000000000001'), 1);
    assert.equal(kiwoomNumber(''), 0);
    assert.equal(kiwoomCode('A005930'), '005930');
    assert.equal(kiwoomCode('005930'), '005930');
    assert.equal(new Date(parseExpiresDt('20261204090000')).toISOString(), '2026-12-04T00:00:00.000Z');
    assert.throws(() => parseExpiresDt('2026-12-04'));
  });
});

describe('KRX tick grid (since 25 January 2023)', () => {
  it('has the tick of each price band', () => {
    const bands: Array<[number, number]> = [
      [1_999, 1],
      [2_000, 5],
      [4_995, 5],
      [5_000, 10],
      [19_990, 10],
      [20_000, 50],
      [49_950, 50],
      [50_000, 100],
      [199_900, 100],
      [200_000, 500],
      [499_500, 500],
      [500_000, 1_000],
    ];
    for (const [price, tick] of bands) {
      assert.equal(krxTick(price), tick, String(price));
    }
  });

  it('rounds a buy limit down and a sell price up, onto the grid', () => {
    assert.equal(onTick(70_049, 'down'), 70_000);
    assert.equal(onTick(70_001, 'up'), 70_100);
    assert.equal(onTick(19_996, 'up'), 20_000);
    assert.equal(onTick(4_999, 'down'), 4_995);
    assert.ok(isOnTick(70_000));
    assert.ok(!isOnTick(70_010));
    assert.ok(!isOnTick(0));
  });
});
