/**
 * The daily jobs at scale: one trading replica (the leader, run with the pod's heap settings) over
 * a synthetic market of STOCKS stocks x YEARS years (ending in 2026, so that the replayed trading
 * day 2026-03-10 is in it) plus the crafted test market; N active strategies of N users, each the
 * README's example (all stocks, 6-month momentum, PER and ROE filters, 20 positions, monthly
 * rebalance) or, with --rules mixed, six rule sets in turn (RULES); then the 07:00 select and the
 * 09:00 execute of that day triggered as a CronJob would. The day's bars are removed first, as
 * at 09:00 the day has not traded: the paper broker accepts the orders (with --fills they stay,
 * and it fills them at once, as this benchmark first ran). Reported per N: the select (its run's
 * phases), the execute's plan and send (from its run's summary, `ms`), the whole execute (the
 * reconciliations before and after included), the orders, and the leader's resident memory: the
 * peak sampled from /proc during each job and the process's high-water mark (VmHWM, start-up and
 * the market load included). One fresh cluster per N, so that each select is a first one (every
 * strategy forms its whole portfolio).
 *
 * Per rule set the first strategy is activated through the API; the others are written by SQL as
 * copies of its rows (account, paper account, strategy, activation log line), so they are what
 * activation writes, with their own user, account and research strategy id (no research strategy
 * is created for them in the backtest service, which the trading service never reads again).
 *
 *   npx tsc -p tsconfig.spec.json && node dist-spec/bench/daily-jobs.js \
 *     [--stocks 500] [--years 2] [--strategies 20,300] [--rules example|mixed] [--fills]
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { README_EXAMPLE_STRATEGY, requestPatiently } from '@stocklab/test-support';
import type pg from 'pg';
import { AS_OF, startTradingCluster, type TradingCluster } from '../test/support.js';

const { values: args } = parseArgs({
  options: {
    stocks: { type: 'string', default: '500' },
    years: { type: 'string', default: '2' },
    strategies: { type: 'string', default: '20,300' },
    // example: every strategy the README's example; mixed: six rule sets in turn (RULES)
    rules: { type: 'string', default: 'example' },
    // keep the trading day's bars: the paper broker fills at once (how this benchmark ran first)
    fills: { type: 'boolean', default: false },
  },
});
const stocks = Number(args.stocks);
const years = Number(args.years);
const sizes = args.strategies.split(',').map(Number);
const DEMO_DATA = resolve(import.meta.dirname, '../../../backtest/dist/cli/demo-data.js');
/**
 * As the trading pod runs: its manifests' NODE_OPTIONS, and a V8 heap of half its 512 MiB memory
 * limit (Node sizes the heap from the cgroup limit; this machine's memory would let garbage pile
 * up), as services/backtest/bench/market-snapshot.ts runs it.
 */
const LEADER_NODE_OPTIONS = '--max-semi-space-size=4 --max-old-space-size=256';
const ALLOCATION = 10_000_000;

/**
 * Rule sets of the mixed runs: the README's example and five variants over other factors (RSI
 * and volatility over the whole window, moving averages, trading value, debt ratio), other
 * rebalance frequencies and sell rules. On the 10-year synthetic market the example's PER and
 * ROE filters leave no stock; each variant picks its 20.
 */
const EXAMPLE = README_EXAMPLE_STRATEGY;
const RULES: Record<string, Record<string, unknown>> = {
  example: EXAMPLE,
  momentum: {
    ...EXAMPLE,
    buyConditions: {
      and: [
        { factor: 'per', op: 'between', min: 0, max: 40 },
        { factor: 'roe', op: '>', value: 0 },
      ],
    },
  },
  value: {
    ...EXAMPLE,
    ranking: { factor: 'pbr', order: 'asc' },
    buyConditions: { factor: 'roe', op: '>', value: 0 },
    sell: { stopLossPct: 10, takeProfitPct: 30 },
  },
  lowVolatility: {
    ...EXAMPLE,
    ranking: { factor: 'volatility_60d', order: 'asc' },
    buyConditions: { factor: 'rsi_14', op: '<', value: 60 },
    rebalance: 'weekly',
    sell: { maxHoldingDays: 60, conditions: { factor: 'rsi_14', op: '>', value: 75 } },
  },
  trend: {
    ...EXAMPLE,
    ranking: { factor: 'sma_ratio_20', order: 'desc' },
    buyConditions: {
      and: [
        { factor: 'sma_ratio_5', op: '>', value: 1 },
        { factor: 'avg_trading_value_20d', op: '>', value: 1e8 },
      ],
    },
    rebalance: 'weekly',
    sell: { stopLossPct: 8 },
  },
  quality: {
    ...EXAMPLE,
    universe: { scope: 'markets', markets: ['KOSPI'] },
    ranking: { factor: 'roe', order: 'desc' },
    buyConditions: { factor: 'debt_ratio', op: '<', value: 150 },
    rebalance: 'quarterly',
  },
};
const ruleSets = args.rules === 'mixed' ? Object.values(RULES) : [EXAMPLE];

/** One /proc/<pid>/status field, in MiB. */
function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Runs `work` while sampling the process's RSS every 20 ms; its result, wall time and peak RSS (MiB). */
async function sampled<T>(pid: number, work: () => Promise<T>): Promise<{ out: T; ms: number; peakMiB: number }> {
  let peak = statusMiB(pid, 'VmRSS');
  const timer = setInterval(() => {
    peak = Math.max(peak, statusMiB(pid, 'VmRSS'));
  }, 20);
  const t0 = performance.now();
  try {
    const out = await work();
    return { out, ms: performance.now() - t0, peakMiB: Math.max(peak, statusMiB(pid, 'VmRSS')) };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Triggers a run as a CronJob would and waits for it to end, however long it takes: the answer
 * comes when the run is done, but an HTTP client gives up on a long one, so the run's row is watched.
 */
async function trigger(cluster: TradingCluster, token: string, job: 'select' | 'execute'): Promise<void> {
  const answer = fetch(`${cluster.trading.at(0).url}/api/trading/jobs/${job}/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ date: AS_OF }),
  }).then(
    async (res) => ({ status: res.status, body: await res.json() }),
    (error: unknown) => ({ status: 0, body: String(error) }),
  );
  for (;;) {
    const { rows } = await cluster.pool.query<{ status: string; error: string | null }>(
      `SELECT status, error FROM trading.job_runs WHERE job = $1 AND trading_date = $2`,
      [job, AS_OF],
    );
    const run = rows[0];
    if (run && run.status !== 'running') {
      if (run.status !== 'succeeded') {
        throw new Error(`${job}: ${run.status} ${run.error}`);
      }
      return;
    }
    const early = await Promise.race([answer, sleep(50).then(() => undefined)]);
    if (early && early.status !== 201 && early.status !== 0) {
      throw new Error(`${job}: ${early.status} ${JSON.stringify(early.body)}`);
    }
  }
}

/** A strategy through the API, as a user activates one. */
async function activateTemplate(
  cluster: TradingCluster,
  definition: Record<string, unknown>,
  k: number,
): Promise<string> {
  const token = cluster.tokenFor(randomUUID());
  const created = await requestPatiently('POST', `${cluster.backtest.at(0).url}/api/backtest/strategies`, {
    token,
    body: { name: `bench ${k}`, definition },
  });
  const activated = await requestPatiently('POST', `${cluster.trading.at(0).url}/api/trading/auto-strategies`, {
    token,
    body: { strategyId: created.body.id, allocatedCapital: ALLOCATION },
  });
  if (activated.status !== 201) {
    throw new Error(`activation: ${activated.status} ${JSON.stringify(activated.body)}`);
  }
  return activated.body.id as string;
}

/** `count` more strategies, each of its own user, written as copies of the template's rows in one statement. */
async function seedCopies(pool: pg.Pool, template: string, count: number, firstIndex: number): Promise<void> {
  const users = Array.from({ length: count }, () => randomUUID());
  const sources = users.map(() => randomUUID());
  const index = users.map((_, i) => firstIndex + i);
  await pool.query(
    `WITH u AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS u(user_id, source_id, i)),
          t AS (SELECT s.*, a.cash AS account_cash, a.initial_cash, p.cash AS paper_cash
                  FROM trading.auto_strategies s JOIN trading.accounts a ON a.id = s.account_id
                  JOIN trading.paper_accounts p ON p.account_id = s.account_id WHERE s.id = $4),
          a AS (INSERT INTO trading.accounts (user_id, cash, initial_cash)
                SELECT u.user_id, t.account_cash, t.initial_cash FROM u, t RETURNING id, user_id),
          p AS (INSERT INTO trading.paper_accounts (account_id, cash) SELECT a.id, t.paper_cash FROM a, t),
          s AS (INSERT INTO trading.auto_strategies (owner_id, account_id, source_strategy_id, source_version, name,
                  rules, allocated_capital, cash, status, broker_account_id)
                SELECT u.user_id, a.id, u.source_id, t.source_version, 'bench ' || u.i, t.rules, t.allocated_capital,
                       t.cash, t.status, t.broker_account_id
                  FROM u JOIN a ON a.user_id = u.user_id, t
                 ORDER BY u.i RETURNING id, source_strategy_id)
     INSERT INTO trading.strategy_logs (auto_strategy_id, run_key, level, message, details)
     SELECT s.id, l.run_key, l.level, l.message, jsonb_set(l.details, '{sourceStrategyId}', to_jsonb(s.source_strategy_id::text))
       FROM s, trading.strategy_logs l WHERE l.auto_strategy_id = $4`,
    [users, sources, index, template],
  );
}

interface Measured {
  n: number;
  select: { ms: number; peakMiB: number; phases: Record<string, number> };
  execute: { ms: number; peakMiB: number; phases: Record<string, number> };
  hwmMiB: number;
  orders: number;
  picks: number;
}

async function measure(n: number, demoDir: string): Promise<Measured> {
  const cluster = await startTradingCluster({
    replicas: 1,
    backend: 'postgres',
    env: { NODE_OPTIONS: LEADER_NODE_OPTIONS },
    seed: async (pool) => {
      const { env } = process;
      await promisify(execFile)(
        process.execPath,
        [
          DEMO_DATA,
          ...['--stocks', String(stocks), '--years', String(years), '--start-year', String(2026 - years + 1)],
          ...['--load', '--out', demoDir],
        ],
        { env: { ...env, DATABASE_URL: (pool.options as { connectionString: string }).connectionString } },
      );
      if (!args.fills) {
        // at 09:00 the day has not traded: the paper broker accepts the orders and fills them once its bars exist
        await pool.query(`DELETE FROM market.daily_bars WHERE date >= $1`, [AS_OF]);
        await pool.query(`DELETE FROM market.trading_days WHERE date >= $1`, [AS_OF]);
        await pool.query(`UPDATE market.data_version SET version = version + 1`);
        // as after a day's import: no dead index entries for the paper broker's "is the day imported" probe
        await pool.query(`VACUUM ANALYZE market.daily_bars`);
      }
    },
  });
  try {
    const admin = cluster.tokenFor(randomUUID(), ['user', 'admin']);
    // the rule sets in turn: template k through the API, then its share of the n by SQL
    for (const [k, definition] of ruleSets.entries()) {
      const share = Math.floor(n / ruleSets.length) + (k < n % ruleSets.length ? 1 : 0);
      if (share > 0) {
        const template = await activateTemplate(cluster, definition, k);
        await seedCopies(cluster.pool, template, share - 1, ruleSets.length + k * n);
      }
    }
    const pid = cluster.trading.at(0).pid as number;
    const select = await sampled(pid, () => trigger(cluster, admin, 'select'));
    const execute = await sampled(pid, () => trigger(cluster, admin, 'execute'));
    const { rows: runs } = await cluster.pool.query<{ job: string; summary: { ms: Record<string, number> } }>(
      `SELECT job, summary FROM trading.job_runs WHERE trading_date = $1`,
      [AS_OF],
    );
    const phases = (job: string): Record<string, number> => runs.find((r) => r.job === job)?.summary.ms ?? {};
    const { rows: counts } = await cluster.pool.query<{ orders: number; picks: number; seqs: boolean }>(
      `SELECT (SELECT count(*)::int FROM trading.order_intents WHERE trading_date = $1) AS orders,
              (SELECT count(*)::int FROM trading.picks WHERE trading_date = $1) AS picks,
              (SELECT count(*) = coalesce(max(seq), 0) AND count(DISTINCT seq) = count(*)
                 FROM trading.order_intents WHERE trading_date = $1) AS seqs`,
      [AS_OF],
    );
    if (!counts[0]?.seqs) {
      throw new Error('the intents are not numbered 1..n');
    }
    return {
      n,
      select: { ms: select.ms, peakMiB: select.peakMiB, phases: phases('select') },
      execute: { ms: execute.ms, peakMiB: execute.peakMiB, phases: phases('execute') },
      hwmMiB: statusMiB(pid, 'VmHWM'),
      orders: counts[0].orders,
      picks: counts[0].picks,
    };
  } finally {
    await cluster.close();
  }
}

const demoDir = mkdtempSync(join(tmpdir(), 'daily-jobs-bench-'));
const measured: Measured[] = [];
try {
  for (const n of sizes) {
    measured.push(await measure(n, demoDir));
    process.stderr.write(`${JSON.stringify(measured.at(-1))}\n`);
  }
} finally {
  rmSync(demoDir, { recursive: true, force: true });
}

const ms = (x: number | undefined): string => `${Math.round(x ?? Number.NaN).toLocaleString('en-US')} ms`;
const mib = (x: number): string => `${Math.round(x)} MiB`;
const lines = measured.map((m) =>
  [
    `${stocks.toLocaleString('en-US')} x ${years} y`,
    m.n.toLocaleString('en-US'),
    `${ms(m.select.ms)} (market ${ms(m.select.phases.market)}, select ${ms(m.select.phases.select)}, write ${ms(m.select.phases.write)})`,
    ms(m.execute.phases.plan),
    `${ms(m.execute.phases.send)} (${m.orders.toLocaleString('en-US')} orders)`,
    ms(m.execute.ms),
    `${mib(m.select.peakMiB)} / ${mib(m.execute.peakMiB)} / ${mib(m.hwmMiB)}`,
  ].join(' | '),
);
// the first run of a process also loads the market: the slope between the sizes is the cost of one more strategy
const [first, last] = [measured[0], measured.at(-1)];
const slope = (of: (m: Measured) => number | undefined): string =>
  first && last ? `${(((of(last) ?? 0) - (of(first) ?? 0)) / (last.n - first.n)).toFixed(2)} ms` : 'n/a';
const perStrategy =
  first && last && last.n > first.n
    ? `One more strategy costs ${slope((m) => m.select.ms)} of select, ${slope((m) => m.execute.phases.plan)} of plan, ` +
      `${slope((m) => m.execute.phases.send)} of send and ${slope((m) => m.execute.ms)} of the whole execute.\n`
    : '';
process.stdout.write(
  `${args.rules === 'mixed' ? 'six rule sets' : "the README's example"}, ` +
    `${args.fills ? 'the trading day traded (orders filled at once)' : 'the trading day not traded yet (orders accepted)'}\n\n` +
    `| Market | Active strategies | 07:00 select | 09:00 plan | 09:00 send | 09:00 execute (all phases) | Leader RSS peak: select / execute / VmHWM |\n` +
    `| --- | --- | --- | --- | --- | --- | --- |\n${lines.map((l) => `| ${l} |`).join('\n')}\n\n${perStrategy}`,
);
