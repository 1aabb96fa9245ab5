/**
 * What the daily jobs cost per auto strategy: a trading replica (the leader) over a demo market
 * of STOCKS stocks x 2 years plus the crafted test market, N active strategies of N users (all
 * stocks, ranked by 6-month momentum with a value and quality filter, 20 positions, monthly
 * rebalance: the README's example), then the 07:00 select and the 09:00 execute of one trading
 * day triggered as a CronJob would, each timed from the request to its answer (the run done).
 * One fresh cluster per N, so that each select is a first one (the whole portfolio formed).
 *
 *   npx tsc -p tsconfig.spec.json && node dist-spec/bench/daily-jobs.js [stocks] [n1,n2,...]
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { README_EXAMPLE_STRATEGY, requestPatiently } from '@stocklab/test-support';
import { AS_OF, startTradingCluster, triggerRun } from '../test/support.js';

const stocks = Number(process.argv[2] ?? 500);
const sizes = (process.argv[3] ?? '25,100').split(',').map(Number);
const DEMO_DATA = resolve(import.meta.dirname, '../../../backtest/dist/cli/demo-data.js');

const STRATEGY = README_EXAMPLE_STRATEGY;

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await work();
  return [out, performance.now() - t0];
}

const rows: string[] = [];
const measured: Array<{ n: number; select: number; execute: number }> = [];
const demoDir = mkdtempSync(join(tmpdir(), 'daily-jobs-bench-'));
for (const n of sizes) {
  const cluster = await startTradingCluster({
    replicas: 1,
    backend: 'postgres',
    env: { TRADING_MAX_ACTIVE_STRATEGIES: '1000' },
    seed: async (pool) => {
      const { env } = process;
      await promisify(execFile)(
        process.execPath,
        [DEMO_DATA, '--stocks', String(stocks), '--years', '2', '--start-year', '2025', '--load', '--out', demoDir],
        { env: { ...env, DATABASE_URL: (pool.options as { connectionString: string }).connectionString } },
      );
    },
  });
  try {
    const admin = cluster.tokenFor(randomUUID(), ['user', 'admin']);
    for (let i = 0; i < n; i += 1) {
      const token = cluster.tokenFor(randomUUID());
      const created = await requestPatiently('POST', `${cluster.backtest.at(0).url}/api/backtest/strategies`, {
        token,
        body: { name: `bench ${i}`, definition: STRATEGY },
      });
      const activated = await requestPatiently('POST', `${cluster.trading.at(0).url}/api/trading/auto-strategies`, {
        token,
        body: { strategyId: created.body.id, allocatedCapital: 10_000_000 },
      });
      if (activated.status !== 201) {
        throw new Error(`activation ${i}: ${activated.status} ${JSON.stringify(activated.body)}`);
      }
    }
    const [select, selectMs] = await timed(() => triggerRun(cluster, admin, 'select', AS_OF));
    const [execute, executeMs] = await timed(() => triggerRun(cluster, admin, 'execute', AS_OF));
    for (const [job, run] of [
      ['select', select],
      ['execute', execute],
    ] as const) {
      if (run.status !== 201 || run.body.status !== 'succeeded') {
        throw new Error(`${job}: ${run.status} ${JSON.stringify(run.body)}`);
      }
    }
    const { rows: orders } = await cluster.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM trading.order_intents WHERE trading_date = $1`,
      [AS_OF],
    );
    measured.push({ n, select: selectMs, execute: executeMs });
    rows.push(
      `| ${stocks} | ${n} | ${Math.round(selectMs)} ms (${(selectMs / n).toFixed(1)} ms/strategy) | ${Math.round(executeMs)} ms (${(executeMs / n).toFixed(1)} ms/strategy) | ${orders[0]?.n ?? 0} |`,
    );
  } finally {
    await cluster.close();
  }
}
rmSync(demoDir, { recursive: true, force: true });
// the first run of a process also loads the market: the slope between the sizes is the cost of one more strategy
const [first, last] = [measured[0], measured.at(-1)];
const slope = (job: 'select' | 'execute'): string =>
  first && last && last.n > first.n ? `${((last[job] - first[job]) / (last.n - first.n)).toFixed(1)} ms` : 'n/a';
process.stdout.write(
  `| stocks | active strategies | 07:00 select | 09:00 execute | orders |\n| --- | --- | --- | --- | --- |\n${rows.join('\n')}\n` +
    `one more strategy costs: select ${slope('select')}, execute ${slope('execute')}\n`,
);
