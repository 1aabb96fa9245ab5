import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { assertErrorBody, request } from '@stocklab/test-support';
import {
  AS_OF,
  activateStrategy,
  definition,
  positionsOf,
  PRICE,
  seedPosition,
  seedSecurity,
  seedStrategy,
  startInProcessTrading,
  markTrading,
  triggerRun,
  type InProcessTrading,
} from './support.js';

/** AS_OF (2026-03-10) is market day 7; its signal day is 2026-03-09 (day 6), not a monthly rebalance day. */
const SIGNAL_DATE = '2026-03-09';
const monthly = (codes: readonly string[], sell?: Record<string, unknown>): Record<string, unknown> =>
  definition(codes, codes.length, { rebalance: 'monthly', ...(sell ? { sell } : {}) });

/** A stock suspended since 2026-03-06, and one closing above its open on AS_OF. */
const SUSPENDED = '000060';
const SUSPENDED_CLOSE = 9_000;
const RISING = '000070';
const RISING_CLOSE = 11_000;
const EARLIER = ['2026-02-26', '2026-02-27', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06'];

interface Order {
  clientOrderId: string;
  code: string;
  side: string;
  kind: string;
  quantity: number;
  level: number | null;
  reason: string;
  status: string;
  rejectReason: string | null;
  fillPrice: number | null;
  fillPriceSource: string | null;
  fillAmount: number | null;
}

interface Portfolio {
  asOf: string;
  cash: number;
  freeCash: number;
  strategyCash: number;
  marketValue: number;
  totalValue: number;
  initialCash: number;
  pnl: number;
  pnlRate: number;
  positions: Array<{
    code: string;
    quantity: number;
    cost: number;
    lastPrice: number | null;
    marketValue: number;
    unrealizedPnl: number;
  }>;
}

interface Log {
  runKey: string | null;
  level: string;
  message: string;
  details: Record<string, unknown>;
}

describe('trading rules of the select and execute runs (one replayed day, in-process)', () => {
  let cluster: InProcessTrading;
  let adminToken: string;
  const users = {
    deactivated: randomUUID(),
    liquidate: randomUUID(),
    rules: randomUUID(),
    suspended: randomUUID(),
    cash: randomUUID(),
    portfolio: randomUUID(),
  };
  const ids: Record<string, string> = {};
  let selectRun: Record<string, unknown>;
  let executeRun: Record<string, unknown>;

  const url = (path: string, replica = 0): string => `${cluster.trading.at(replica).url}/api/trading${path}`;
  const tokenOf = (user: string): string => cluster.tokenFor(user);
  const ordersOf = async (user: string, id: string): Promise<Order[]> => {
    const res = await request<Order[]>('GET', url(`/auto-strategies/${id}/orders`, 1), { token: tokenOf(user) });
    assert.equal(res.status, 200);
    return res.body;
  };
  const logsOf = async (user: string, id: string): Promise<Log[]> => {
    const res = await request<Log[]>('GET', url(`/auto-strategies/${id}/logs`, 1), { token: tokenOf(user) });
    assert.equal(res.status, 200);
    return res.body;
  };
  const strategyOf = async (user: string, id: string): Promise<{ status: string; cash: number }> => {
    const res = await request<{ status: string; cash: number }>('GET', url(`/auto-strategies/${id}`), {
      token: tokenOf(user),
    });
    assert.equal(res.status, 200);
    return res.body;
  };
  const deactivate = async (user: string, id: string, mode: 'immediate' | 'liquidate'): Promise<string> => {
    const res = await request('POST', url(`/auto-strategies/${id}/deactivate`), {
      token: tokenOf(user),
      body: { mode },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.status as string;
  };
  const accountCash = async (user: string): Promise<number> => {
    const { rows } = await cluster.pool.query<{ cash: string }>(
      `SELECT cash FROM trading.accounts WHERE user_id = $1`,
      [user],
    );
    return Number(rows[0]?.cash);
  };

  beforeAll(async () => {
    cluster = await startInProcessTrading({
      seed: async (pool) => {
        await seedSecurity(
          pool,
          SUSPENDED,
          EARLIER.map((date) => ({ date, open: SUSPENDED_CLOSE, close: SUSPENDED_CLOSE })),
        );
        await seedSecurity(pool, RISING, [
          ...EARLIER.map((date) => ({ date, open: PRICE, close: PRICE })),
          { date: SIGNAL_DATE, open: PRICE, close: PRICE },
          { date: AS_OF, open: PRICE, close: RISING_CLOSE },
        ]);

        // 2. liquidation: 20 shares bought at 9,000
        ids.liquidate = await seedStrategy(pool, users.liquidate, ['000040'], 500_000, monthly(['000040']));
        await seedPosition(pool, ids.liquidate, {
          code: '000040',
          quantity: 20,
          entryPrice: 9_000,
          entryDate: '2026-03-05',
        });

        // 3. sell rules (every open on AS_OF is 10,000); strategies that have been trading for days
        ids.stop = await seedStrategy(
          pool,
          users.rules,
          ['000010'],
          200_000,
          monthly(['000010'], { stopLossPct: 10, minHoldingDays: 5 }),
        );
        // bought yesterday at 12,000: the stop at 10,800 is below the open, min holding days do not hold a stop back
        await seedPosition(pool, ids.stop, {
          code: '000010',
          quantity: 10,
          entryPrice: 12_000,
          entryDate: SIGNAL_DATE,
        });
        ids.take = await seedStrategy(
          pool,
          users.rules,
          ['000020'],
          200_000,
          monthly(['000020'], { takeProfitPct: 20 }),
        );
        await seedPosition(pool, ids.take, {
          code: '000020',
          quantity: 10,
          entryPrice: 8_000,
          entryDate: '2026-03-05',
        });
        ids.maxHold = await seedStrategy(
          pool,
          users.rules,
          ['000030', '000040'],
          200_000,
          monthly(['000030', '000040'], { maxHoldingDays: 3, stopLossPct: 50, takeProfitPct: 50 }),
        );
        // 4 trading days old at the open (>= 3): sold; 2 days old: kept, with its stop resting
        await seedPosition(pool, ids.maxHold, {
          code: '000030',
          quantity: 10,
          entryPrice: PRICE,
          entryDate: '2026-03-04',
        });
        await seedPosition(pool, ids.maxHold, {
          code: '000040',
          quantity: 10,
          entryPrice: PRICE,
          entryDate: '2026-03-06',
        });
        ids.condition = await seedStrategy(
          pool,
          users.rules,
          ['000010', '000020'],
          200_000,
          monthly(['000010', '000020'], { minHoldingDays: 3, conditions: { factor: 'close', op: '>', value: 0 } }),
        );
        // the condition holds for both; 3 days old at the open: sold; 2 days old: still under minHoldingDays
        await seedPosition(pool, ids.condition, {
          code: '000010',
          quantity: 10,
          entryPrice: PRICE,
          entryDate: '2026-03-05',
        });
        await seedPosition(pool, ids.condition, {
          code: '000020',
          quantity: 10,
          entryPrice: PRICE,
          entryDate: '2026-03-06',
        });

        // 4. a holding suspended since 2026-03-06, being liquidated: its sell cannot fill
        ids.suspended = await seedStrategy(pool, users.suspended, [SUSPENDED], 1_000_000, monthly([SUSPENDED]));
        await seedPosition(pool, ids.suspended, {
          code: SUSPENDED,
          quantity: 30,
          entryPrice: SUSPENDED_CLOSE,
          entryDate: '2026-03-03',
        });

        // 5. cash: 5,000 KRW cannot buy one 10,000 share
        ids.tooPoor = await seedStrategy(pool, users.cash, ['000030'], 5_000);
        for (const id of [ids.liquidate, ids.stop, ids.take, ids.maxHold, ids.condition, ids.suspended]) {
          await markTrading(pool, id, '2026-03-06');
        }
      },
    });
    adminToken = cluster.tokenFor(randomUUID(), ['user', 'admin']);

    // activated through the API (strategies read from the backtest replica)
    ids.early = (await activateStrategy(cluster, tokenOf(users.deactivated), ['000010'], 200_000)).id;
    ids.late = (await activateStrategy(cluster, tokenOf(users.deactivated), ['000020'], 300_000, 1)).id;
    ids.portfolio = (await activateStrategy(cluster, tokenOf(users.portfolio), ['000010', RISING], 1_000_000)).id;

    // 1. deactivated before the day's select; 2. liquidation requested (also of the suspended holding)
    assert.equal(await deactivate(users.deactivated, ids.early, 'immediate'), 'inactive');
    assert.equal(await deactivate(users.liquidate, ids.liquidate, 'liquidate'), 'liquidating');
    assert.equal(await deactivate(users.suspended, ids.suspended, 'liquidate'), 'liquidating');

    const selected = await triggerRun(cluster, adminToken, 'select', AS_OF, 1);
    assert.equal(selected.status, 201, JSON.stringify(selected.body));
    selectRun = selected.body;
    // 1. deactivated between select and execute
    assert.equal(await deactivate(users.deactivated, ids.late, 'immediate'), 'inactive');
    const executed = await triggerRun(cluster, adminToken, 'execute', AS_OF, 0);
    assert.equal(executed.status, 201, JSON.stringify(executed.body));
    executeRun = executed.body;
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('runs the day: select and execute succeed once', () => {
    assert.equal(selectRun.status, 'succeeded', JSON.stringify(selectRun));
    assert.equal(executeRun.status, 'succeeded', JSON.stringify(executeRun));
  });

  it('skips a deactivated strategy in select and execute and returns its cash to the account', async () => {
    const user = users.deactivated;
    const picks = await cluster.pool.query<{ auto_strategy_id: string }>(
      `SELECT auto_strategy_id FROM trading.picks WHERE auto_strategy_id = ANY($1::uuid[])`,
      [[ids.early, ids.late]],
    );
    // deactivated before select: no picks; deactivated after it: picks stored, never bought
    assert.deepEqual(
      picks.rows.map((r) => r.auto_strategy_id),
      [ids.late],
    );
    for (const id of [ids.early, ids.late]) {
      assert.deepEqual(await ordersOf(user, id), []);
      assert.deepEqual(await positionsOf(cluster.pool, id), {});
      const strategy = await strategyOf(user, id);
      assert.equal(strategy.status, 'inactive');
      assert.equal(strategy.cash, 0);
      const messages = (await logsOf(user, id)).map((l) => l.message);
      assert.ok(messages.includes('deactivated (immediate); cash returned to the account'), messages.join('\n'));
    }
    const lateLogs = await logsOf(user, ids.late);
    const skipped = lateLogs.find((l) => l.runKey === executeRun.runKey);
    assert.equal(
      skipped?.message,
      `execute skipped: the strategy is inactive, 1 pick(s) of ${AS_OF} not bought`,
      JSON.stringify(lateLogs),
    );
    assert.ok(!(await logsOf(user, ids.early)).some((l) => l.runKey === selectRun.runKey));
    assert.equal(await accountCash(user), 100_000_000);
    const portfolio = await request('GET', url('/portfolio'), { token: tokenOf(user) });
    assert.equal(portfolio.body.cash, 100_000_000);
    assert.equal(portfolio.body.strategyCash, 0);
    assert.equal(portfolio.body.pnl, 0);
  });

  it('liquidates: sells every position at the open with reason liquidation, deactivates, returns the cash', async () => {
    const user = users.liquidate;
    const orders = await ordersOf(user, ids.liquidate);
    assert.deepEqual(
      orders.map((o) => [o.side, o.kind, o.code, o.quantity, o.reason, o.status, o.fillPrice, o.fillAmount]),
      [['sell', 'market_sell', '000040', 20, 'liquidation', 'filled', PRICE, 20 * PRICE]],
    );
    assert.deepEqual(await positionsOf(cluster.pool, ids.liquidate), {});
    const strategy = await strategyOf(user, ids.liquidate);
    assert.equal(strategy.status, 'inactive');
    assert.equal(strategy.cash, 0);
    const messages = (await logsOf(user, ids.liquidate)).map((l) => l.message);
    assert.ok(
      messages.includes(`decided on ${SIGNAL_DATE}'s close: 1 sell(s) at the open, 0 limit buy(s), 0 resting sell(s)`),
      messages.join('\n'),
    );
    assert.ok(messages.includes(`sell 20 000040 filled at ${PRICE} (open, ${AS_OF})`), messages.join('\n'));
    assert.ok(messages.includes('liquidated: deactivated, cash returned to the account'), messages.join('\n'));
    // 500,000 allocated, 180,000 spent on the shares, 200,000 back from the sale less the KRX sell
    // tax of a KOSPI sale in 2026 (engine market rules): floor(200,000 x 0.05 %) + floor(x 0.15 %) = 400
    const cash = 100_000_000 - 500_000 + (500_000 - 180_000) + 200_000 - 400;
    assert.equal(await accountCash(user), cash);
    const paper = await cluster.pool.query(
      `SELECT h.quantity FROM trading.paper_holdings h JOIN trading.accounts a ON a.id = h.account_id WHERE a.user_id = $1`,
      [user],
    );
    assert.equal(paper.rowCount, 0);
    const portfolio = await request('GET', url('/portfolio', 1), { token: tokenOf(user) });
    assert.equal(portfolio.status, 200);
    assert.deepEqual(portfolio.body.positions, []);
    assert.equal(portfolio.body.freeCash, cash);
    assert.equal(portfolio.body.strategyCash, 0);
    assert.equal(portfolio.body.cash, cash);
    assert.equal(portfolio.body.marketValue, 0);
    assert.equal(portfolio.body.totalValue, cash);
    assert.equal(portfolio.body.pnl, 20_000 - 400);
  });

  it('sells on max holding days and a condition at the open, on a stop and a target as resting orders, as the engine decides', async () => {
    const user = users.rules;
    const expected: Array<[string, string, string, number | null, string, string, number]> = [
      // the stop (10,800) and the target (9,600) were below / above the 10,000 open: filled at the open, no slippage
      [ids.stop, '000010', 'stop_sell', 10_800, 'stop_loss', 'filled', PRICE],
      [ids.take, '000020', 'target_sell', 9_600, 'take_profit', 'filled', PRICE],
      [ids.condition, '000010', 'market_sell', null, 'sell_condition', 'filled', PRICE],
    ];
    for (const [id, code, kind, level, reason, status, price] of expected) {
      const orders = await ordersOf(user, id);
      assert.deepEqual(
        orders.map((o) => [o.side, o.code, o.kind, o.level, o.quantity, o.reason, o.status, o.fillPrice]),
        [['sell', code, kind, level, 10, reason, status, price]],
        `${reason}: ${JSON.stringify(orders)}`,
      );
    }
    // maxHold: 000030 sold at the open; 000040 keeps a stop at 5,000, raised to the day's lower price
    // limit of the 10,000 close (7,000; the target 15,000 lowered to the upper limit 13,000, as near
    // the close: the stop rests), unreached
    const maxHold = await ordersOf(user, ids.maxHold);
    assert.deepEqual(maxHold.map((o) => [o.code, o.kind, o.level, o.reason, o.status, o.rejectReason]).sort(), [
      ['000030', 'market_sell', null, 'max_holding', 'filled', null],
      ['000040', 'stop_sell', 7_000, 'stop_loss', 'expired', 'not reached that day'],
    ]);
    assert.deepEqual(await positionsOf(cluster.pool, ids.stop), {});
    assert.deepEqual(await positionsOf(cluster.pool, ids.take), {});
    // younger than maxHoldingDays / minHoldingDays: kept
    assert.deepEqual(await positionsOf(cluster.pool, ids.maxHold), { '000040': 10 });
    assert.deepEqual(await positionsOf(cluster.pool, ids.condition), { '000020': 10 });
    // cash = allocated - cost + proceeds - the KRX sell tax of a 100,000 KOSPI sale in 2026
    // (engine market rules): floor(100,000 x 0.05 %) + floor(100,000 x 0.15 %) = 50 + 150
    assert.equal((await strategyOf(user, ids.stop)).cash, 200_000 - 120_000 + 100_000 - 200);
    assert.equal((await strategyOf(user, ids.take)).cash, 200_000 - 80_000 + 100_000 - 200);
    assert.equal((await strategyOf(user, ids.maxHold)).cash, 200_000 - 100_000 - 200);
    assert.equal((await strategyOf(user, ids.condition)).cash, 200_000 - 100_000 - 200);
  });

  it('lets a sell of a suspended stock expire unfilled: the position and its pending sell stay, the liquidation goes on', async () => {
    const user = users.suspended;
    const orders = await ordersOf(user, ids.suspended);
    assert.deepEqual(
      orders.map((o) => [o.code, o.kind, o.quantity, o.reason, o.status, o.rejectReason, o.fillPrice]),
      [[SUSPENDED, 'market_sell', 30, 'liquidation', 'expired', 'no trading in the stock that day', null]],
    );
    assert.deepEqual(await positionsOf(cluster.pool, ids.suspended), { [SUSPENDED]: 30 });
    const pending = await cluster.pool.query<{ pending_sell: string }>(
      `SELECT pending_sell FROM trading.positions WHERE auto_strategy_id = $1`,
      [ids.suspended],
    );
    assert.equal(pending.rows[0]?.pending_sell, 'liquidation');
    assert.equal((await strategyOf(user, ids.suspended)).status, 'liquidating');
    assert.equal((await strategyOf(user, ids.suspended)).cash, 1_000_000 - 30 * SUSPENDED_CLOSE);
    const messages = (await logsOf(user, ids.suspended)).map((l) => l.message);
    assert.ok(
      messages.includes(
        `sell 30 ${SUSPENDED} expired: no trading in the stock that day; the sell is sent again at the next open`,
      ),
      messages.join('\n'),
    );
  });

  it('places no buy the cash cannot cover, keeps the pick wanted, and the database refuses a negative cash', async () => {
    const user = users.cash;
    assert.deepEqual(await ordersOf(user, ids.tooPoor), []);
    assert.equal((await strategyOf(user, ids.tooPoor)).cash, 5_000);
    const state = await cluster.pool.query<{ wanted: Array<{ code: string }>; last_signal_date: string }>(
      `SELECT wanted, to_char(last_signal_date, 'YYYY-MM-DD') AS last_signal_date FROM trading.auto_strategies WHERE id = $1`,
      [ids.tooPoor],
    );
    assert.deepEqual(
      state.rows[0]?.wanted.map((w) => w.code),
      ['000030'],
    );
    assert.equal(state.rows[0]?.last_signal_date, SIGNAL_DATE);
    await assert.rejects(
      cluster.pool.query(`UPDATE trading.auto_strategies SET cash = cash - 5001 WHERE id = $1`, [ids.tooPoor]),
      /ck_auto_strategies_cash/,
    );
    await assert.rejects(
      cluster.pool.query(`UPDATE trading.positions SET quantity = 0 WHERE auto_strategy_id = $1`, [ids.maxHold]),
      /ck_positions_quantity/,
    );
  });

  it('forms the portfolio at the first execute after activation, as a backtest does on its first day', async () => {
    const user = users.portfolio;
    const orders = await ordersOf(user, ids.portfolio);
    // 1,000,000 over 2 picks: 500,000 each at a limit of 10,500 (the close + 5 %): 47 shares, filled at the 10,000 open
    assert.deepEqual(
      orders.map((o) => [o.code, o.kind, o.level, o.quantity, o.status, o.fillPrice, o.fillPriceSource]).sort(),
      [
        ['000010', 'limit_buy', 10_500, 47, 'filled', PRICE, 'open'],
        [RISING, 'limit_buy', 10_500, 47, 'filled', PRICE, 'open'],
      ],
    );
    const res = await request<Portfolio>('GET', url('/portfolio', 1), { token: tokenOf(user) });
    assert.equal(res.status, 200);
    const p = res.body;
    const spent = orders.reduce((sum, o) => sum + (o.fillAmount ?? 0), 0);
    assert.equal(spent, 2 * 47 * PRICE);
    assert.equal(p.asOf, AS_OF);
    assert.equal(p.initialCash, 100_000_000);
    assert.equal(p.freeCash, 100_000_000 - 1_000_000);
    assert.equal(p.strategyCash, 1_000_000 - spent);
    assert.equal(p.cash, p.freeCash + p.strategyCash);
    const closes: Record<string, number> = { '000010': PRICE, [RISING]: RISING_CLOSE };
    assert.equal(p.positions.length, 2);
    for (const position of p.positions) {
      const fills = orders.filter((o) => o.code === position.code);
      assert.equal(
        position.quantity,
        fills.reduce((sum, o) => sum + o.quantity, 0),
      );
      assert.equal(
        position.cost,
        fills.reduce((sum, o) => sum + (o.fillAmount ?? 0), 0),
      );
      assert.equal(position.lastPrice, closes[position.code]);
      assert.equal(position.marketValue, position.quantity * closes[position.code]);
      assert.equal(position.unrealizedPnl, position.marketValue - position.cost);
    }
    assert.equal(p.totalValue, p.cash + p.marketValue);
    assert.equal(p.pnl, p.totalValue - p.initialCash);
    assert.equal(p.marketValue, 47 * PRICE + 47 * RISING_CLOSE);
    assert.equal(p.pnl, 47 * (RISING_CLOSE - PRICE));
    assert.ok(Math.abs(p.pnlRate - p.pnl / p.initialCash) < 1e-12);
  });

  it('dates the performance by the close it values: the signal day, not the trading date', async () => {
    const perf = await request<Array<{ date: string; value: number; cash: number; invested: number }>>(
      'GET',
      url(`/auto-strategies/${ids.portfolio}/performance`),
      { token: tokenOf(users.portfolio) },
    );
    assert.equal(perf.status, 200);
    // decided on 2026-03-09's close, in cash: the value that close saw
    assert.deepEqual(perf.body, [{ date: SIGNAL_DATE, value: 1_000_000, cash: 1_000_000, invested: 0 }]);
  });

  it('admin holiday endpoints: PUT makes the day a holiday, DELETE removes it; 403 for others, 400 on bad dates', async () => {
    const date = '2026-03-12';
    const userToken = cluster.tokenFor(randomUUID());
    const put = await request('PUT', url(`/calendar/holidays/${date}`), {
      token: adminToken,
      body: { name: 'Exchange closure' },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body, { date, name: 'Exchange closure' });
    const listed = await request<Array<{ date: string; name: string }>>('GET', url('/calendar/holidays?year=2026', 1), {
      token: userToken,
    });
    assert.ok(listed.body.some((h) => h.date === date && h.name === 'Exchange closure'));
    // the scheduler refuses the day (across replicas: acceptance.spec)
    const refused = await triggerRun(cluster, adminToken, 'execute', date, 1);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'NOT_A_TRADING_DAY');
    const none = await cluster.pool.query(`SELECT 1 FROM trading.job_runs WHERE trading_date = $1`, [date]);
    assert.equal(none.rowCount, 0);

    for (const method of ['PUT', 'DELETE']) {
      const forbidden = await request(method, url(`/calendar/holidays/${date}`), {
        token: userToken,
        body: { name: 'nope' },
      });
      assert.equal(forbidden.status, 403, method);
      assertErrorBody(forbidden.body);
    }
    for (const bad of ['2026-13-45', '2026-02-30', '2026-3-12', 'tomorrow']) {
      for (const method of ['PUT', 'DELETE']) {
        const res = await request(method, url(`/calendar/holidays/${bad}`), {
          token: adminToken,
          body: { name: 'bad' },
        });
        assert.equal(res.status, 400, `${method} ${bad}`);
        assertErrorBody(res.body);
      }
    }
    const badName = await request('PUT', url(`/calendar/holidays/${date}`), { token: adminToken, body: {} });
    assert.equal(badName.status, 400);

    const removed = await request('DELETE', url(`/calendar/holidays/${date}`, 1), { token: adminToken });
    assert.equal(removed.status, 204);
    const again = await request('DELETE', url(`/calendar/holidays/${date}`), { token: adminToken });
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 'HOLIDAY_NOT_FOUND');
    const stored = await cluster.pool.query(`SELECT 1 FROM trading.holidays WHERE date = $1`, [date]);
    assert.equal(stored.rowCount, 0);
    // a trading day again: the select of that date runs (its picks are never executed in this file)
    const ran = await triggerRun(cluster, adminToken, 'select', date, 0);
    assert.equal(ran.status, 201, JSON.stringify(ran.body));
    assert.equal(ran.body.tradingDate, date);
  });

  // last: it stops the backtest replica
  it('answers 503 with the stable error body and writes nothing when the backtest service is unreachable', async () => {
    await cluster.backtest.at(0).stop(5000);
    const user = randomUUID();
    const res = await request('POST', url('/auto-strategies'), {
      token: tokenOf(user),
      body: { strategyId: randomUUID(), allocatedCapital: 1_000_000 },
    });
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, {
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'the backtest service is unavailable, try again later',
      code: 'BACKTEST_UNAVAILABLE',
    });
    assert.equal(res.headers.get('retry-after'), '5');
    const written = await cluster.pool.query(
      `SELECT (SELECT count(*) FROM trading.accounts WHERE user_id = $1) AS accounts,
              (SELECT count(*) FROM trading.auto_strategies WHERE owner_id = $1) AS strategies`,
      [user],
    );
    assert.deepEqual(written.rows[0], { accounts: '0', strategies: '0' });
  });
});
