import assert from 'node:assert/strict';
import { afterAll, describe, it } from '@jest/globals';
import { capWeightedIndex, type MarketSnapshot } from '@stocklab/market-data';
import { buildMarketData, parseStrategyDefinition, type PriceRow } from '@stocklab/strategy-engine';
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
});
