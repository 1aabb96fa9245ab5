import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import {
  AS_OF,
  definition,
  markTrading,
  positionsOf,
  seedPosition,
  seedSecurity,
  seedStrategy,
  startInProcessTrading,
  triggerRun,
  type InProcessTrading,
} from './support.js';

/** AS_OF (2026-03-10) decides on 2026-03-09's close: the ex-date of both events. */
const EX_DATE = '2026-03-09';
const NEXT_DAY = '2026-03-11';
const EARLIER = ['2026-02-26', '2026-02-27', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06'];
/** A 50:1 split (2,650,000 -> 53,000, as Samsung Electronics in 2018) and a 1:5 reverse split (1,000 -> 5,000). */
const SPLIT = '000091';
const REVERSE = '000092';

/**
 * A live (paper) position held through a split keeps its value: the execute run adjusts it on the
 * ex-date's decision, inside its fenced transaction, exactly once (a replayed run and the next
 * day's run leave it), and records which event was applied to which position.
 */
describe('corporate actions on live positions (in-process)', () => {
  let cluster: InProcessTrading;
  let admin: string;
  const user = randomUUID();
  let strategy = '';
  /** holds the reverse-split stock with a 20 % target, deciding since 03-05: its 03-09 target is priced before the event */
  let targeted = '';
  const targetUser = randomUUID();
  let paperCashBefore = 0;

  const paperCash = async (): Promise<number> =>
    Number(
      (
        await cluster.pool.query<{ cash: string }>(
          `SELECT p.cash FROM trading.paper_accounts p JOIN trading.auto_strategies s ON s.account_id = p.account_id
            WHERE s.id = $1`,
          [strategy],
        )
      ).rows[0]?.cash,
    );
  const adjustments = async (): Promise<Array<Record<string, unknown>>> =>
    (
      await cluster.pool.query<Record<string, unknown>>(
        `SELECT code, to_char(ex_date, 'YYYY-MM-DD') AS ex_date, kind, quantity_before::int, quantity_after::int,
                entry_price_before::float8, entry_price_after::float8, base_price::float8, cash::int
           FROM trading.corporate_action_adjustments WHERE auto_strategy_id = $1 ORDER BY code`,
        [strategy],
      )
    ).rows;

  beforeAll(async () => {
    cluster = await startInProcessTrading({
      seed: async (pool) => {
        await seedSecurity(pool, SPLIT, [
          ...EARLIER.map((date) => ({ date, open: 2_650_000, close: 2_650_000 })),
          { date: EX_DATE, open: 53_000, close: 53_000 },
          { date: AS_OF, open: 53_000, close: 53_000 },
        ]);
        await seedSecurity(pool, REVERSE, [
          ...EARLIER.map((date) => ({ date, open: 1000, close: 1000 })),
          { date: EX_DATE, open: 5000, close: 5000 },
          { date: AS_OF, open: 5000, close: 5000 },
        ]);
        await pool.query(
          `INSERT INTO market.corporate_actions (code, ex_date, kind, price_factor, share_ratio)
           VALUES ($1, $3, 'split', 50, 50), ($2, $3, 'reverse_split', 0.2, 0.2)`,
          [SPLIT, REVERSE, EX_DATE],
        );
        await pool.query(`UPDATE market.data_version SET version = version + 1`);
        // monthly: 03-09 is no rebalance day, and there are no sell rules: nothing is ordered
        strategy = await seedStrategy(
          pool,
          user,
          [SPLIT, REVERSE],
          10_000_000,
          definition([SPLIT, REVERSE], 2, { rebalance: 'monthly' }),
        );
        // 10,000,000 - 3 x 2,600,000 - 7 x 1,000 = 2,193,000 in cash
        await seedPosition(pool, strategy, {
          code: SPLIT,
          quantity: 3,
          entryPrice: 2_600_000,
          entryDate: '2026-03-03',
        });
        await seedPosition(pool, strategy, { code: REVERSE, quantity: 7, entryPrice: 1000, entryDate: '2026-03-03' });
        await markTrading(pool, strategy, '2026-03-06');
        targeted = await seedStrategy(
          pool,
          targetUser,
          [REVERSE],
          100_000,
          definition([REVERSE], 1, { rebalance: 'monthly', sell: { takeProfitPct: 20 } }),
        );
        await seedPosition(pool, targeted, { code: REVERSE, quantity: 7, entryPrice: 1000, entryDate: '2026-03-03' });
        await markTrading(pool, targeted, '2026-03-05');
      },
    });
    admin = cluster.tokenFor(randomUUID(), ['user', 'admin']);
    paperCashBefore = await paperCash();
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it("the paper broker refuses an order priced before the event on the ex-date, as KRX refuses one outside the day's limits", async () => {
    // decided on 03-06's close for 03-09: the target 20 % over 1,000 = 1,200; the 03-09 bar opens at
    // 5,000 (1:5), whose limits (3,500..6,500) the target is outside of. Filled, it would have sold
    // the 7 old shares at 5,000: 35,000 for what is worth 7,000
    const before = await triggerRun(cluster, admin, 'execute', EX_DATE);
    assert.equal(before.body.status, 'succeeded', JSON.stringify(before.body));
    const intents = async () =>
      (
        await cluster.pool.query<{ date: string; kind: string; level: string; status: string }>(
          `SELECT to_char(trading_date, 'YYYY-MM-DD') AS date, kind, level, status FROM trading.order_intents
            WHERE auto_strategy_id = $1 ORDER BY trading_date, seq`,
          [targeted],
        )
      ).rows.map((r) => [r.date, r.kind, Number(r.level), r.status]);
    // the day's bar is already imported (a replayed day): the run books it at once, refused
    assert.deepEqual(await intents(), [[EX_DATE, 'target_sell', 1200, 'expired']]);
    assert.deepEqual(await positionsOf(cluster.pool, targeted), { [REVERSE]: 7 });
    // the next run adjusts the position and places its target on the new basis: 5,000 x 1.2 = 6,000
    const run = await triggerRun(cluster, admin, 'execute', AS_OF);
    assert.equal(run.body.status, 'succeeded', JSON.stringify(run.body));
    assert.deepEqual((await intents())[1]?.slice(0, 3), [AS_OF, 'target_sell', 6000]);
    assert.deepEqual(await positionsOf(cluster.pool, targeted), { [REVERSE]: 1 });
  });

  it('adjusts the positions on the ex-date: x50 shares, 1:5 with the fractional share paid, the value kept', async () => {
    // (the AS_OF run of the test before decided on 03-09's close, the ex-date)

    assert.deepEqual(await positionsOf(cluster.pool, strategy), { [SPLIT]: 150, [REVERSE]: 1 });
    // 7 x 0.2 = 1.4 -> 1 share at the base 1,000 / 0.2 = 5,000; paid 7 x 1,000 - 1 x 5,000 = 2,000
    assert.deepEqual(await adjustments(), [
      {
        code: SPLIT,
        ex_date: EX_DATE,
        kind: 'split',
        quantity_before: 3,
        quantity_after: 150,
        entry_price_before: 2_600_000,
        entry_price_after: 52_000,
        base_price: 53_000,
        cash: 0,
      },
      {
        code: REVERSE,
        ex_date: EX_DATE,
        kind: 'reverse_split',
        quantity_before: 7,
        quantity_after: 1,
        entry_price_before: 1000,
        entry_price_after: 5000,
        base_price: 5000,
        cash: 2000,
      },
    ]);
    const positions = await cluster.pool.query<{ code: string; entry_price: string; cost: string }>(
      `SELECT code, entry_price, cost FROM trading.positions WHERE auto_strategy_id = $1 ORDER BY code`,
      [strategy],
    );
    assert.deepEqual(
      positions.rows.map((r) => [r.code, Number(r.entry_price), Number(r.cost)]),
      [
        [SPLIT, 52_000, 7_800_000],
        [REVERSE, 5000, 7000 - 2000],
      ],
    );
    const cash = await cluster.pool.query<{ cash: string }>(`SELECT cash FROM trading.auto_strategies WHERE id = $1`, [
      strategy,
    ]);
    assert.equal(Number(cash.rows[0]?.cash), 2_193_000 + 2000);
    // the value the decision saw on the ex-date's close: 2,195,000 + 150 x 53,000 + 1 x 5,000, the
    // same 10,150,000 as on 03-06's close (2,193,000 + 3 x 2,650,000 + 7 x 1,000): no false crash
    const performance = await cluster.pool.query<{ value: string }>(
      `SELECT value FROM trading.daily_performance WHERE auto_strategy_id = $1 AND date = $2`,
      [strategy, EX_DATE],
    );
    assert.equal(Number(performance.rows[0]?.value), 10_150_000);
    // the paper broker holds the adjusted shares and paid the fraction
    const holdings = await cluster.pool.query<{ code: string; quantity: string }>(
      `SELECT h.code, h.quantity FROM trading.paper_holdings h JOIN trading.auto_strategies s ON s.account_id = h.account_id
        WHERE s.id = $1 ORDER BY h.code`,
      [strategy],
    );
    assert.deepEqual(
      holdings.rows.map((r) => [r.code, Number(r.quantity)]),
      [
        [SPLIT, 150],
        [REVERSE, 1],
      ],
    );
    assert.equal(await paperCash(), paperCashBefore + 2000);
  });

  it('adjusts once: a replayed run and the next day leave the positions as adjusted', async () => {
    const replayed = await triggerRun(cluster, admin, 'execute', AS_OF);
    assert.ok(replayed.status === 200 || replayed.status === 201, JSON.stringify(replayed.body));
    const next = await triggerRun(cluster, admin, 'execute', NEXT_DAY);
    assert.equal(next.body.status, 'succeeded', JSON.stringify(next.body));
    assert.deepEqual(await positionsOf(cluster.pool, strategy), { [SPLIT]: 150, [REVERSE]: 1 });
    assert.equal((await adjustments()).length, 2);
    assert.equal(await paperCash(), paperCashBefore + 2000);
    const performance = await cluster.pool.query<{ value: string }>(
      `SELECT value FROM trading.daily_performance WHERE auto_strategy_id = $1 AND date = $2`,
      [strategy, AS_OF],
    );
    assert.equal(Number(performance.rows[0]?.value), 10_150_000, "the next close's value");
  });
});
