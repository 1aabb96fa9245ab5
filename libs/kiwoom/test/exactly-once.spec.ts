import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { deleteRedisKeys, prng, testRedisUrl, uniqueKeyPrefix } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import { KiwoomAccountApi, type KiwoomOrderRequest, type KiwoomOrderRow } from '../src/account-api.js';
import { KiwoomClient } from '../src/client.js';
import { KiwoomError } from '../src/errors.js';
import { matchAttempt, NeedsReview, placeExactlyOnce } from '../src/exactly-once.js';
import { KiwoomDouble, type Fault } from '../src/testing/kiwoom-double.js';

const row = (over: Partial<KiwoomOrderRow>): KiwoomOrderRow => ({
  ordNo: '0000001',
  code: '005930',
  side: 'buy',
  type: '0',
  quantity: 10,
  price: 70_000,
  stopPrice: 0,
  filledQuantity: 0,
  filledPrice: 0,
  remaining: 10,
  time: '09:00:05',
  acceptType: '접수',
  modifyCancel: '',
  originalOrdNo: '',
  ...over,
});

describe('matching a lost order in the day’s order list', () => {
  // 09:00:03 in Korea
  const sentAt = new Date('2026-12-03T00:00:03Z');
  const attempt = { side: 'buy' as const, code: '005930', quantity: 10, type: 'limit' as const, price: 70_000, sentAt };

  it('adopts the one order that is this attempt, placed after it was sent', () => {
    const match = matchAttempt(attempt, [row({ ordNo: '0000007' })], new Set());
    assert.deepEqual(match.kind === 'adopt' && match.order.ordNo, '0000007');
  });

  it('ignores orders bound to other intents, placed long before, or different in any term', () => {
    const others = [
      row({ ordNo: 'bound' }),
      row({ ordNo: 'earlier', time: '08:59:00' }),
      row({ ordNo: 'sell', side: 'sell' }),
      row({ ordNo: 'qty', quantity: 11 }),
      row({ ordNo: 'price', price: 70_100 }),
      row({ ordNo: 'type', type: '3' }),
      row({ ordNo: 'code', code: '000660' }),
      row({ ordNo: 'no-time', time: '' }),
    ];
    assert.deepEqual(matchAttempt(attempt, others, new Set(['bound'])), { kind: 'absent' });
  });

  it('calls two look-alikes ambiguous rather than guess', () => {
    const match = matchAttempt(attempt, [row({ ordNo: 'a' }), row({ ordNo: 'b' })], new Set());
    assert.equal(match.kind, 'ambiguous');
  });
});

/**
 * Orders through the double with an answer lost in every way a network loses one, one fault per
 * order at random (fixed seed): every intended order exists exactly once at the broker.
 */
describe('placing orders exactly once at the Kiwoom double, answers lost at random', () => {
  let double: KiwoomDouble;
  let redis: Redis;
  const prefix = uniqueKeyPrefix('kiwoom-once');
  const appKey = `app-key-once-${prefix}`;
  const today = (): string => new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10).replaceAll('-', '');
  /** A client whose timeout the double's slow answers exceed, paced well above the double's limits. */
  const apiOf = (): KiwoomAccountApi =>
    new KiwoomAccountApi(
      new KiwoomClient({
        host: double.url,
        appKey,
        secretKey: 's',
        redis,
        timeoutMs: 500,
        perSecond: { order: 100, query: 100 },
      }),
    );

  beforeAll(async () => {
    double = await KiwoomDouble.start();
    double.perSecond = { order: 1000, query: 1000 };
    double.addAccount({ appKey, secretKey: 's', accountNo: '8100000099', cash: 10_000_000_000 });
    redis = new Redis(testRedisUrl(), { keyPrefix: prefix });
  });

  afterAll(async () => {
    redis?.disconnect();
    await double?.close();
    await deleteRedisKeys(testRedisUrl(), prefix);
  });

  it('50 orders, faults injected: 50 at the broker, no duplicate, none left for review', async () => {
    const api = apiOf();
    const rand = prng(20261203);
    const faults: Array<Fault | undefined> = [
      undefined,
      'drop-after-accept',
      'drop-before',
      'http-500',
      'http-500-after-accept',
      'delay',
    ];
    const bound = new Set<string>();
    const seen: Record<string, number> = {};
    for (let i = 0; i < 50; i += 1) {
      // few distinct orders, so that look-alikes of earlier ones are always in the list
      const order: KiwoomOrderRequest = {
        side: 'buy',
        code: ['005930', '000660'][i % 2],
        quantity: 1 + Math.floor(rand() * 3),
        type: 'limit',
        price: 70_000,
      };
      const fault = faults[Math.floor(rand() * faults.length)];
      if (fault) {
        seen[fault] = (seen[fault] ?? 0) + 1;
        double.inject(fault, { apiId: 'kt10000', delayMs: 800 });
      }
      const placed = await placeExactlyOnce(api, order, { bound, date: today(), settleMs: 50 });
      assert.ok(!bound.has(placed.ordNo), `order ${i}: ${placed.ordNo} bound twice`);
      bound.add(placed.ordNo);
    }
    const atBroker = double.ordersOf(appKey);
    assert.equal(atBroker.length, 50, 'one broker order per intended order');
    assert.equal(new Set(atBroker.map((o) => o.ordNo)).size, 50);
    assert.deepEqual([...bound].sort(), atBroker.map((o) => o.ordNo).sort());
    assert.ok(Object.keys(seen).length >= 5, `every kind of fault happened: ${JSON.stringify(seen)}`);
    process.stdout.write(
      `exactly once at the Kiwoom double: 50 intended, 50 at the broker, faults ${JSON.stringify(seen)}\n`,
    );
  });

  it('sends nothing once the budget from the attempt’s record is spent (recording it was slow)', async () => {
    const api = apiOf();
    const order: KiwoomOrderRequest = { side: 'buy', code: '005380', quantity: 1, type: 'limit', price: 200_000 };
    const before = double.ordersOf(appKey).length;
    let recorded = 0;
    const late = await placeExactlyOnce(api, order, {
      bound: new Set(),
      date: today(),
      sendBudgetMs: 200,
      // the durable record of the attempt takes longer than its budget
      beforeSend: async () => {
        recorded += 1;
        await new Promise((resolve) => setTimeout(resolve, 400));
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(late instanceof KiwoomError, String(late));
    assert.deepEqual([late.category, late.code, recorded], ['retry', 'send-deadline', 1]);
    assert.equal(double.ordersOf(appKey).length, before);
  });

  it('hands two lost look-alikes to a person instead of guessing', async () => {
    const api = apiOf();
    const order: KiwoomOrderRequest = { side: 'sell', code: '035720', quantity: 5, type: 'market' };
    double.addAccount({ appKey, secretKey: 's', accountNo: '8100000099', cash: 1_000_000, holdings: { '035720': 10 } });
    double.inject('drop-after-accept', { apiId: 'kt10001', times: 2 });
    // the first sell's answer is lost and the order found, but the sender dies before binding it
    const first = await placeExactlyOnce(api, order, { bound: new Set(), date: today(), settleMs: 50 });
    assert.equal(first.via, 'reconciled');
    // sent again by a sender that never learnt of it, answer lost again: two look-alikes, no guess
    await assert.rejects(
      placeExactlyOnce(api, order, { bound: new Set(), date: today(), settleMs: 50 }),
      (e: unknown) => e instanceof NeedsReview && e.candidates.length === 2,
    );
  });
});
