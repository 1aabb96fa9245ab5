import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { kiwoomCode, kiwoomNumber } from '../src/account-api.js';
import { parseExpiresDt } from '../src/client.js';
import { detailCode, errorOfAnswer, errorOfStatus } from '../src/errors.js';
import { isOnTick } from '../src/ticks.js';

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

describe('KRX tick grid the double checks orders with (the engine market rules)', () => {
  it('accepts prices on the grid of the order day and refuses the others', () => {
    const day = '20261204';
    for (const [price, ok] of [
      [1_999, true],
      [2_001, false],
      [4_995, true],
      [19_990, true],
      [20_010, false],
      [49_950, true],
      [199_900, true],
      [200_100, false],
      [499_500, true],
      [500_500, false],
      [70_000, true],
      [70_010, false],
      [0, false],
    ] as const) {
      assert.equal(isOnTick(price, day), ok, String(price));
    }
    // the KOSPI table before 2023-01-25: 50 won from 10,000 to 50,000
    assert.equal(isOnTick(15_010, '20230124'), false);
    assert.equal(isOnTick(15_010, '20230125'), true);
  });
});
