import assert from 'node:assert/strict';
import { afterAll, afterEach, beforeAll, describe, it } from '@jest/globals';
import { deleteRedisKeys, testRedisUrl, uniqueKeyPrefix } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import { KiwoomAccountApi } from '../src/account-api.js';
import { KiwoomClient, type KiwoomClientOptions } from '../src/client.js';
import { KiwoomError } from '../src/errors.js';
import { KiwoomDouble } from '../src/testing/kiwoom-double.js';

const SECRET = 'secret-key-of-the-test';

/** What `promise` was rejected with (a KiwoomError is expected). */
async function refusal(promise: Promise<unknown>): Promise<KiwoomError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof KiwoomError, `expected a KiwoomError, got ${String(error)}`);
  return error;
}

describe('Kiwoom client against the Kiwoom double (real Redis shared by "replicas")', () => {
  let double: KiwoomDouble;
  const prefix = uniqueKeyPrefix('kiwoom');
  const connections: Redis[] = [];
  let appKeySeq = 0;

  /** An app key with its account at the double, and `replicas` clients of it, each on its own connection. */
  const linked = (
    replicas = 1,
    cash = 10_000_000,
    holdings: Record<string, number> = {},
    options: Partial<KiwoomClientOptions> = {},
  ) => {
    appKeySeq += 1;
    const appKey = `app-key-${appKeySeq}-${prefix}`;
    double.addAccount({
      appKey,
      secretKey: SECRET,
      accountNo: `81${String(appKeySeq).padStart(8, '0')}`,
      cash,
      holdings,
    });
    const apis = Array.from({ length: replicas }, () => {
      const redis = new Redis(testRedisUrl(), { keyPrefix: prefix });
      connections.push(redis);
      return new KiwoomAccountApi(
        new KiwoomClient({ host: double.url, appKey, secretKey: SECRET, redis, timeoutMs: 3000, ...options }),
      );
    });
    return { appKey, apis, api: apis[0] };
  };

  const today = (): string => new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10).replaceAll('-', '');

  beforeAll(async () => {
    double = await KiwoomDouble.start();
  });

  afterEach(() => {
    double.pageSize = 20;
  });

  afterAll(async () => {
    for (const c of connections) {
      c.disconnect();
    }
    await double.close();
    await deleteRedisKeys(testRedisUrl(), prefix);
  });

  it('issues one token per app key for three replicas starting at once', async () => {
    const { appKey, apis } = linked(3);
    const numbers = await Promise.all(apis.flatMap((api) => [api.accountNumber(), api.accountNumber()]));
    assert.equal(new Set(numbers).size, 1);
    assert.equal(double.issuances(appKey), 1);
  });

  it('replaces a token another session invalidated once, for every replica', async () => {
    const { appKey, apis } = linked(3);
    await apis[0]?.accountNumber();
    double.inject('revoke-token', { apiId: 'ka00001' });
    await apis[1]?.accountNumber();
    await Promise.all(apis.map((api) => api.accountNumber()));
    assert.equal(double.issuances(appKey), 2);
  });

  it('keeps three replicas together under the per-second limit, so that none is refused', async () => {
    const { appKey, apis } = linked(3);
    await apis[0]?.accountNumber();
    await Promise.all(apis.flatMap((api) => Array.from({ length: 4 }, () => api.orderableCash())));
    assert.ok(double.busiestSecond(appKey, 'query') <= 5, `busiest second ${double.busiestSecond(appKey, 'query')}`);
  });

  it('sends a query refused with 1700 again, and leaves an order refused with 1700 to its caller', async () => {
    const { appKey, api } = linked();
    double.inject('rate-limit', { apiId: 'kt00001' });
    assert.equal(await api.orderableCash(), 10_000_000);
    double.inject('rate-limit', { apiId: 'kt10000' });
    const error = await refusal(
      api.placeOrder({ side: 'buy', code: '005930', quantity: 1, type: 'limit', price: 70_000 }),
    );
    assert.equal(error.category, 'retry');
    assert.equal(error.code, '1700');
    assert.equal(double.ordersOf(appKey).length, 0);
  });

  it('reads again a query that got no answer, as configured, and never sends an order again', async () => {
    const { appKey, api } = linked(1, 10_000_000, {}, { unansweredRetries: 2 });
    // a read whose token request was lost twice: asked a third time
    double.inject('http-500', { apiId: 'au10001', times: 2 });
    assert.equal(await api.orderableCash(), 10_000_000);
    assert.equal(double.issuances(appKey), 1);
    await api.placeOrder({ side: 'buy', code: '005930', quantity: 1, type: 'limit', price: 70_000 });
    // a read dropped, then answered 500: the third reading answers
    double.inject('drop-before', { apiId: 'kt00007', times: 1 });
    double.inject('http-500', { apiId: 'kt00007', times: 1 });
    assert.equal((await api.ordersOf(today())).length, 1);
    // three readings without an answer: the caller is told
    double.inject('http-500', { apiId: 'kt00001', times: 3 });
    assert.equal((await refusal(api.orderableCash())).category, 'ambiguous');
    assert.equal(double.faultsLeft('kt00001') + double.faultsLeft('kt00007') + double.faultsLeft('au10001'), 0);
    assert.equal(await api.orderableCash(), double.account(appKey).cash);
    // an order whose answer was lost is not sent again: it may stand at the broker
    double.inject('drop-after-accept', { apiId: 'kt10000', times: 1 });
    const lost = await refusal(
      api.placeOrder({ side: 'buy', code: '005930', quantity: 1, type: 'limit', price: 70_000 }),
    );
    assert.equal(lost.category, 'ambiguous');
    assert.equal(double.ordersOf(appKey).length, 2);
  });

  it("fails an order at once when its token request gets no answer (its caller's attempt must not leave later)", async () => {
    const { appKey, api } = linked(1, 10_000_000, {}, { unansweredRetries: 2 });
    double.inject('http-500', { apiId: 'au10001', times: 1 });
    const failed = await refusal(
      api.placeOrder({ side: 'buy', code: '005930', quantity: 1, type: 'limit', price: 70_000 }),
    );
    assert.equal(failed.apiId, 'au10001');
    assert.equal(double.ordersOf(appKey).length, 0);
    assert.equal(double.issuances(appKey), 0);
  });

  it('does not send an order whose rate-limit turn came after its send deadline (nothing reaches the broker)', async () => {
    // one order every 4 s for the app key, shared by two replicas: the second waits about 4 s
    const { appKey, apis } = linked(2, 10_000_000, {}, { perSecond: { order: 0.25, query: 4 } });
    const order = { side: 'buy', code: '005930', quantity: 1, type: 'limit', price: 70_000 } as const;
    const [first, second] = apis;
    assert.ok(first && second);
    await first.placeOrder(order);
    const late = await refusal(second.placeOrder(order, Date.now() + 500));
    assert.equal(late.category, 'retry');
    assert.equal(late.code, 'send-deadline');
    assert.equal(double.ordersOf(appKey).length, 1);
    // within its deadline it is sent
    await second.placeOrder(order, Date.now() + 10_000);
    assert.equal(double.ordersOf(appKey).length, 2);
  });

  it('classifies business refusals as final, with the broker message', async () => {
    const { api } = linked(1, 100_000);
    const noMoney = await refusal(
      api.placeOrder({ side: 'buy', code: '005930', quantity: 10, type: 'limit', price: 70_000 }),
    );
    assert.equal(noMoney.category, 'reject');
    assert.match(noMoney.message, /매수증거금이 부족합니다/);
    const offTick = await refusal(
      api.placeOrder({ side: 'buy', code: '005930', quantity: 1, type: 'limit', price: 70_010 }),
    );
    assert.equal(offTick.category, 'reject');
    const noShares = await refusal(api.placeOrder({ side: 'sell', code: '005930', quantity: 1, type: 'market' }));
    assert.equal(noShares.category, 'reject');
    // after the close (the order clock at 15:45 Korea time, the session 08:30-15:30)
    double.sessionHours = { open: '08:30', close: '15:30' };
    double.now = () => new Date('2026-03-11T15:45:00+09:00');
    try {
      const closed = await refusal(api.placeOrder({ side: 'sell', code: '005930', quantity: 1, type: 'market' }));
      assert.equal(closed.category, 'reject');
      assert.match(closed.message, /RC4058:모의투자 장종료/);
    } finally {
      double.sessionHours = undefined;
      double.now = () => new Date();
    }
  });

  it('calls an order whose answer was lost ambiguous; the broker has it, and a resend is a second order', async () => {
    const { appKey, api } = linked();
    double.inject('drop-after-accept', { apiId: 'kt10000' });
    const lost = await refusal(
      api.placeOrder({ side: 'buy', code: '000660', quantity: 3, type: 'limit', price: 100_000 }),
    );
    assert.equal(lost.category, 'ambiguous');
    const found = await api.ordersOf(today(), '000660');
    assert.deepEqual(
      found.map((o) => [o.side, o.quantity, o.type, o.price, o.remaining]),
      [['buy', 3, '0', 100_000, 3]],
    );
    await api.placeOrder({ side: 'buy', code: '000660', quantity: 3, type: 'limit', price: 100_000 });
    assert.equal(double.ordersOf(appKey).length, 2, 'the broker does not de-duplicate');
  });

  it('reads every page of the day’s orders', async () => {
    const { api } = linked();
    double.pageSize = 2;
    const numbers: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      numbers.push(await api.placeOrder({ side: 'buy', code: '035420', quantity: 1, type: 'limit', price: 200_000 }));
    }
    const rows = await api.ordersOf(today(), '035420');
    assert.deepEqual(
      rows.map((r) => r.ordNo),
      numbers,
    );
  });

  it('fills orders against the day’s bar as a KRX session would, and the account shows it', async () => {
    const { appKey, api } = linked(1, 10_000_000, { '005380': 10 });
    const date = today();
    const buy = await api.placeOrder({ side: 'buy', code: '005930', quantity: 10, type: 'limit', price: 70_000 });
    const tooLow = await api.placeOrder({ side: 'buy', code: '005930', quantity: 1, type: 'limit', price: 60_000 });
    const sell = await api.placeOrder({ side: 'sell', code: '005380', quantity: 4, type: 'market' });
    const stop = await api.placeOrder({
      side: 'sell',
      code: '005380',
      quantity: 6,
      type: 'stop',
      stopPrice: 190_000,
      price: 180_000,
    });
    double.trade(date, '005930', { open: 71_000, high: 72_000, low: 69_500, close: 70_500 });
    double.trade(date, '005380', { open: 200_000, high: 201_000, low: 185_000, close: 186_000 });
    double.closeDay(date);
    const rows = new Map((await api.ordersOf(date)).map((r) => [r.ordNo, r]));
    assert.deepEqual(
      [buy, tooLow, sell, stop].map((n) => [
        rows.get(n)?.filledQuantity,
        rows.get(n)?.filledPrice,
        rows.get(n)?.remaining,
      ]),
      [
        [10, 70_000, 0],
        [0, 0, 0],
        [4, 200_000, 0],
        [6, 190_000, 0],
      ],
    );
    // the broker's charges (the double's: 0.015 % commission, 0.18 % tax on sells, truncated per fill)
    const charges = await api.chargesToday();
    assert.deepEqual(
      [buy, sell, stop].map((n) => [charges.get(n)?.filledQuantity, charges.get(n)?.commission, charges.get(n)?.tax]),
      [
        [10, 105, 0],
        [4, 120, 1_440],
        [6, 171, 2_052],
      ],
    );
    assert.equal(charges.has(tooLow), false, 'no fill, no charge');
    assert.equal(
      await api.orderableCash(),
      10_000_000 - 700_000 + 800_000 + 1_140_000 - (105 + 120 + 1_440 + 171 + 2_052),
    );
    assert.deepEqual(
      (await api.holdings()).map((h) => [h.code, h.quantity]),
      [['005930', 10]],
    );
    assert.equal(double.account(appKey).holdings['005380'], 0);
  });

  it('refuses a wrong secret key with a final error and issues nothing', async () => {
    const { appKey } = linked();
    const redis = new Redis(testRedisUrl(), { keyPrefix: prefix });
    connections.push(redis);
    const wrong = new KiwoomAccountApi(new KiwoomClient({ host: double.url, appKey, secretKey: 'wrong', redis }));
    const error = await refusal(wrong.accountNumber());
    assert.equal(error.category, 'reject');
    assert.equal(error.code, '8001');
    assert.equal(double.issuances(appKey), 0);
  });
});
