import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { loadConfig } from '@stocklab/platform';
import { tradingConfigSchema } from '../src/config.js';
import { expectedDataDay } from '../src/metrics/market-freshness-metrics.js';
import { cronOf, scheduledJobs } from '../src/scheduler/job-schedule.js';

const BASE = { DATABASE_URL: 'postgres://x@127.0.0.1/db', REDIS_URL: 'redis://127.0.0.1:6379', JWT_PUBLIC_KEYS: '' };

describe('the daily ingest in the schedule', () => {
  // 2025-05: the 1st (Thursday) and the 5th-6th (Monday-Tuesday) are KRX holidays
  const holidays = new Set(['2025-05-01', '2025-05-05', '2025-05-06']);

  it('expects, on a trading day, the trading day before it', () => {
    assert.equal(expectedDataDay('2025-04-30', holidays), '2025-04-29');
    // Friday after the holiday: Wednesday
    assert.equal(expectedDataDay('2025-05-02', holidays), '2025-04-30');
    // Wednesday after a weekend and two holidays: Friday
    assert.equal(expectedDataDay('2025-05-07', holidays), '2025-05-02');
  });

  it('expects nothing new over weekends and holidays: the day the last trading day needed', () => {
    // Saturday to Tuesday: the latest trading day is Friday 05-02, whose select needed Wednesday 04-30
    for (const day of ['2025-05-03', '2025-05-04', '2025-05-05', '2025-05-06']) {
      assert.equal(expectedDataDay(day, holidays), '2025-04-30', day);
    }
    // the holiday itself: the latest trading day is Wednesday 04-30, which needed 04-29
    assert.equal(expectedDataDay('2025-05-01', holidays), '2025-04-29');
  });

  it('is scheduled only with a service account, at 06:00 by default', () => {
    const off = loadConfig(tradingConfigSchema, BASE);
    assert.deepEqual(scheduledJobs(off), ['select', 'execute', 'reconcile']);
    const on = loadConfig(tradingConfigSchema, {
      ...BASE,
      TRADING_SERVICE_EMAIL: 'scheduler@example.com',
      TRADING_SERVICE_PASSWORD: 'secret',
    });
    assert.deepEqual(scheduledJobs(on), ['ingest', 'select', 'execute', 'reconcile']);
    assert.equal(cronOf(on, 'ingest'), '0 0 6 * * *');
    assert.equal(cronOf(on, 'reconcile'), '0 40 15 * * *');
  });
});
