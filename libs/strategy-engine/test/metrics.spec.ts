import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { computeMetrics } from '../src/index.js';

const approx = (actual: number | null, expected: number): void =>
  assert.ok(
    actual !== null && Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)),
    `${actual} != ${expected}`,
  );

describe('computeMetrics', () => {
  it('computes returns, drawdown with dates, volatility, Sharpe, Sortino and Calmar by hand', () => {
    const value = [100, 110, 99, 121];
    const m = computeMetrics({
      dates: [20230102, 20230103, 20230104, 20240102], // 365 calendar days
      value,
      initialCapital: 100,
      closedPnl: [10, -5, 20],
      closedHoldingDays: [3, 4, 5],
      tradedAmount: 700,
      numberOfTrades: 6,
    });
    const r = [0.1, -0.1, 121 / 99 - 1];
    const mean = (r[0] + r[1] + r[2]) / 3;
    const std = Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / 2);
    const down = Math.sqrt((0.1 * 0.1) / 3);
    const years = 365 / 365.25;
    approx(m.totalReturn, 0.21);
    approx(m.cagr, Math.pow(1.21, 1 / years) - 1);
    approx(m.maxDrawdown, 99 / 110 - 1);
    assert.equal(m.maxDrawdownPeakDate, 20230103);
    assert.equal(m.maxDrawdownTroughDate, 20230104);
    assert.equal(m.maxDrawdownRecoveryDate, 20240102);
    approx(m.annualizedVolatility, std * Math.sqrt(252));
    approx(m.sharpe, (mean / std) * Math.sqrt(252));
    approx(m.sortino, (mean / down) * Math.sqrt(252));
    approx(m.calmar, (m.cagr as number) / (1 - 99 / 110));
    approx(m.winRate, 2 / 3);
    approx(m.profitFactor, 30 / 5);
    approx(m.averageHoldingDays, 4);
    approx(m.turnover, 350 / ((100 + 110 + 99 + 121) / 4) / years);
    assert.equal(m.numberOfTrades, 6);
    assert.equal(m.closedTrades, 3);
  });

  it('uses null, not NaN or Infinity, for undefined metrics', () => {
    const m = computeMetrics({
      dates: [20240102, 20240103],
      value: [100, 100],
      initialCapital: 100,
      closedPnl: [],
      closedHoldingDays: [],
      tradedAmount: 0,
      numberOfTrades: 0,
    });
    assert.equal(m.sharpe, null);
    assert.equal(m.sortino, null);
    assert.equal(m.calmar, null);
    assert.equal(m.winRate, null);
    assert.equal(m.profitFactor, null);
    assert.equal(m.maxDrawdown, 0);
    assert.equal(m.maxDrawdownPeakDate, null);
    assert.deepEqual(JSON.parse(JSON.stringify(m)), m, 'no NaN/Infinity that JSON would turn into null');
  });
});
