/**
 * Import speed of market data: a whole synthetic market's bars file (2,500 stocks x 10 years by
 * default, 6.19 M rows, 516 MB) loaded into an empty market, the same file once more (nothing
 * changes), and one new trading day (2,500 rows) on top, each through the loader the import job
 * uses, timed from the file's first byte to the commit; plus the process's peak RSS.
 *
 *   npx tsc -p tsconfig.spec.json && node dist-spec/bench/import.js --stocks 2500 --years 10
 *
 * --dir DIR keeps the generated CSV files there (and reuses them on the next run).
 */
import { execFile } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  closeSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createTestDatabase } from '@stocklab/test-support';
import pg from 'pg';
import { writeDemoMarket } from '../src/cli/demo-data.js';
import { loadMarketCsv, type LoadOutcome } from '../src/market/market-loader.js';
import type { MarketKind } from '../src/market/market-csv.js';

const { values } = parseArgs({
  options: { stocks: { type: 'string' }, years: { type: 'string' }, dir: { type: 'string' } },
});
const stocks = Number(values.stocks ?? 2500);
const years = Number(values.years ?? 10);
const dir = resolve(values.dir ?? join(tmpdir(), `stocklab-import-bench-${stocks}x${years}`));
const MIGRATE = resolve(fileURLToPath(import.meta.url), '../../../dist/bundle/migrate.js');

/** The last day's rows of a bars file, moved to the next weekday: a daily increment. */
function nextDayOf(barsPath: string): string {
  const size = statSync(barsPath).size;
  const tailBytes = Math.min(size, stocks * 200);
  const buffer = Buffer.alloc(tailBytes);
  const fd = openSync(barsPath, 'r');
  readSync(fd, buffer, 0, tailBytes, size - tailBytes);
  closeSync(fd);
  const rows = buffer.toString().trimEnd().split('\n').slice(1);
  const lastDate = rows[rows.length - 1]?.split(',')[1] ?? '';
  const next = new Date(`${lastDate}T00:00:00Z`);
  do {
    next.setUTCDate(next.getUTCDate() + 1);
  } while (next.getUTCDay() === 0 || next.getUTCDay() === 6);
  const day = next.toISOString().slice(0, 10);
  const header = 'code,date,open,high,low,close,volume,trading_value,market_cap,shares_outstanding';
  const lastDay = rows.filter((r) => r.split(',')[1] === lastDate).map((r) => r.replace(lastDate, day));
  return `${header}\n${lastDay.join('\n')}\n`;
}

async function timedLoad(
  client: pg.Client,
  kind: MarketKind,
  path: string,
): Promise<{ ms: number; outcome: LoadOutcome }> {
  const started = performance.now();
  const outcome = await loadMarketCsv(client, kind, () => createReadStream(path), { sizeBytes: statSync(path).size });
  const ms = performance.now() - started;
  if (!outcome.succeeded) {
    throw new Error(`${kind}: ${JSON.stringify(outcome.errors)}`);
  }
  return { ms, outcome };
}

async function main(): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const paths = {
    securities: join(dir, 'securities.csv'),
    bars: join(dir, 'bars.csv'),
    statements: join(dir, 'statements.csv'),
  };
  if (!existsSync(paths.bars)) {
    process.stdout.write(`generating ${stocks} stocks x ${years} years into ${dir}\n`);
    await writeDemoMarket({ stocks, years, seed: 42, startYear: 2014 }, dir);
  }
  const increment = join(dir, 'next-day.csv');
  writeFileSync(increment, nextDayOf(paths.bars));

  const db = await createTestDatabase('stocklab_bench_import');
  try {
    await promisify(execFile)(process.execPath, [MIGRATE], { env: { ...process.env, DATABASE_URL: db.url } });
    const client = new pg.Client({ connectionString: db.url, application_name: 'import-bench' });
    await client.connect();
    try {
      await timedLoad(client, 'securities', paths.securities);
      const rows: string[] = [];
      const report = (name: string, run: { ms: number; outcome: LoadOutcome }): void => {
        const o = run.outcome;
        const perSecond = Math.round(o.rowsTotal / (run.ms / 1000));
        rows.push(
          `| ${name} | ${o.rowsTotal.toLocaleString('en-US')} | ${o.path} | ${Math.round(run.ms).toLocaleString('en-US')} ms | ` +
            `${perSecond.toLocaleString('en-US')} | ${o.inserted.toLocaleString('en-US')} / ${o.updated} / ${o.unchanged.toLocaleString('en-US')} |`,
        );
        process.stdout.write(`${rows[rows.length - 1]}\n`);
      };
      process.stdout.write(
        `\n| Load | Rows | Path | Time | Rows per second | Inserted / updated / unchanged |\n| --- | --- | --- | --- | --- | --- |\n`,
      );
      report('whole market into an empty one', await timedLoad(client, 'bars', paths.bars));
      report('the same file again', await timedLoad(client, 'bars', paths.bars));
      report('one new trading day', await timedLoad(client, 'bars', increment));
      process.stdout.write(
        `\nbars file ${(statSync(paths.bars).size / 2 ** 20).toFixed(0)} MiB; peak RSS of this process ` +
          `${Math.round(process.resourceUsage().maxRSS / 1024)} MB\n`,
      );
    } finally {
      await client.end();
    }
  } finally {
    await db.drop();
  }
}

await main();
