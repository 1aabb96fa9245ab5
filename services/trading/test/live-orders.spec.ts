import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { request } from '@stocklab/test-support';
import { CODES, PRICE, seedStrategy, startInProcessTrading, triggerRun, type InProcessTrading } from './support.js';

/** The first trading day after the crafted market's last bar (2026-04-10, a Friday). */
const TODAY = '2026-04-13';
const TOMORROW = '2026-04-14';
const TODAY_OPEN = 10_200;

interface Order {
  code: string;
  kind: string;
  quantity: number;
  level: number | null;
  status: string;
  tradingDate: string;
  fillPrice: number | null;
  fillPriceSource: string | null;
}

describe('orders live the way a broker has them (in-process)', () => {
  let cluster: InProcessTrading;
  let admin: string;
  const user = randomUUID();
  let strategy: string;
  const ordersOf = async (id: string): Promise<Order[]> => {
    const res = await request<Order[]>('GET', `${cluster.trading.at(0).url}/api/trading/auto-strategies/${id}/orders`, {
      token: cluster.tokenFor(user),
    });
    assert.equal(res.status, 200);
    return res.body;
  };

  beforeAll(async () => {
    cluster = await startInProcessTrading({
      seed: async (pool) => {
        strategy = await seedStrategy(pool, user, ['000010'], 10 * PRICE);
      },
    });
    admin = cluster.tokenFor(randomUUID(), ['user', 'admin']);
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it("no look-ahead: an order sent at 09:00 is accepted and unfilled until the day's bar exists, then fills at that open", async () => {
    // 09:00 of a day whose bar does not exist yet: the decision is made on the last close (04-10)
    const executed = await triggerRun(cluster, admin, 'execute', TODAY);
    assert.equal(executed.status, 201, JSON.stringify(executed.body));
    assert.equal(executed.body.status, 'succeeded', JSON.stringify(executed.body));
    assert.deepEqual(
      (await ordersOf(strategy)).map((o) => [
        o.code,
        o.kind,
        o.quantity,
        o.level,
        o.status,
        o.tradingDate,
        o.fillPrice,
      ]),
      [['000010', 'limit_buy', 9, 10_500, 'accepted', TODAY, null]],
    );
    const before = await cluster.pool.query(`SELECT 1 FROM trading.positions WHERE auto_strategy_id = $1`, [strategy]);
    assert.equal(before.rowCount, 0, 'nothing is booked before the market traded');
    const atBroker = await cluster.pool.query<{ status: string }>(`SELECT status FROM trading.paper_orders`);
    assert.deepEqual(atBroker.rows, [{ status: 'accepted' }]);

    // the day's bars are imported after the close (the open differs from every earlier price)
    for (const code of CODES) {
      await cluster.pool.query(
        `INSERT INTO market.daily_bars (code, date, open, high, low, close, volume, trading_value, market_cap, shares_outstanding)
         VALUES ($1, $2, $3, $3, $3, $3, 1000, $4, $5, 1000000)`,
        [code, TODAY, TODAY_OPEN, TODAY_OPEN * 1000, TODAY_OPEN * 1_000_000],
      );
    }
    await cluster.pool.query(`INSERT INTO market.trading_days (date) VALUES ($1)`, [TODAY]);
    await cluster.pool.query(`UPDATE market.data_version SET version = version + 1`);

    // the next run books what the broker did before it decides anything
    const next = await triggerRun(cluster, admin, 'execute', TOMORROW);
    assert.equal(next.body.status, 'succeeded', JSON.stringify(next.body));
    const [order] = await ordersOf(strategy);
    assert.deepEqual(
      [order?.status, order?.fillPrice, order?.fillPriceSource],
      ['filled', TODAY_OPEN, 'open'],
      JSON.stringify(order),
    );
    const position = await cluster.pool.query<{ quantity: string; entry_date: string }>(
      `SELECT quantity, to_char(entry_date, 'YYYY-MM-DD') AS entry_date FROM trading.positions WHERE auto_strategy_id = $1`,
      [strategy],
    );
    assert.deepEqual(position.rows, [{ quantity: '9', entry_date: TODAY }]);
    const cash = await cluster.pool.query<{ cash: string }>(`SELECT cash FROM trading.auto_strategies WHERE id = $1`, [
      strategy,
    ]);
    assert.equal(Number(cash.rows[0]?.cash), 10 * PRICE - 9 * TODAY_OPEN);
  });
});
