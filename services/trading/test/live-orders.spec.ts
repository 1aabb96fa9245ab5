import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { awayFromSeoulMidnight, request, waitFor } from '@stocklab/test-support';
import type pg from 'pg';
import { ExecuteJob } from '../src/jobs/execute.job.js';
import type { JobContext } from '../src/jobs/job-context.js';
import {
  CODES,
  cronAt,
  cronLater,
  markTrading,
  PRICE,
  seedPosition,
  seedStrategy,
  startInProcessTrading,
  triggerRun,
  type InProcessTrading,
} from './support.js';

/** The first trading day after the trading tests' market ends (AS_OF, 2026-03-10). */
const TODAY = '2026-03-11';
const TOMORROW = '2026-03-12';
const TODAY_OPEN = 10_200;
const DAY_3 = '2026-03-13';
/**
 * The KRX sell tax of a KOSPI sale in 2026 (0.05 % transaction tax + 0.15 % rural special tax, each
 * truncated to the won): 5 x 10,200 = 51,000 pays 25 + 76; 5 x 10,000 = 50,000 pays 25 + 75.
 */
const TAX_ON_5_AT_TODAY_OPEN = 25 + 76;
const TAX_ON_5_AT_PRICE = 25 + 75;
const DAY_4 = '2026-03-16';

interface ExecuteRun {
  status: string;
  attempts: number;
  trigger: string;
  error: string | null;
}

/** The execute run of `date`; undefined before one is claimed. */
async function executeRunOn(pool: pg.Pool, date: string): Promise<ExecuteRun | undefined> {
  const { rows } = await pool.query<ExecuteRun>(
    `SELECT status, attempts, trigger, error FROM trading.job_runs WHERE job = 'execute' AND trading_date = $1`,
    [date],
  );
  return rows[0];
}

/** Waits until the execute run of `date` has `status`, and answers it. */
function executeRunIn(
  pool: pg.Pool,
  date: string,
  status: string,
  what: string,
  timeoutMs: number,
): Promise<ExecuteRun> {
  return waitFor(
    what,
    async () => {
      const run = await executeRunOn(pool, date);
      return run?.status === status ? run : undefined;
    },
    timeoutMs,
  );
}

/** Imports a day's bars for every crafted code at one price, as a daily import would. */
async function importDay(pool: pg.Pool, date: string, price: number): Promise<void> {
  for (const code of CODES) {
    await pool.query(
      `INSERT INTO market.daily_bars (code, date, open, high, low, close, volume, trading_value, market_cap, shares_outstanding)
       VALUES ($1, $2, $3, $3, $3, $3, 1000, $4, $5, 1000000)`,
      [code, date, price, price * 1000, price * 1_000_000],
    );
  }
  await pool.query(`INSERT INTO market.trading_days (date) VALUES ($1)`, [date]);
  await pool.query(`UPDATE market.data_version SET version = version + 1`);
}

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
  /** a second user whose strategy is stopped with positions left: nothing may be stranded */
  const stopper = randomUUID();
  /** a third user who stops a strategy while its buy is open at the broker */
  const quitter = randomUUID();
  let strategy: string;
  let stopped: string;
  let quitting: string;
  const api = (path: string): string => `${cluster.trading.at(0).url}/api/trading${path}`;
  const ordersOf = async (id: string, owner = user): Promise<Order[]> => {
    const res = await request<Order[]>('GET', api(`/auto-strategies/${id}/orders`), {
      token: cluster.tokenFor(owner),
    });
    assert.equal(res.status, 200);
    return res.body;
  };
  const accountCash = async (owner: string): Promise<number> =>
    Number(
      (await cluster.pool.query<{ cash: string }>(`SELECT cash FROM trading.accounts WHERE user_id = $1`, [owner]))
        .rows[0]?.cash,
    );

  beforeAll(async () => {
    cluster = await startInProcessTrading({
      seed: async (pool) => {
        strategy = await seedStrategy(pool, user, ['000010'], 10 * PRICE);
        quitting = await seedStrategy(pool, quitter, ['000040'], 10 * PRICE);
        stopped = await seedStrategy(pool, stopper, ['000020', '000030'], 200_000);
        for (const code of ['000020', '000030']) {
          await seedPosition(pool, stopped, { code, quantity: 5, entryPrice: PRICE, entryDate: '2026-03-09' });
        }
        await markTrading(pool, stopped, '2026-03-09');
      },
    });
    admin = cluster.tokenFor(randomUUID(), ['user', 'admin']);
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it("no look-ahead: an order sent at 09:00 is accepted and unfilled until the day's bar exists, then fills at that open", async () => {
    // (the stopped strategy: stopped at once, one position then sold by hand; see the stranded test)
    const off = await request('POST', api(`/auto-strategies/${stopped}/deactivate`), {
      token: cluster.tokenFor(stopper),
      body: { mode: 'immediate' },
    });
    assert.equal(off.body.status, 'inactive');
    const sell = await request('POST', api(`/auto-strategies/${stopped}/positions/000020/sell`), {
      token: cluster.tokenFor(stopper),
    });
    assert.equal(sell.status, 201, JSON.stringify(sell.body));
    assert.equal(sell.body.pendingSell, 'manual');

    // 09:00 of a day whose bar does not exist yet: the decision is made on the last close (03-10)
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
    const atBroker = await cluster.pool.query<{ status: string }>(
      `SELECT DISTINCT status FROM trading.paper_orders WHERE trading_date = $1`,
      [TODAY],
    );
    assert.deepEqual(atBroker.rows, [{ status: 'accepted' }]);

    // the quitter stops while its buy is open: the cash goes back now, the fill is settled with the account later
    const quit = await request('POST', api(`/auto-strategies/${quitting}/deactivate`), {
      token: cluster.tokenFor(quitter),
      body: { mode: 'immediate' },
    });
    assert.equal(quit.body.status, 'inactive', JSON.stringify(quit.body));
    assert.equal(await accountCash(quitter), 100_000_000);

    // the day's bars are imported after the close (the open differs from every earlier price)
    await importDay(cluster.pool, TODAY, TODAY_OPEN);

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
    // the stopped strategy's buy filled all the same: its shares are held, paid from the account
    assert.deepEqual(
      (await ordersOf(quitting, quitter)).map((o) => o.status),
      ['filled'],
    );
    assert.equal(await accountCash(quitter), 100_000_000 - 9 * TODAY_OPEN);
    const held = await cluster.pool.query<{ quantity: string }>(
      `SELECT quantity FROM trading.positions WHERE auto_strategy_id = $1`,
      [quitting],
    );
    assert.deepEqual(held.rows, [{ quantity: '9' }]);
  });

  it('strands nothing: a position of a stopped strategy is sold by hand, the rest by a liquidation started after the stop', async () => {
    // the manual sell went to the broker with the 03-11 run and filled at its open; the proceeds went to the account
    const [manual] = await ordersOf(stopped, stopper);
    assert.deepEqual(
      [manual?.code, manual?.kind, manual?.status, manual?.fillPrice],
      ['000020', 'market_sell', 'filled', TODAY_OPEN],
    );
    const held = await cluster.pool.query<{ code: string }>(
      `SELECT code FROM trading.positions WHERE auto_strategy_id = $1`,
      [stopped],
    );
    assert.deepEqual(held.rows, [{ code: '000030' }]);
    // 100,000,000 - 200,000 allocated + 100,000 cash returned at the stop + 5 x 10,200 sold, less its tax
    assert.equal(await accountCash(stopper), 100_000_000 - 200_000 + 100_000 + 5 * TODAY_OPEN - TAX_ON_5_AT_TODAY_OPEN);
    const again = await request('POST', api(`/auto-strategies/${stopped}/deactivate`), {
      token: cluster.tokenFor(stopper),
      body: { mode: 'liquidate' },
    });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.status, 'liquidating');
    const none = await request('POST', api(`/auto-strategies/${stopped}/positions/000020/sell`), {
      token: cluster.tokenFor(stopper),
    });
    assert.equal(none.status, 404);
    assert.equal(none.body.code, 'POSITION_NOT_FOUND');
    const bad = await request('POST', api(`/auto-strategies/${stopped}/positions/not-a-code/sell`), {
      token: cluster.tokenFor(stopper),
    });
    assert.equal(bad.status, 400);
  });

  it('refuses to decide on stale data: yesterday not imported leaves the run waiting with the reason, writes nothing, counts it', async () => {
    const run = await triggerRun(cluster, admin, 'execute', DAY_3);
    assert.equal(run.status, 201);
    assert.equal(run.body.status, 'waiting');
    assert.match(
      String(run.body.error),
      /^STALE_MARKET_DATA: the market data ends on 2026-03-11, the signal day 2026-03-12/,
    );
    const intents = await cluster.pool.query(`SELECT 1 FROM trading.order_intents WHERE trading_date = $1`, [DAY_3]);
    assert.equal(intents.rowCount, 0);
    const metrics = await request<string>('GET', `${cluster.trading.at(0).url}/metrics`);
    assert.match(String(metrics.body), /trading_stale_market_data_total\{job="execute"[^}]*\} 1\b/);
  });

  it('lets an operator re-run the waiting run once the data is there: the same run, once, and the liquidation then finishes', async () => {
    await importDay(cluster.pool, TOMORROW, PRICE);
    const body = { date: DAY_3, retryFailed: true };
    const url = `${cluster.trading.at(0).url}/api/trading/jobs/execute/runs`;
    const token = admin;
    const [first, second] = await Promise.all([
      request<Record<string, unknown>>('POST', url, { token, body }),
      request<Record<string, unknown>>('POST', url, { token, body }),
    ]);
    const ran = [first, second].filter((r) => r.status === 201);
    assert.equal(ran.length, 1, `one re-run: ${first.status} ${second.status}`);
    assert.equal(ran[0]?.body.status, 'succeeded', JSON.stringify(ran[0]?.body));
    assert.equal(ran[0]?.body.attempts, 2);
    const runs = await cluster.pool.query(
      `SELECT 1 FROM trading.job_runs WHERE job = 'execute' AND trading_date = $1`,
      [DAY_3],
    );
    assert.equal(runs.rowCount, 1);
    // its liquidation sell is accepted for 03-13; once that day is imported the next run books it and closes the strategy
    await importDay(cluster.pool, DAY_3, PRICE);
    const next = await triggerRun(cluster, admin, 'execute', DAY_4);
    assert.equal(next.body.status, 'succeeded', JSON.stringify(next.body));
    const strategyNow = await cluster.pool.query<{ status: string; cash: string }>(
      `SELECT status, cash FROM trading.auto_strategies WHERE id = $1`,
      [stopped],
    );
    assert.deepEqual(strategyNow.rows, [{ status: 'inactive', cash: '0' }]);
    assert.equal(
      await accountCash(stopper),
      100_000_000 - 200_000 + 100_000 + 5 * TODAY_OPEN - TAX_ON_5_AT_TODAY_OPEN + 5 * PRICE - TAX_ON_5_AT_PRICE,
    );
  });
});

describe('a run waiting for stale data runs by itself once the data arrives (the catch-up sweep, in-process)', () => {
  let cluster: InProcessTrading;
  /** the trading date replayed: its signal day, 2026-03-11, is not imported at first */
  const DATE = '2026-03-12';
  const runOf = async (): Promise<ExecuteRun> =>
    (await executeRunOn(cluster.pool, DATE)) ?? { status: 'none', attempts: 0, trigger: '', error: null };

  beforeAll(async () => {
    // the cron 2 s in the past and the sweeps after it on one Seoul day (its set-up and test take
    // about a minute; 5 minutes of room)
    await awayFromSeoulMidnight(10_000, 5 * 60_000);
    cluster = await startInProcessTrading({
      env: () => ({
        TRADING_AS_OF_DATE: DATE,
        // 09:00 has just passed: the sweep finds the occurrence due, within its grace window
        TRADING_EXECUTE_CRON: cronAt(new Date(Date.now() - 2000)),
        TRADING_SELECT_CRON: cronLater(),
        CATCH_UP_INTERVAL_SECONDS: '1',
      }),
      seed: async (pool) => {
        await seedStrategy(pool, randomUUID(), ['000010'], 10 * PRICE);
      },
    });
    // a hang guard: up to 7 minutes of waiting out Seoul midnight, then the set-up
  }, 600_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('waits with the reason while the signal day is missing, then succeeds on a later sweep, as the same run', async () => {
    const waiting = await waitFor(
      'the run to wait',
      async () => ((await runOf()).status === 'waiting' ? runOf() : undefined),
      30_000,
    );
    assert.match(String(waiting.error), /^STALE_MARKET_DATA: .* the signal day 2026-03-11/);
    assert.equal(waiting.trigger, 'catch-up');
    await importDay(cluster.pool, '2026-03-11', PRICE);
    const done = await waitFor(
      'the run to succeed',
      async () => ((await runOf()).status === 'succeeded' ? runOf() : undefined),
      30_000,
    );
    assert.ok(done.attempts >= 2, `retried: ${done.attempts} attempts`);
    const intents = await cluster.pool.query(`SELECT 1 FROM trading.order_intents WHERE trading_date = $1`, [DATE]);
    assert.equal(intents.rowCount, 1, 'one decision, one order');
  });
});

describe('a run whose data never arrives within the grace window is reported missed (in-process)', () => {
  let cluster: InProcessTrading;
  const DATE = '2026-03-12';

  beforeAll(async () => {
    // the cron 95 s in the past and the sweeps that judge it, until the window closes and after,
    // on one Seoul day: across midnight the occurrence was tomorrow's, never due (a run of the suite
    // at 00:00 in Seoul waited the full 90 s for a run that could not come)
    await awayFromSeoulMidnight(100_000, 5 * 60_000);
    cluster = await startInProcessTrading({
      env: () => ({
        TRADING_AS_OF_DATE: DATE,
        // 95 s late when the app starts: within the 2-minute grace window for 25 s more (room for a
        // slow start-up), so the sweep runs it and it waits; then the window closes
        TRADING_EXECUTE_CRON: cronAt(new Date(Date.now() - 95_000)),
        TRADING_SELECT_CRON: cronLater(),
        CATCH_UP_GRACE_MINUTES: '2',
        CATCH_UP_INTERVAL_SECONDS: '1',
      }),
    });
    // a hang guard: up to 7 minutes of waiting out Seoul midnight, then the set-up
  }, 600_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('waits, then fails as MISSED once the window is over, and counts it in trading_missed_runs_total', async () => {
    const failed = await executeRunIn(cluster.pool, DATE, 'failed', 'the run to be reported missed', 90_000);
    assert.match(
      String(failed.error),
      /^MISSED: still waiting when the 2-minute grace window closed \(STALE_MARKET_DATA/,
    );
    const metrics = await request<string>('GET', `${cluster.trading.at(0).url}/metrics`);
    assert.match(String(metrics.body), /trading_missed_runs_total\{job="execute"[^}]*\} 1\b/);
  });
});

describe('a run that loses its PostgreSQL connection mid-way waits, then the sweep finishes it (in-process)', () => {
  let cluster: InProcessTrading;
  const user = randomUUID();
  const codes = CODES.slice(0, 3);
  // restored in afterAll, and always called with .call(this)
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = ExecuteJob.prototype.run;
  const first = { killedAtWrite: 0, sentBeforeKill: -1, error: undefined as unknown };
  let attempts = 0;

  beforeAll(async () => {
    // the execute run's first attempt has its connection terminated by PostgreSQL at its eighth
    // fenced write (after its plan, while its orders are being sent), as a failover or a restart of
    // the server ends it; set before the app starts, whose first sweep runs the occurrence
    ExecuteJob.prototype.run = async function (this: ExecuteJob, context: JobContext) {
      attempts += 1;
      if (attempts > 1) {
        return original.call(this, context);
      }
      let writes = 0;
      const fenced: JobContext['fenced'] = (work) => {
        writes += 1;
        if (writes !== 8) {
          return context.fenced(work);
        }
        first.killedAtWrite = writes;
        return context.fenced(async (m) => {
          const [sent] = await m.query<Array<{ n: number }>>(
            `SELECT count(*)::int AS n FROM trading.paper_orders WHERE trading_date = $1`,
            [TODAY],
          );
          first.sentBeforeKill = sent?.n ?? -1;
          await m.query('SELECT pg_terminate_backend(pg_backend_pid())');
          return work(m);
        });
      };
      try {
        return await original.call(this, { ...context, fenced });
      } catch (error) {
        first.error = error;
        throw error;
      }
    };
    // the cron 2 s in the past and the sweeps after it on one Seoul day (about half a minute; 5
    // minutes of room)
    await awayFromSeoulMidnight(10_000, 5 * 60_000);
    cluster = await startInProcessTrading({
      env: () => ({
        TRADING_AS_OF_DATE: TODAY,
        // 09:00 has just passed: the first sweep runs it, within its grace window
        TRADING_EXECUTE_CRON: cronAt(new Date(Date.now() - 2000)),
        TRADING_SELECT_CRON: cronLater(),
        CATCH_UP_INTERVAL_SECONDS: '1',
      }),
      seed: async (pool) => {
        await seedStrategy(pool, user, codes, 30 * PRICE);
      },
    });
    // a hang guard: up to 7 minutes of waiting out Seoul midnight, then the set-up
  }, 600_000);

  afterAll(async () => {
    ExecuteJob.prototype.run = original;
    await cluster?.close();
  });

  it('is left waiting (DEPENDENCY_UNAVAILABLE), and the next sweep resumes the same run: every order sent once', async () => {
    const done = await executeRunIn(cluster.pool, TODAY, 'succeeded', 'the sweep to run it again', 30_000);
    assert.equal(first.killedAtWrite, 8, 'the first attempt reached its eighth fenced write');
    assert.ok(first.sentBeforeKill >= 1, `orders were at the broker when the connection died: ${first.sentBeforeKill}`);
    assert.match(String(first.error), /terminating connection due to administrator command/);
    // a failed run is never retried by itself: only a waiting one is run again by the sweep
    assert.equal(attempts, 2, 'one attempt lost its connection, the next succeeded');
    assert.equal(done.attempts, 2, 'the same run, resumed');
    const intents = await cluster.pool.query<{ code: string; status: string; orders: number }>(
      `SELECT i.code, i.status, (SELECT count(*)::int FROM trading.paper_orders p WHERE p.client_order_id = i.client_order_id) AS orders
         FROM trading.order_intents i WHERE i.trading_date = $1 ORDER BY i.code`,
      [TODAY],
    );
    assert.deepEqual(
      intents.rows,
      codes.map((code) => ({ code, status: 'accepted', orders: 1 })),
    );
    // the paper broker would answer a repeated client order id with the order it has: the resumed
    // run asked after each order it had sent instead of sending it again
    const requests = await cluster.pool.query<{ repeated: boolean }>(
      `SELECT r.repeated FROM trading.paper_order_requests r
         JOIN trading.order_intents i ON i.client_order_id = r.client_order_id WHERE i.trading_date = $1`,
      [TODAY],
    );
    assert.deepEqual(
      requests.rows.map((r) => r.repeated),
      codes.map(() => false),
    );
  });

  it('reports a run still waiting from an earlier day (no leader swept when its window closed) as missed', async () => {
    // the day before: waiting at 09:00 for its data, then no replica led until today
    const yesterday = '2026-03-10';
    await cluster.pool.query(
      `INSERT INTO trading.job_runs (run_key, job, trading_date, scheduled_at, epoch, runner, status, trigger, error)
       VALUES ($1, 'execute', $2, $3, 0, 'a replica gone since', 'waiting', 'cron', $4)`,
      [
        `execute:${yesterday}T09:00+09:00`,
        yesterday,
        new Date(`${yesterday}T09:00:00+09:00`),
        'STALE_MARKET_DATA: the market data ends on 2026-03-06',
      ],
    );
    const missed = await executeRunIn(cluster.pool, yesterday, 'failed', 'the sweep to report it missed', 30_000);
    assert.match(
      String(missed.error),
      /^MISSED: still waiting when the 30-minute grace window closed \(STALE_MARKET_DATA: the market data ends on 2026-03-06\)$/,
    );
    const metrics = await request<string>('GET', `${cluster.trading.at(0).url}/metrics`);
    assert.match(String(metrics.body), /trading_missed_runs_total\{job="execute"[^}]*\} 1\b/);
  });
});

describe('a waiting run triggered before its time waits for its time (in-process)', () => {
  let cluster: InProcessTrading;
  /** its signal day, 2026-03-11, is not imported: the run waits */
  const DATE = '2026-03-12';

  beforeAll(async () => {
    // 09:00 ten minutes ahead, on this Seoul day (15 minutes of room)
    await awayFromSeoulMidnight(10_000, 15 * 60_000);
    cluster = await startInProcessTrading({
      env: () => ({
        TRADING_AS_OF_DATE: DATE,
        TRADING_EXECUTE_CRON: cronAt(new Date(Date.now() + 10 * 60_000)),
        TRADING_SELECT_CRON: cronAt(new Date(Date.now() + 10 * 60_000)),
        CATCH_UP_INTERVAL_SECONDS: '1',
      }),
      seed: async (pool) => {
        await seedStrategy(pool, randomUUID(), ['000010'], 10 * PRICE);
      },
    });
    // a hang guard: up to 17 minutes of waiting out Seoul midnight, then the set-up
  }, 1_200_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('is neither run again nor reported missed by the sweeps before its scheduled time', async () => {
    const admin = cluster.tokenFor(randomUUID(), ['admin']);
    const triggered = await triggerRun(cluster, admin, 'execute', DATE);
    assert.equal(triggered.body.status, 'waiting', JSON.stringify(triggered.body));
    assert.match(String(triggered.body.error), /^STALE_MARKET_DATA: /);
    // three sweeps' time (one a second): each found it waiting and not due
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.deepEqual(await executeRunOn(cluster.pool, DATE), {
      status: 'waiting',
      attempts: 1,
      trigger: 'api',
      error: triggered.body.error,
    });
  });
});
