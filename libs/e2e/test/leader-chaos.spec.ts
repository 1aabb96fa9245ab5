import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Replica } from '@stocklab/test-support';
import type pg from 'pg';
import {
  CODES,
  cronLater,
  definition,
  MARKET_DATES,
  PRICE,
  prng,
  startE2EPlatform,
  waitFor,
  type E2EPlatform,
} from '../src/harness.js';

/**
 * The scheduler leader SIGKILLed at seeded random moments of `execute`, 20 times, each time on a
 * new trading day of the crafted market. The trading service alone (3 replicas, Lease election
 * through the launcher's Lease API double); strategies are written straight to the database.
 */

const SEED = 20261126;
const ITERATIONS = 20;
/** the execute days: each has a signal day before it in the market */
const DAYS = MARKET_DATES.slice(3, 3 + ITERATIONS);
const ORDERS_PER_DAY = 3;
const CAPITAL = 10 * PRICE;

/** A user's paper account and an active auto strategy on one code, as activation would write them. */
async function seedStrategy(pool: pg.Pool, userId: string, code: string): Promise<string> {
  const account = await pool.query<{ id: string }>(
    `INSERT INTO trading.accounts (user_id, cash, initial_cash) VALUES ($1, 100000000 - $2::bigint, 100000000)
     ON CONFLICT (user_id) DO UPDATE SET cash = accounts.cash - $2::bigint RETURNING id`,
    [userId, CAPITAL],
  );
  const accountId = account.rows[0]?.id;
  await pool.query(
    `INSERT INTO trading.paper_accounts (account_id, cash) VALUES ($1, 100000000) ON CONFLICT DO NOTHING`,
    [accountId],
  );
  const row = await pool.query<{ id: string }>(
    `INSERT INTO trading.auto_strategies (owner_id, account_id, source_strategy_id, source_version, name, rules, allocated_capital, cash, status)
     VALUES ($1, $2, $3, 1, $4, $5, $6, $6, 'active') RETURNING id`,
    [userId, accountId, randomUUID(), `chaos ${code}`, JSON.stringify(definition([code])), CAPITAL],
  );
  const id = row.rows[0]?.id;
  assert.ok(id);
  return id;
}

describe('the trading leader SIGKILLed at random moments of execute', () => {
  let p: E2EPlatform;
  let admin: string;

  before(async () => {
    p = await startE2EPlatform({
      services: ['trading'],
      serviceEnv: {
        trading: {
          TRADING_AS_OF_DATE: MARKET_DATES.at(-1) ?? '',
          // the crons stay out of the way: every run here is triggered through the API
          TRADING_SELECT_CRON: cronLater(),
          TRADING_EXECUTE_CRON: cronLater(),
          // every broker call takes a while, so that a kill lands between orders
          PAPER_BROKER_LATENCY_MS: '350',
          LEASE_DURATION_SECONDS: '2',
          RENEW_DEADLINE_SECONDS: '1.5',
          RETRY_PERIOD_SECONDS: '0.25',
          CATCH_UP_INTERVAL_SECONDS: '1',
          STALE_RUN_SECONDS: '5',
          SHUTDOWN_DRAIN_MS: '100',
        },
      },
    });
    admin = p.token(randomUUID(), ['user', 'admin']);
  });

  after(async () => {
    await p?.stop();
  });

  const leader = async (): Promise<Replica> =>
    waitFor(
      'exactly one leader',
      async () => {
        const views = await Promise.all(
          p.replicas('trading').map(async (r) => {
            if (!r.running) {
              return undefined;
            }
            const res = await request('GET', `${r.url}/api/trading/scheduler`, { token: admin });
            return res.status === 200 && res.body.role === 'leader' ? r : undefined;
          }),
        );
        const leaders = views.filter((v) => v !== undefined);
        return leaders.length === 1 ? leaders[0] : undefined;
      },
      20_000,
      50,
    );

  const runOf = async (job: string, day: string): Promise<{ status: string; run_key: string } | undefined> =>
    (
      await p.pool.query<{ status: string; run_key: string }>(
        `SELECT status, run_key FROM trading.job_runs WHERE job = $1 AND trading_date = $2`,
        [job, day],
      )
    ).rows[0];

  it(`${ITERATIONS} kills: no extra order, no client order id twice at the broker, no run left unfinished`, async () => {
    const random = prng(SEED);
    /** strategy id -> the day it must buy on (one order of 10 shares, that day only) */
    const intended = new Map<string, { day: string; code: string }>();
    let killedMidRun = 0;
    const kills: string[] = [];

    for (const day of DAYS) {
      const user = randomUUID();
      for (const code of CODES.slice(0, ORDERS_PER_DAY)) {
        intended.set(await seedStrategy(p.pool, user, code), { day, code });
      }
      const selector = await leader();
      const select = await request('POST', `${selector.url}/api/trading/jobs/select/runs`, {
        token: admin,
        body: { date: day },
      });
      assert.ok([200, 201].includes(select.status), `select ${day}: ${select.status} ${JSON.stringify(select.body)}`);
      await waitFor(
        `select ${day} to succeed`,
        async () => ((await runOf('select', day))?.status === 'succeeded' ? true : undefined),
        30_000,
      );

      // execute on the leader, then SIGKILL it at a random moment of the run: after 0, 1 or 2 fills, plus 0-299 ms
      const victim = await leader();
      const fills = Math.floor(random() * ORDERS_PER_DAY);
      const extraMs = Math.floor(random() * 300);
      const call = request('POST', `${victim.url}/api/trading/jobs/execute/runs`, {
        token: admin,
        body: { date: day },
      }).catch(() => undefined);
      await waitFor(
        `execute ${day} to reach ${fills} fill(s)`,
        async () => {
          const run = await runOf('execute', day);
          if (!run) {
            return undefined;
          }
          const { rows } = await p.pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM trading.order_intents WHERE run_key = $1 AND status = 'filled'`,
            [run.run_key],
          );
          return Number(rows[0]?.n) >= fills || run.status !== 'running' ? true : undefined;
        },
        20_000,
        10,
      );
      await sleep(extraMs);
      await victim.kill();
      const atKill = await runOf('execute', day);
      if (atKill?.status === 'running') {
        killedMidRun += 1;
      }
      kills.push(`${day}: ${victim.name} after ${fills} fill(s) + ${extraMs} ms (${atKill?.status ?? 'no run'})`);
      await call;

      // the caller (an external scheduler) retries on another replica: idempotent, one run per occurrence
      const restarted = victim.restart();
      const survivor = p.replicas('trading').find((r) => r !== victim && r.running);
      assert.ok(survivor);
      const again = await request('POST', `${survivor.url}/api/trading/jobs/execute/runs`, {
        token: admin,
        body: { date: day },
      });
      assert.ok([200, 201].includes(again.status), `re-trigger ${day}: ${again.status} ${JSON.stringify(again.body)}`);
      await waitFor(
        `execute ${day} to succeed after the kill`,
        async () => ((await runOf('execute', day))?.status === 'succeeded' ? true : undefined),
        30_000,
      );
      await restarted;
    }

    // orders per (strategy, day): exactly the intended one, never more
    const { rows: perStrategyDay } = await p.pool.query<{ id: string; day: string; n: string }>(
      `SELECT i.auto_strategy_id AS id, to_char(i.trading_date, 'YYYY-MM-DD') AS day, count(*) AS n
         FROM trading.paper_orders o JOIN trading.order_intents i USING (client_order_id)
        GROUP BY 1, 2`,
    );
    const actual = new Map(perStrategyDay.map((r) => [`${r.id}@${r.day}`, Number(r.n)]));
    const expected = new Map([...intended].map(([id, { day }]) => [`${id}@${day}`, 1]));
    assert.deepEqual(actual, expected, 'one order per strategy, on its day only');
    const { rows: total } = await p.pool.query<{ n: string }>(`SELECT count(*) AS n FROM trading.paper_orders`);
    assert.equal(Number(total[0]?.n), ITERATIONS * ORDERS_PER_DAY, 'no order the intents do not account for');

    const { rows: repeated } = await p.pool.query<{ client_order_id: string; n: string }>(
      `SELECT client_order_id, count(*) AS n FROM trading.paper_order_requests GROUP BY client_order_id HAVING count(*) > 1`,
    );
    assert.deepEqual(repeated, [], 'no client order id reached the broker twice');

    const { rows: positions } = await p.pool.query<{ id: string; code: string; quantity: string }>(
      `SELECT auto_strategy_id AS id, code, quantity FROM trading.positions`,
    );
    assert.deepEqual(
      new Map(positions.map((r) => [r.id, `${r.code} x ${r.quantity}`])),
      new Map([...intended].map(([id, { code }]) => [id, `${code} x 10`])),
      'every strategy holds exactly its 10 shares',
    );

    const { rows: runs } = await p.pool.query<{ job: string; status: string; n: string }>(
      `SELECT job, status, count(*) AS n FROM trading.job_runs GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    assert.deepEqual(
      runs.map((r) => [r.job, r.status, Number(r.n)]),
      [
        ['execute', 'succeeded', ITERATIONS],
        ['select', 'succeeded', ITERATIONS],
      ],
      'every run finished, none left running or failed',
    );
    process.stdout.write(`${killedMidRun}/${ITERATIONS} kills landed while execute was running (seed ${SEED})\n`);
    // the kills really landed inside execute (not after it) in most iterations
    assert.ok(killedMidRun >= ITERATIONS / 2, `only ${killedMidRun} kills landed mid-run:\n${kills.join('\n')}`);
    for (const replica of p.replicas('trading')) {
      assert.ok(replica.running, `${replica.name} is back`);
    }
  });
});
