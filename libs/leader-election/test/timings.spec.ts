import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  DEFAULT_TIMINGS,
  InvalidElectionTimingsError,
  jittered,
  resolveTimings,
  timingsFromEnv,
} from '../src/index.js';

void describe('resolveTimings', () => {
  void it("uses client-go's defaults: 15 s / 10 s / 2 s", () => {
    assert.deepEqual(resolveTimings(), { leaseDurationMs: 15000, renewDeadlineMs: 10000, retryPeriodMs: 2000 });
    assert.deepEqual(resolveTimings({}), { ...DEFAULT_TIMINGS });
  });

  void it('accepts LeaseDuration > RenewDeadline > 1.2 x RetryPeriod', () => {
    assert.deepEqual(resolveTimings({ leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 }), {
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 500,
    });
  });

  void it('rejects a LeaseDuration that is not greater than RenewDeadline', () => {
    assert.throws(
      () => resolveTimings({ leaseDurationMs: 10000, renewDeadlineMs: 10000 }),
      (error: unknown) =>
        error instanceof InvalidElectionTimingsError &&
        /leaseDuration.*must be greater than renewDeadline/.test(error.message),
    );
  });

  void it('rejects a RenewDeadline that is not greater than 1.2 x RetryPeriod', () => {
    assert.throws(
      () => resolveTimings({ leaseDurationMs: 15000, renewDeadlineMs: 2400, retryPeriodMs: 2000 }),
      (error: unknown) =>
        error instanceof InvalidElectionTimingsError && /renewDeadline.*1\.2 x retryPeriod/.test(error.message),
    );
    // just above the bound is fine
    assert.equal(
      resolveTimings({ leaseDurationMs: 15000, renewDeadlineMs: 2401, retryPeriodMs: 2000 }).renewDeadlineMs,
      2401,
    );
  });

  void it('rejects zero, negative, non-finite and fractional-second lease durations', () => {
    assert.throws(() => resolveTimings({ retryPeriodMs: 0 }), InvalidElectionTimingsError);
    assert.throws(() => resolveTimings({ renewDeadlineMs: -1 }), InvalidElectionTimingsError);
    assert.throws(() => resolveTimings({ leaseDurationMs: Number.NaN }), InvalidElectionTimingsError);
    assert.throws(() => resolveTimings({ leaseDurationMs: 15500 }), /whole number of seconds/);
  });

  void it('reads LEASE_DURATION_SECONDS / RENEW_DEADLINE_SECONDS / RETRY_PERIOD_SECONDS', () => {
    assert.deepEqual(
      timingsFromEnv({ LEASE_DURATION_SECONDS: '3', RENEW_DEADLINE_SECONDS: '2', RETRY_PERIOD_SECONDS: '0.5' }),
      {
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 500,
      },
    );
    assert.deepEqual(timingsFromEnv({}), {});
    assert.throws(() => timingsFromEnv({ RETRY_PERIOD_SECONDS: 'soon' }), /RETRY_PERIOD_SECONDS/);
  });

  void it('jitters the retry period into [1, 1.2) x RetryPeriod', () => {
    assert.equal(
      jittered(2000, () => 0),
      2000,
    );
    assert.ok(Math.abs(jittered(2000, () => 0.999999) - 2400) < 0.01);
    for (let i = 0; i < 100; i += 1) {
      const value = jittered(500);
      assert.ok(value >= 500 && value < 600, `jittered value ${value}`);
    }
  });
});
