import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { loadMarketSnapshot, type MarketSnapshot } from '@stocklab/market-data';
import { adminDatabaseUrl, prng, seedStrategy, type TestDatabase } from '@stocklab/test-support';
import pg from 'pg';
import type { CalendarService } from '../src/calendar/calendar.service.js';
import { planDay, type PlanRun } from '../src/jobs/day-plan.js';
import type { JobContext } from '../src/jobs/job-context.js';
import type { JobRun } from '../src/jobs/job-runs.service.js';
import { SelectJob } from '../src/jobs/select.job.js';
import type { MarketDataService } from '../src/market/market-data.service.js';
import type { TradingMetrics } from '../src/metrics/trading-metrics.js';
import { planPerStrategy, selectPerStrategy } from './per-strategy-plan.js';
import { inTransaction, migratedDatabase } from './migrated-database.js';
import { AS_OF, seedPosition } from './support.js';

/**
 * The batched daily jobs write exactly what the per-strategy jobs wrote. One database is seeded
 * with strategies in every state a plan meets (a first decision, holdings reaching their maximum
 * age, a stop and a target, a sell condition, a manual sell pending, wanted picks carried over,
 * an earlier order still open, an inactive strategy with a pending sell, one deactivated after
 * select, a liquidation, invalid rules, a decision already made, a position without market data,
 * a linked account, and a few dozen random ones), then cloned; the 07:00 select and the 09:00
 * plan run on one copy as they were (test/per-strategy-plan.ts) and on the other as they are,
 * and every row they wrote is compared: intents (client order ids, seq, levels), performance,
 * positions, strategies, picks and the log lines with their ids (so their order too).
 */

const SIGNAL_DATE = '2026-03-09';
const CODES = Array.from({ length: 16 }, (_, i) => `B${String(i + 1).padStart(5, '0')}`);
const SELECT_RUN = { runKey: `select:${AS_OF}T07:00+09:00`, tradingDate: AS_OF };
const PLAN_RUN: PlanRun = { runKey: `execute:${AS_OF}T09:00+09:00`, tradingDate: AS_OF, epoch: 7 };
const costs = { commissionBps: 15, sellTaxBps: 18, slippageBps: 10 };

function rules(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    schemaVersion: 1,
    universe: { scope: 'all' },
    ranking: { factor: 'mom_1m', order: 'desc' },
    maxPositions: 4,
    weighting: { method: 'equal' },
    rebalance: 'monthly',
    costs,
    initialCapital: 10_000_000,
    ...overrides,
  };
}

/** KRX trading days in [from, to] per trading.holidays (weekdays that are not holidays). */
async function tradingDays(pool: pg.Pool, from: string, to: string): Promise<string[]> {
  const { rows } = await pool.query<{ d: string }>(
    `SELECT to_char(d, 'YYYY-MM-DD') AS d FROM generate_series($1::date, $2::date, interval '1 day') d
      WHERE extract(isodow FROM d) < 6 AND NOT EXISTS (SELECT 1 FROM trading.holidays h WHERE h.date = d::date)
      ORDER BY d`,
    [from, to],
  );
  return rows.map((r) => r.d);
}

/** Random walks for CODES through AS_OF, two statements each (one reported inside the window). */
async function seedMarket(pool: pg.Pool): Promise<void> {
  const days = await tradingDays(pool, '2025-12-01', AS_OF);
  const rand = prng(20260310);
  const rows: Array<[string, string, number, number, number, number, number]> = [];
  for (const [i, code] of CODES.entries()) {
    await pool.query(
      `INSERT INTO market.securities (code, name, market, sector, listed_on) VALUES ($1, $2, $3, 'batch', '2020-01-01')`,
      [code, `batch ${code}`, i % 2 === 0 ? 'KOSPI' : 'KOSDAQ'],
    );
    let close = 5_000 + Math.floor(rand() * 40_000);
    for (const date of days) {
      const open = Math.max(100, Math.round(close * (1 + (rand() - 0.5) * 0.04)));
      const next = Math.max(100, Math.round(open * (1 + (rand() - 0.5) * 0.08)));
      const high = Math.round(Math.max(open, next) * (1 + rand() * 0.03));
      const low = Math.round(Math.min(open, next) * (1 - rand() * 0.03));
      close = next;
      // a suspension now and then: no bar that day
      if (rand() > 0.03) {
        rows.push([code, date, open, high, low, close, 10_000 + Math.floor(rand() * 90_000)]);
      }
    }
    // the trailing-twelve-month figures (net income, revenue) of 2025Q3 and 2025Q4, drawn in this order
    const ttm = (['2025Q3', '2025Q4'] as const).map(() => {
      const netIncome = (rand() - 0.2) * 3e9;
      return { revenue: 8e9 + rand() * 1e10, netIncome, equity: (5 + rand() * 20) * 1e9, liabilities: rand() * 1e10 };
    });
    const [q3, q4] = ttm as [(typeof ttm)[0], (typeof ttm)[0]];
    // quarters whose four-quarter sums are those: 2024Q4..2025Q3 a quarter of 2025Q3's each, then
    // 2025Q4 = its sum less the three quarters it shares with 2025Q3's
    const quarters: [string, string, number, number, (typeof ttm)[0]][] = [
      ['2024Q4', '2025-02-20', q3.revenue / 4, q3.netIncome / 4, q3],
      ['2025Q1', '2025-05-15', q3.revenue / 4, q3.netIncome / 4, q3],
      ['2025Q2', '2025-08-14', q3.revenue / 4, q3.netIncome / 4, q3],
      ['2025Q3', '2025-11-14', q3.revenue / 4, q3.netIncome / 4, q3],
      ['2025Q4', '2026-02-20', q4.revenue - (q3.revenue * 3) / 4, q4.netIncome - (q3.netIncome * 3) / 4, q4],
    ];
    for (const [period, reported, revenue, netIncome, stock] of quarters) {
      await pool.query(
        `INSERT INTO market.financial_statements (code, fiscal_period, report_date, revenue, operating_income, net_income,
           total_equity, total_liabilities) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [code, period, reported, revenue, netIncome * 1.4, netIncome, stock.equity, stock.liabilities],
      );
    }
  }
  const col = <T>(k: number): T[] => rows.map((r) => r[k] as T);
  await pool.query(
    `INSERT INTO market.daily_bars (code, date, open, high, low, close, volume, trading_value, market_cap, shares_outstanding)
     SELECT code, date, open, high, low, close, volume, close * volume, close * 1000000, 1000000
       FROM unnest($1::text[], $2::date[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::bigint[])
         AS t(code, date, open, high, low, close, volume)`,
    [col(0), col(1), col(2), col(3), col(4), col(5), col(6)],
  );
  await pool.query(`INSERT INTO market.trading_days (date) SELECT unnest($1::date[])`, [days]);
  await pool.query(`UPDATE market.data_version SET version = version + 1`);
}

interface Fixture {
  /** deactivated after select, before the plan */
  idle: string;
}

/** Strategies in the states listed above; their positions bought at plausible prices. */
async function seedStrategies(pool: pg.Pool): Promise<Fixture> {
  const closeOf = async (code: string, date: string): Promise<number> => {
    const { rows } = await pool.query<{ close: number }>(
      `SELECT close FROM market.daily_bars WHERE code = $1 AND date <= $2 ORDER BY date DESC LIMIT 1`,
      [code, date],
    );
    return Number(rows[0]?.close ?? 10_000);
  };
  const strategy = async (
    def: Record<string, unknown>,
    state: { user?: string; status?: string; lastSignal?: string; wanted?: unknown[] } = {},
    positions: Array<{ code: string; entryDate: string; at?: number; pending?: string }> = [],
  ): Promise<string> => {
    const id = await seedStrategy(pool, state.user ?? randomUUID(), CODES, 10_000_000, def);
    await pool.query(
      `UPDATE trading.auto_strategies SET status = $2, last_signal_date = $3, wanted = $4 WHERE id = $1`,
      [id, state.status ?? 'active', state.lastSignal ?? null, JSON.stringify(state.wanted ?? [])],
    );
    for (const p of positions) {
      const entryPrice = Math.round((await closeOf(p.code, p.entryDate)) * (p.at ?? 1));
      await seedPosition(pool, id, { code: p.code, quantity: 20, entryPrice, entryDate: p.entryDate });
      if (p.pending) {
        await pool.query(`UPDATE trading.positions SET pending_sell = $3 WHERE auto_strategy_id = $1 AND code = $2`, [
          id,
          p.code,
          p.pending,
        ]);
      }
    }
    return id;
  };
  const readme = rules({
    buyConditions: {
      and: [
        { factor: 'per', op: 'between', min: 0, max: 40 },
        { factor: 'roe', op: '>', value: 0 },
      ],
    },
    maxPositions: 5,
    sell: { stopLossPct: 5, takeProfitPct: 8 },
  });
  const user = randomUUID();
  await strategy(readme, { user });
  await strategy(
    rules({
      universe: { scope: 'markets', markets: ['KOSDAQ'] },
      ranking: { factor: 'volatility_20d', order: 'asc' },
      buyConditions: {
        or: [
          { factor: 'rsi_14', op: '<', value: 70 },
          { factor: 'pbr', op: '<', value: 2 },
        ],
      },
      rebalance: 'weekly',
    }),
    { user, lastSignal: '2026-03-06' },
  );
  await strategy(
    rules({
      ranking: { factor: 'sma_ratio_5', order: 'desc' },
      maxPositions: 3,
      sell: {
        maxHoldingDays: 30,
        minHoldingDays: 2,
        conditions: { factor: 'rsi_14', op: '>', value: 55 },
        stopLossPct: 4,
        takeProfitPct: 6,
      },
    }),
    { lastSignal: '2026-03-06' },
    [
      // bought before the loaded window and past its maximum age
      { code: 'B00002', entryDate: '2026-01-06' },
      { code: 'B00003', entryDate: '2026-03-04' },
      // far above the close: the stop is nearer; far below: the target is
      { code: 'B00004', entryDate: '2026-02-20', at: 1.2 },
      { code: 'B00005', entryDate: '2026-02-23', at: 0.8 },
    ],
  );
  await strategy(
    rules({ ranking: { factor: 'close', order: 'desc' }, sell: { stopLossPct: 10 } }),
    {
      lastSignal: '2026-03-06',
      wanted: [
        { code: 'B00006', rank: 1, target: 2_000_000 },
        { code: 'B00007', rank: 2, target: 2_000_000 },
      ],
    },
    [
      { code: 'B00005', entryDate: '2026-02-10', pending: 'manual' },
      { code: 'B00008', entryDate: '2026-02-11' },
    ],
  );
  const blocked = await strategy(readme, { lastSignal: '2026-03-06' }, [{ code: 'B00009', entryDate: '2026-02-12' }]);
  await pool.query(
    `INSERT INTO trading.order_intents (client_order_id, run_key, seq, auto_strategy_id, account_id, trading_date, code,
       side, kind, order_type, quantity, level, reason, status, epoch)
     SELECT 'earlier-open-order', 'execute:2026-03-09T09:00+09:00', 1, id, account_id, '2026-03-09', 'B00010', 'buy',
            'limit_buy', 'limit', 5, 10000, 'signal', 'accepted', 6
       FROM trading.auto_strategies WHERE id = $1`,
    [blocked],
  );
  await strategy(readme, { status: 'inactive', lastSignal: '2026-03-05' }, [
    { code: 'B00011', entryDate: '2026-02-13', pending: 'manual' },
    { code: 'B00012', entryDate: '2026-02-13' },
  ]);
  const idle = await strategy(rules({ rebalance: 'daily' }));
  await strategy(rules({ sell: { takeProfitPct: 10 } }), { status: 'liquidating', lastSignal: '2026-03-06' }, [
    { code: 'B00013', entryDate: '2026-02-16' },
    { code: 'B00014', entryDate: '2026-02-17', pending: 'rebalance' },
  ]);
  await strategy({ schemaVersion: 1, universe: { scope: 'everything' } });
  await strategy(readme, { lastSignal: SIGNAL_DATE }, [{ code: 'B00015', entryDate: '2026-02-18' }]);
  await strategy(rules({ sell: { stopLossPct: 3 } }), { lastSignal: '2026-03-06' }, [
    { code: 'Z99999', entryDate: '2026-02-18' },
    { code: 'B00016', entryDate: '2026-02-18', at: 1.1 },
  ]);
  const linked = await strategy(rules({ rebalance: 'weekly', ranking: { factor: 'pbr', order: 'asc' } }));
  const broker = await pool.query<{ id: string }>(
    `INSERT INTO trading.broker_accounts (owner_id, broker, account_no, app_key_id, credentials, kek_id, verified_at)
     SELECT owner_id, 'kiwoom-mock', '5000000001', 'app-key', '{}', 'kek', now() FROM trading.auto_strategies WHERE id = $1
     RETURNING id`,
    [linked],
  );
  await pool.query(`UPDATE trading.auto_strategies SET broker_account_id = $2 WHERE id = $1`, [
    linked,
    broker.rows[0]?.id,
  ]);

  // a few dozen more, drawn at random: factors, frequencies, sell rules, holdings of every age
  const rand = prng(14);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  const factors = ['mom_1m', 'sma_ratio_5', 'sma_ratio_20', 'volatility_20d', 'per', 'pbr', 'roe', 'close', 'rsi_14'];
  const entryDates = ['2026-01-05', '2026-01-20', '2026-02-02', '2026-02-24', '2026-03-03', '2026-03-06'];
  for (let i = 0; i < 30; i++) {
    const sell: Record<string, unknown> = {};
    if (rand() < 0.5) {
      sell.stopLossPct = 2 + Math.floor(rand() * 8);
    }
    if (rand() < 0.5) {
      sell.takeProfitPct = 3 + Math.floor(rand() * 10);
    }
    if (rand() < 0.3) {
      sell.maxHoldingDays = 10 + Math.floor(rand() * 30);
    }
    if (rand() < 0.3) {
      sell.conditions = { factor: pick(['rsi_14', 'sma_ratio_5']), op: '>', value: pick([1.01, 50, 60]) };
    }
    const held = CODES.filter(() => rand() < 0.15);
    await strategy(
      rules({
        ranking: { factor: pick(factors), order: pick(['asc', 'desc']) },
        maxPositions: 1 + Math.floor(rand() * 6),
        rebalance: pick(['daily', 'weekly', 'monthly']),
        ...(Object.keys(sell).length > 0 ? { sell } : {}),
        ...(rand() < 0.3 ? { buyConditions: { factor: 'roe', op: '>', value: 0 } } : {}),
      }),
      { lastSignal: rand() < 0.3 ? undefined : '2026-03-06' },
      held.map((code) => ({ code, entryDate: pick(entryDates), at: 0.85 + rand() * 0.3 })),
    );
  }
  return { idle };
}

/** Every row the jobs write, as comparable values (generated ids and instants left out). */
async function rowsOf(pool: pg.Pool): Promise<Record<string, unknown[]>> {
  const q = async (sql: string): Promise<unknown[]> => (await pool.query<Record<string, unknown>>(sql)).rows;
  return {
    intents: await q(
      `SELECT to_jsonb(i) - 'id' - 'created_at' AS row FROM trading.order_intents i ORDER BY run_key, seq`,
    ),
    performance: await q(
      `SELECT to_jsonb(p) - 'created_at' AS row FROM trading.daily_performance p ORDER BY auto_strategy_id, date`,
    ),
    positions: await q(`SELECT to_jsonb(p) AS row FROM trading.positions p ORDER BY auto_strategy_id, code`),
    strategies: await q(
      `SELECT to_jsonb(s) - 'updated_at' AS row, updated_at > created_at AS updated
         FROM trading.auto_strategies s ORDER BY id`,
    ),
    picks: await q(
      `SELECT to_jsonb(p) - 'created_at' AS row FROM trading.picks p ORDER BY auto_strategy_id, trading_date, code`,
    ),
    logs: await q(
      `SELECT id, auto_strategy_id, run_key, level, message, details FROM trading.strategy_logs ORDER BY id`,
    ),
  };
}

describe('the batched select and plan write exactly what the per-strategy ones wrote', () => {
  let original: TestDatabase;
  let cloneName: string;
  let before: pg.Pool;
  let after: pg.Pool;
  let snapshot: MarketSnapshot;
  const results: Record<'before' | 'after', Record<string, unknown>> = { before: {}, after: {} };

  beforeAll(async () => {
    original = await migratedDatabase('stocklab_batched_plan');
    const seeding = new pg.Pool({ connectionString: original.url, max: 2 });
    let fixture: Fixture;
    try {
      await seedMarket(seeding);
      fixture = await seedStrategies(seeding);
    } finally {
      await seeding.end();
    }
    // the same rows twice: a copy of the seeded database (no session may be connected to a template)
    cloneName = `${original.name}_batched`;
    const admin = new pg.Client({ connectionString: adminDatabaseUrl() });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${cloneName} TEMPLATE ${original.name}`);
    } finally {
      await admin.end();
    }
    const cloneUrl = new URL(original.url);
    cloneUrl.pathname = `/${cloneName}`;
    before = new pg.Pool({ connectionString: original.url, max: 2 });
    after = new pg.Pool({ connectionString: cloneUrl.toString(), max: 2 });

    // the window a trading replica loads: positions bought before it have negative day indices
    const client = await before.connect();
    try {
      snapshot = await loadMarketSnapshot(client, { lastDays: 30, before: Number(AS_OF.replaceAll('-', '')) });
    } finally {
      client.release();
    }
    const t = snapshot.data.dates.length - 1;
    assert.equal(snapshot.data.dates[t], Number(SIGNAL_DATE.replaceAll('-', '')));

    // 07:00, each way; then one strategy is deactivated before 09:00 (its picks are not bought)
    results.before.select = await inTransaction(before, (m) => selectPerStrategy(m, SELECT_RUN, snapshot, t));
    const job = new SelectJob(
      { snapshot: () => Promise.resolve(snapshot) } as unknown as MarketDataService,
      { previousTradingDay: () => Promise.resolve(SIGNAL_DATE) } as unknown as CalendarService,
      {} as TradingMetrics,
    );
    const context: JobContext = {
      run: { id: randomUUID(), job: 'select', epoch: PLAN_RUN.epoch, ...SELECT_RUN } as unknown as JobRun,
      epoch: PLAN_RUN.epoch,
      signal: new AbortController().signal,
      fenced: (work) => inTransaction(after, (m) => work(m as Parameters<typeof work>[0])),
    };
    // the batched run also reports its phases' durations, which the per-strategy one did not
    const { ms: _durations, ...selected } = await job.run(context);
    results.after.select = selected;
    for (const pool of [before, after]) {
      await pool.query(
        `UPDATE trading.auto_strategies SET status = 'inactive', deactivated_at = '2026-03-10T06:00:00Z' WHERE id = $1`,
        [fixture.idle],
      );
    }
    // 09:00's plan, each way
    results.before.plan = await inTransaction(before, (m) => planPerStrategy(m, PLAN_RUN, snapshot, t));
    // in chunks of 7 strategies here (1,000 in the job), so that the seq runs on from chunk to chunk
    results.after.plan = await inTransaction(after, (m) => planDay(m, PLAN_RUN, snapshot, t, 7));
  }, 120_000);

  afterAll(async () => {
    await before?.end();
    await after?.end();
    const admin = new pg.Client({ connectionString: adminDatabaseUrl() });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${cloneName} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
    await original?.drop();
  });

  it('reports the same counts', () => {
    assert.deepEqual(results.after, results.before);
  });

  it('writes the same rows: intents, performance, positions, strategies, picks and log lines in order', async () => {
    const expected = await rowsOf(before);
    const actual = await rowsOf(after);
    for (const table of Object.keys(expected)) {
      assert.deepEqual(actual[table], expected[table], table);
    }
  });

  it('met every case it is meant to (the comparison is not vacuous)', async () => {
    const { rows: intents } = await after.query<{ kind: string; reason: string; broker_account_id: string | null }>(
      `SELECT kind, reason, broker_account_id FROM trading.order_intents WHERE run_key = $1`,
      [PLAN_RUN.runKey],
    );
    assert.deepEqual([...new Set(intents.map((i) => i.kind))].sort(), [
      'limit_buy',
      'market_sell',
      'stop_sell',
      'target_sell',
    ]);
    for (const reason of ['signal', 'manual', 'liquidation', 'max_holding', 'rebalance', 'stop_loss', 'take_profit']) {
      assert.ok(
        intents.some((i) => i.reason === reason),
        `an intent for ${reason}`,
      );
    }
    assert.ok(intents.some((i) => i.broker_account_id !== null));
    const { rows: logs } = await after.query<{ message: string }>(`SELECT message FROM trading.strategy_logs`);
    for (const message of [
      'select skipped: stored rules are invalid',
      `no selection: ${SIGNAL_DATE} is not a rebalance day`,
      'selected ',
      'execute skipped: stored rules are invalid',
      `already decided on ${SIGNAL_DATE}'s close`,
      'not deciding: 1 earlier order(s) still open at the broker',
      'position Z99999 has no market data: not decided on',
      `execute skipped: the strategy is inactive, `,
      `decided on ${SIGNAL_DATE}'s close (rebalance)`,
      `decided on ${SIGNAL_DATE}'s close: `,
    ]) {
      assert.ok(
        logs.some((l) => l.message.startsWith(message)),
        `a log line "${message}..."`,
      );
    }
  });
});
