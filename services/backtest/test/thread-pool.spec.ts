import assert from 'node:assert/strict';
import { afterAll, describe, it } from '@jest/globals';
import {
  capWeightedIndex,
  decodeMarketSnapshot,
  encodeMarketSnapshot,
  sharedStatementsOf,
  type MarketSnapshot,
} from '@stocklab/market-data';
import {
  buildMarketData,
  parseStrategyDefinition,
  runBacktest,
  type PriceRow,
  type StatementRow,
} from '@stocklab/strategy-engine';
import { definition } from '@stocklab/test-support';
import { BacktestThreadPool, type RunRequest } from '../src/backtests/backtest-runner.js';

const rows: PriceRow[] = [];
for (let d = 0; d < 30; d++) {
  const date = 20260105 + d;
  for (const [k, code] of ['A00001', 'A00002'].entries()) {
    const close = 1000 + d * (k + 1) * 10;
    rows.push({ date, code, open: close, high: close, low: close, close, volume: 100 });
  }
}
const data = buildMarketData({ rows });
const snapshot = (version: string): MarketSnapshot => ({
  version,
  data,
  benchmarks: {
    KOSPI: capWeightedIndex(data, () => true),
    KOSDAQ: capWeightedIndex(data, () => true),
    MARKET: capWeightedIndex(data, () => true),
  },
  loadedInMs: 0,
  precedingDates: new Int32Array(),
});
const parsed = parseStrategyDefinition(definition(['A00001', 'A00002'], 1));
if (!parsed.ok) {
  throw new Error('test strategy does not parse');
}
const request = (version: string): RunRequest => ({
  definition: parsed.value,
  snapshot: snapshot(version),
  from: 20260105,
  to: 20260203,
  benchmark: undefined,
  onProgress: () => undefined,
  signal: new AbortController().signal,
});

/**
 * Three stocks whose ranking by PER changes when a later statement is reported, one statement
 * lacking an optional figure, and a strategy ranking them by PER.
 */
function perCase() {
  const priced: PriceRow[] = [];
  const codes = ['B00001', 'B00002', 'B00003'];
  for (let d = 0; d < 60; d++) {
    for (const [k, code] of codes.entries()) {
      const close = 1000 + k * 100 + d * (3 - k);
      priced.push({ date: 20260105 + d, code, open: close, high: close, low: close, close, volume: 1000 });
    }
  }
  const statement = (code: string, reportDate: number, netIncome: number): StatementRow => ({
    code,
    reportDate,
    netIncome,
    equity: 5e6,
    revenue: 2e7,
    operatingIncome: 3e6,
    liabilities: 1e6,
    revenuePrevYear: 1.8e7,
    ...(code === 'B00002' ? {} : { grossProfit: 4e6, eps: 12.5 }),
  });
  const withStatements = buildMarketData({
    rows: priced.map((r) => ({ ...r, marketCap: r.close * 10_000 })),
    statements: [
      statement('B00001', 20260101, 2e6),
      statement('B00002', 20260101, 1e6),
      statement('B00003', 20260101, 5e5),
      statement('B00003', 20260120, 9e6),
      statement('B00001', 20260201, 1e5),
    ],
  });
  const byPer = parseStrategyDefinition(
    definition(codes, 1, {
      ranking: { factor: 'per', order: 'asc' },
      rebalance: 'weekly',
      costs: { commissionBps: 1.5, sellTaxBps: 23, slippageBps: 10 },
      initialCapital: 10_000_000,
    }),
  );
  if (!byPer.ok) {
    throw new Error('PER strategy does not parse');
  }
  const options = { from: 20260105, to: 20260305 };
  return { withStatements, byPer: byPer.value, options };
}

/**
 * The backtest threads of a process and the market versions they hold: a job on a new data
 * version makes every idle thread drop the old version's arrays, so that nothing keeps the old
 * market alive once the jobs still running on it end.
 */
describe('backtest thread pool and data versions', () => {
  const pool = new BacktestThreadPool();
  afterAll(() => pool.close());

  it('idle threads keep their version while jobs stay on it, and drop it when a job of a newer one comes', async () => {
    const [a, b] = await Promise.all([pool.run(request('1')), pool.run(request('1'))]);
    assert.deepEqual(b, a);
    assert.deepEqual(pool.idleVersions(), ['1', '1']);

    const onNew = await pool.run(request('2'));
    assert.deepEqual(
      pool
        .idleVersions()
        .map((v) => v ?? 'none')
        .sort(),
      ['2', 'none'],
      'the thread that did not run the new version released the old one',
    );
    assert.deepEqual(onNew, a);

    // a released thread gets the data again with its next job
    const again = await Promise.all([pool.run(request('2')), pool.run(request('2'))]);
    assert.deepEqual(again, [a, a]);
    assert.deepEqual(pool.idleVersions(), ['2', '2']);
  });

  it('sends the statements as shared columns, and a thread decides on them as the engine does on the objects', async () => {
    const { withStatements, byPer, options } = perCase();
    const inProcess = runBacktest(byPer, withStatements, options);
    const fromThread = await pool.run({
      ...request('statements'),
      definition: byPer,
      snapshot: { ...snapshot('statements'), data: withStatements },
      ...options,
    });
    // as JSON: the thread's result is built in another realm than this test's (Jest's vm context),
    // so a strict deep comparison would fail on the prototypes alone; every number prints exactly
    assert.equal(JSON.stringify(fromThread), JSON.stringify(inProcess));
    const held = new Set(inProcess.trades.map((t) => t.code));
    assert.ok(held.size >= 2, `the ranking changed with the statements: ${[...held].join(', ')}`);
  });

  it('runs a decoded snapshot (prices as float32s, statements as views over shared columns) as the engine runs the objects', async () => {
    const { withStatements, byPer, options } = perCase();
    const index = capWeightedIndex(withStatements, () => true);
    const benchmarks = { KOSPI: index, KOSDAQ: index, MARKET: index };
    const decoded = decodeMarketSnapshot(
      encodeMarketSnapshot({ version: 'decoded', data: withStatements, benchmarks }),
    );
    assert.ok(decoded.data.close instanceof Float32Array, 'the prices as float32s');
    assert.ok(sharedStatementsOf(decoded.data.fundamentals).figures.netIncome.buffer instanceof SharedArrayBuffer);
    const fromThread = await pool.run({
      ...request('decoded'),
      definition: byPer,
      snapshot: { ...decoded, loadedInMs: 0 },
      ...options,
    });
    assert.equal(JSON.stringify(fromThread), JSON.stringify(runBacktest(byPer, withStatements, options)));
  });
});

/**
 * The service closes its pool at shutdown while the queue still lets running jobs finish within
 * a grace period: such a job ends with its result, and its thread then ends too, rather than
 * waiting idle for jobs that will not come (a thread left running keeps its process alive).
 */
describe('closing the backtest thread pool', () => {
  it('lets a job running at the close end with its result, then terminates its thread', async () => {
    const pool = new BacktestThreadPool();
    const running = pool.run(request('1'));
    await pool.close();
    const { from, to } = request('1');
    assert.equal(JSON.stringify(await running), JSON.stringify(runBacktest(parsed.value, data, { from, to })));
    assert.deepEqual(pool.idleVersions(), [], 'no thread kept after the close');
  });
});
