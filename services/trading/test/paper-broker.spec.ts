import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { BROKER, type Broker, type PlaceOrderRequest } from '../src/broker/broker.js';
import { AS_OF, PRICE, seedPosition, seedStrategy, startInProcessTrading, type InProcessTrading } from './support.js';

/** The paper broker refuses what a broker refuses, before anything moves, and fills as the engine does. */
describe('paper broker (in-process)', () => {
  let cluster: InProcessTrading;
  let broker: Broker;
  let accountId: string;

  beforeAll(async () => {
    cluster = await startInProcessTrading({
      seed: async (pool) => {
        const strategy = await seedStrategy(pool, randomUUID(), ['000010'], 1_000_000);
        await seedPosition(pool, strategy, {
          code: '000020',
          quantity: 10,
          entryPrice: PRICE,
          entryDate: '2026-03-09',
        });
        const { rows } = await pool.query<{ account_id: string }>(
          `SELECT account_id FROM trading.auto_strategies WHERE id = $1`,
          [strategy],
        );
        accountId = rows[0]?.account_id;
      },
    });
    broker = cluster.service.app.get<Broker>(BROKER);
  });

  afterAll(async () => {
    await cluster?.close();
  });

  const order = (overrides: Partial<PlaceOrderRequest>): PlaceOrderRequest => ({
    accountId,
    clientOrderId: randomUUID().replaceAll('-', ''),
    code: '000010',
    side: 'buy',
    kind: 'limit_buy',
    quantity: 1,
    price: 10_500,
    tradingDate: AS_OF,
    ...overrides,
  });

  it('rejects, with the reason, what a broker would not accept', async () => {
    const cases: Array<[Partial<PlaceOrderRequest>, string]> = [
      [{ accountId: randomUUID() }, 'unknown account'],
      [{ quantity: 0 }, 'invalid quantity'],
      [{ quantity: 1.5 }, 'invalid quantity'],
      [{ side: 'sell' }, 'order type does not match the side'],
      [{ price: undefined }, 'invalid price'],
      [{ kind: 'market_sell', side: 'sell', price: 10_000, code: '000020' }, 'invalid price'],
      [{ code: '999999' }, 'unknown code'],
      [{ quantity: 10_000, price: 10_500 }, 'insufficient cash'],
      [{ kind: 'market_sell', side: 'sell', price: undefined, code: '000020', quantity: 11 }, 'insufficient holdings'],
    ];
    for (const [overrides, reason] of cases) {
      const placed = await broker.placeOrder(order(overrides));
      assert.deepEqual([placed.status, placed.rejectReason], ['rejected', reason], JSON.stringify(overrides));
    }
    const balance = await broker.getBalance(accountId);
    assert.deepEqual(balance.holdings, [{ code: '000020', quantity: 10 }], 'nothing moved');
  });

  it('holds cash and shares for open orders, fills on the bar, and answers a repeated id with the same order', async () => {
    // AS_OF's bar exists (10,000 flat): a limit buy within the limit fills at the open at once
    const buy = order({ quantity: 3 });
    const filled = await broker.placeOrder(buy);
    assert.deepEqual([filled.status, filled.fillPrice, filled.fillPriceSource], ['filled', PRICE, 'open']);
    const again = await broker.placeOrder(buy);
    assert.equal(again.brokerOrderId, filled.brokerOrderId, 'the same order, not a second one');
    assert.deepEqual(await broker.getOrder(accountId, buy.clientOrderId), again);
    // a target above the day's high rests unreached: expired, the shares free again
    const target = await broker.placeOrder(
      order({ kind: 'target_sell', side: 'sell', code: '000020', quantity: 10, price: 12_000 }),
    );
    assert.deepEqual([target.status, target.rejectReason], ['expired', 'not reached that day']);
    const sell = await broker.placeOrder(
      order({ kind: 'market_sell', side: 'sell', code: '000020', quantity: 10, price: undefined }),
    );
    assert.equal(sell.status, 'filled');
    const balance = await broker.getBalance(accountId);
    assert.deepEqual(balance.holdings, [{ code: '000010', quantity: 3 }]);
    assert.equal(await broker.getOrder(accountId, 'never-sent'), undefined);
  });
});
