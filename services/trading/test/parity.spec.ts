import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { loadMarketSnapshot } from '@stocklab/market-data';
import { parseStrategyDefinition, runBacktest, type StrategyDefinition, type Trade } from '@stocklab/strategy-engine';
import { deleteRedisKeys, prng, testRedisUrl, uniqueKeyPrefix } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { REPLAY_CLOCK_KEY } from '../src/scheduler/trading-clock.js';
import { brokerCalls, runsOf, seedStrategy, startTradingCluster, waitFor, type TradingCluster } from './support.js';

/**
 * Live trading is the backtest: strategies activated at D0 trade day after day through the
 * trading service, two replicas whose leader's crons fire select at 07:00 and execute at 09:00 on
 * a replayed clock (the paper broker filling each day's orders on that day's bar, the reconciler
 * booking the fills), and their orders, fills and daily values are
 * compared with a backtest of the same definitions from D0 over the same days. Exactly: same
 * trades (date, code, side, reason, quantity, price, amount, commission, tax) and the same value
 * every day, to the won. Either path changing alone fails it.
 */

const STOCKS = Array.from({ length: 12 }, (_, i) => `P${String(i + 1).padStart(5, '0')}`);
const FIRST_BAR = '2026-01-05';
const LAST_BAR = '2026-07-31';
/** D0: the close of the first decision (the day the strategies are switched on). */
const D0 = '2026-04-13';
/** Trading dates run after D0; the README's parity table quotes what this test prints. */
const DAYS = 62;

const costs = { commissionBps: 15, sellTaxBps: 18, slippageBps: 10 };
const STRATEGIES: Record<string, Record<string, unknown>> = {
  'monthly top-3 momentum, with costs': {
    universe: { scope: 'codes', codes: STOCKS },
    ranking: { factor: 'mom_1m', order: 'desc' },
    maxPositions: 3,
    weighting: { method: 'equal' },
    rebalance: 'monthly',
  },
  'value filters, weekly rebalance': {
    universe: { scope: 'codes', codes: STOCKS, minMarketCap: 1e9 },
    buyConditions: {
      and: [
        { factor: 'per', op: 'between', min: 0, max: 40 },
        { factor: 'pbr', op: '<', value: 3 },
      ],
    },
    ranking: { factor: 'pbr', order: 'asc' },
    maxPositions: 4,
    weighting: { method: 'equal', maxWeightPerStock: 0.3 },
    rebalance: 'weekly',
  },
  'stop loss + take profit': {
    universe: { scope: 'codes', codes: STOCKS },
    ranking: { factor: 'sma_ratio_5', order: 'desc' },
    maxPositions: 3,
    weighting: { method: 'equal' },
    rebalance: 'weekly',
    sell: { stopLossPct: 4, takeProfitPct: 6 },
  },
  'max holding days + sell condition': {
    universe: { scope: 'codes', codes: STOCKS },
    buyConditions: { factor: 'rsi_14', op: '<', value: 55 },
    ranking: { factor: 'volatility_20d', order: 'asc' },
    maxPositions: 3,
    weighting: { method: 'equal', maxValuePerStock: 3_000_000 },
    rebalance: 'daily',
    sell: { maxHoldingDays: 5, minHoldingDays: 1, conditions: { factor: 'sma_ratio_5', op: '>', value: 1.02 } },
  },
};

/** KRX trading days in [from, to] as the trading service's calendar has them (weekdays, not holidays). */
async function tradingDays(pool: pg.Pool, from: string, to: string): Promise<string[]> {
  const { rows } = await pool.query<{ d: string }>(
    `SELECT to_char(d, 'YYYY-MM-DD') AS d FROM generate_series($1::date, $2::date, interval '1 day') d
      WHERE extract(isodow FROM d) < 6 AND NOT EXISTS (SELECT 1 FROM trading.holidays h WHERE h.date = d::date)
      ORDER BY d`,
    [from, to],
  );
  return rows.map((r) => r.d);
}

/** Random walks in whole won with gaps, ranges and a statement each, for STOCKS over the trading days. */
async function seedParityMarket(pool: pg.Pool): Promise<void> {
  const days = await tradingDays(pool, FIRST_BAR, LAST_BAR);
  const rand = prng(20260413);
  const rows: Array<[string, string, number, number, number, number, number]> = [];
  for (const [i, code] of STOCKS.entries()) {
    await pool.query(
      `INSERT INTO market.securities (code, name, market, sector, listed_on) VALUES ($1, $2, $3, 'parity', '2020-01-01')`,
      [code, `parity ${code}`, i % 2 === 0 ? 'KOSPI' : 'KOSDAQ'],
    );
    let close = 5_000 + Math.floor(rand() * 40_000);
    for (const date of days) {
      const open = Math.max(100, Math.round(close * (1 + (rand() - 0.5) * 0.04)));
      const next = Math.max(100, Math.round(open * (1 + (rand() - 0.5) * 0.06)));
      const high = Math.round(Math.max(open, next) * (1 + rand() * 0.03));
      const low = Math.round(Math.min(open, next) * (1 - rand() * 0.03));
      close = next;
      rows.push([code, date, open, high, low, close, 10_000 + Math.floor(rand() * 90_000)]);
    }
    // trailing twelve months: the four quarters to 2025Q3, a quarter of the year's flows each (the
    // engine sums four stored quarters), reported before the days traded
    const netIncome = (0.5 + rand() * 3) * 1e9;
    const [equity, liabilities] = [(5 + rand() * 20) * 1e9, (2 + rand() * 10) * 1e9];
    for (const [period, reported] of [
      ['2024Q4', '2025-02-20'],
      ['2025Q1', '2025-05-15'],
      ['2025Q2', '2025-08-14'],
      ['2025Q3', '2025-11-14'],
    ]) {
      const q = netIncome / 4;
      await pool.query(
        `INSERT INTO market.financial_statements (code, fiscal_period, report_date, revenue, operating_income, net_income,
           total_equity, total_liabilities) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [code, period, reported, q * 8, q * 1.4, q, equity, liabilities],
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
  await pool.query(`INSERT INTO market.trading_days (date) SELECT unnest($1::date[]) ON CONFLICT DO NOTHING`, [days]);
  await pool.query(`UPDATE market.data_version SET version = version + 1`);
}

type TradeRow = [number, string, string, string, number, number, number, number, number];

function backtestTrades(trades: Trade[]): TradeRow[] {
  return trades
    .map((t): TradeRow => [t.date, t.code, t.side, t.reason, t.quantity, t.price, t.amount, t.commission, t.tax])
    .sort(byDateCodeSide);
}

function byDateCodeSide(a: TradeRow, b: TradeRow): number {
  return a[0] - b[0] || a[1].localeCompare(b[1]) || a[2].localeCompare(b[2]);
}

describe('live trading is the backtest (2 replicas, the real scheduler on a replayed clock)', () => {
  let cluster: TradingCluster;
  let redis: Redis;
  const prefix = uniqueKeyPrefix('trading-parity');
  const ids = new Map<string, string>();
  let tradingDates: string[] = [];

  /** Moves every replica's clock (they read it from Redis) to `time` (Seoul) on `date`. */
  const setClock = (date: string, time: string): Promise<unknown> =>
    redis.set(`${prefix}${REPLAY_CLOCK_KEY}`, new Date(`${date}T${time}+09:00`).toISOString());

  /** Waits for the scheduler (cron or catch-up sweep, whichever is first) to finish `job` of `date`. */
  const ranOnce = async (job: 'select' | 'execute', date: string): Promise<void> => {
    const run = await waitFor(
      `${job} of ${date} run by the scheduler`,
      async () => {
        const { rows } = await cluster.pool.query<{ status: string; error: string | null }>(
          `SELECT status, error FROM trading.job_runs WHERE job = $1 AND trading_date = $2`,
          [job, date],
        );
        return rows[0] && rows[0].status !== 'running' ? rows[0] : undefined;
      },
      60_000,
      50,
    );
    assert.equal(run.status, 'succeeded', `${job} of ${date}: ${run.status} (${run.error})`);
  };

  beforeAll(async () => {
    redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
    // switched on in the evening of D0, after its close: D0's own runs are long past
    await setClock(D0, '20:00:00');
    cluster = await startTradingCluster({
      replicas: 2,
      env: {
        REDIS_KEY_PREFIX: prefix,
        TRADING_CLOCK: 'replay',
        TRADING_AS_OF_DATE: '',
        TRADING_SELECT_CRON: '0 0 7 * * *',
        TRADING_EXECUTE_CRON: '0 0 9 * * *',
        // the replicas load only the days the strategies need (21-42 of ~140): live on windows, the backtest on all
        TRADING_MARKET_MIN_DAYS: '2',
      },
      seed: async (pool) => {
        await seedParityMarket(pool);
        for (const [name, rules] of Object.entries(STRATEGIES)) {
          const full = { schemaVersion: 1, costs, initialCapital: 10_000_000, ...rules };
          ids.set(name, await seedStrategy(pool, randomUUID(), STOCKS, 10_000_000, full));
        }
      },
    });
    const after = await tradingDays(cluster.pool, D0, LAST_BAR);
    tradingDates = after.slice(1, DAYS + 1);
    assert.equal(tradingDates.length, DAYS);
    // the mornings of the trading days (the clock jumps over nights, weekends and holidays)
    for (const date of tradingDates) {
      await setClock(date, '07:00:01');
      await ranOnce('select', date);
      await setClock(date, '09:00:01');
      await ranOnce('execute', date);
    }
  }, 900_000);

  afterAll(async () => {
    await cluster?.close();
    await deleteRedisKeys(testRedisUrl(), prefix);
    redis?.disconnect();
  });

  it('ran select at 07:00 and execute at 09:00 of every trading day, once each, by the scheduler alone', async () => {
    const runs = [...(await runsOf(cluster.pool, 'select')), ...(await runsOf(cluster.pool, 'execute'))];
    const expected = tradingDates.flatMap((date) => [`select:${date}T07:00+09:00`, `execute:${date}T09:00+09:00`]);
    assert.deepEqual(runs.map((r) => r.run_key).sort(), [...expected].sort());
    // the cron or, when a tick came while no replica led, the catch-up sweep: never an operator
    assert.deepEqual(
      runs.filter((r) => r.trigger !== 'cron' && r.trigger !== 'catch-up'),
      [],
    );
    assert.ok(runs.every((r) => r.status === 'succeeded'));
    const byCron = runs.filter((r) => r.trigger === 'cron').length;
    process.stdout.write(
      `parity | scheduler | ${runs.length} runs: ${byCron} fired by the cron, ${runs.length - byCron} by the catch-up sweep\n`,
    );
    const calls = await brokerCalls(cluster.pool);
    assert.deepEqual(calls.repeatedIds, []);
  });

  for (const name of Object.keys(STRATEGIES)) {
    it(`orders, fills and daily values equal a backtest from D0: ${name}`, async () => {
      const id = ids.get(name) as string;
      const { rows: stored } = await cluster.pool.query<{ rules: unknown }>(
        `SELECT rules FROM trading.auto_strategies WHERE id = $1`,
        [id],
      );
      const parsed = parseStrategyDefinition(stored[0]?.rules);
      assert.ok(parsed.ok);
      const def: StrategyDefinition = parsed.value;
      const client = await cluster.pool.connect();
      const snapshot = await loadMarketSnapshot(client).finally(() => client.release());
      const last = tradingDates.at(-1) as string;
      const backtest = runBacktest(def, snapshot.data, {
        from: Number(D0.replaceAll('-', '')),
        to: Number(last.replaceAll('-', '')),
      });

      const { rows: fills } = await cluster.pool.query<{
        date: string;
        code: string;
        side: string;
        reason: string;
        quantity: string;
        fill_price: string;
        fill_amount: string;
        commission: string;
        tax: string;
      }>(
        `SELECT to_char(fill_price_date, 'YYYYMMDD') AS date, code, side, reason, quantity, fill_price, fill_amount,
                commission, tax
           FROM trading.order_intents WHERE auto_strategy_id = $1 AND status = 'filled'`,
        [id],
      );
      const live = fills
        .map((f): TradeRow => [
          Number(f.date),
          f.code,
          f.side,
          f.reason,
          Number(f.quantity),
          Number(f.fill_price),
          Number(f.fill_amount),
          Number(f.commission),
          Number(f.tax),
        ])
        .sort(byDateCodeSide);
      const expected = backtestTrades(backtest.trades);
      assert.ok(expected.length >= 6, `${name}: the backtest trades (${expected.length})`);
      assert.deepEqual(live, expected);

      // the value of every close from D0 to the day before the last trading date, to the won
      const { rows: perf } = await cluster.pool.query<{ date: string; value: string; cash: string }>(
        `SELECT to_char(date, 'YYYYMMDD') AS date, value, cash FROM trading.daily_performance
          WHERE auto_strategy_id = $1 ORDER BY date`,
        [id],
      );
      const curve = backtest.equityCurve;
      const expectedValues = curve.dates
        .slice(0, DAYS)
        .map((date, k) => [date, Math.round(curve.value[k]), curve.cash[k]]);
      assert.deepEqual(
        perf.map((p) => [Number(p.date), Number(p.value), Number(p.cash)]),
        expectedValues,
      );
      const sides = { buy: 0, sell: 0 };
      for (const t of live) {
        sides[t[2] as 'buy' | 'sell'] += 1;
      }
      process.stdout.write(
        `parity | ${name} | ${DAYS} trading days | ${live.length} trades (${sides.buy} buys, ${sides.sell} sells) | identical: yes\n`,
      );
    });
  }
});
