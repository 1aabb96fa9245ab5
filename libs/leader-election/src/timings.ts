/** The three durations of client-go's leader election, in milliseconds. */
export interface ElectionTimings {
  /** How long a follower waits, from its own observation of the last change, before taking over. */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it steps down. */
  renewDeadlineMs: number;
  /** How often candidates try to acquire and the leader renews. */
  retryPeriodMs: number;
}

export const DEFAULT_TIMINGS: Readonly<ElectionTimings> = Object.freeze({
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
});

/** client-go's JitterFactor: candidates wait RetryPeriod x [1, 1.2). */
export const JITTER_FACTOR = 1.2;

export class InvalidElectionTimingsError extends Error {
  override readonly name = 'InvalidElectionTimingsError';
}

/**
 * Fills in client-go's defaults and checks LeaseDuration > RenewDeadline > 1.2 x RetryPeriod,
 * throwing a clear error otherwise (the same rule client-go's NewLeaderElector enforces).
 */
export function resolveTimings(partial: Partial<ElectionTimings> = {}): ElectionTimings {
  const timings: ElectionTimings = {
    leaseDurationMs: partial.leaseDurationMs ?? DEFAULT_TIMINGS.leaseDurationMs,
    renewDeadlineMs: partial.renewDeadlineMs ?? DEFAULT_TIMINGS.renewDeadlineMs,
    retryPeriodMs: partial.retryPeriodMs ?? DEFAULT_TIMINGS.retryPeriodMs,
  };
  for (const [name, value] of Object.entries(timings)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new InvalidElectionTimingsError(
        `leader election: ${name} must be a positive number of milliseconds, got ${value}`,
      );
    }
  }
  if (timings.leaseDurationMs % 1000 !== 0) {
    throw new InvalidElectionTimingsError(
      `leader election: leaseDurationMs must be a whole number of seconds (the Lease stores leaseDurationSeconds), got ${timings.leaseDurationMs}`,
    );
  }
  if (!(timings.leaseDurationMs > timings.renewDeadlineMs)) {
    throw new InvalidElectionTimingsError(
      `leader election: leaseDuration (${timings.leaseDurationMs} ms) must be greater than renewDeadline (${timings.renewDeadlineMs} ms)`,
    );
  }
  if (!(timings.renewDeadlineMs > JITTER_FACTOR * timings.retryPeriodMs)) {
    throw new InvalidElectionTimingsError(
      `leader election: renewDeadline (${timings.renewDeadlineMs} ms) must be greater than ${JITTER_FACTOR} x retryPeriod (${timings.retryPeriodMs} ms)`,
    );
  }
  return timings;
}

/** RetryPeriod stretched by a random factor in [1, 1.2), like client-go's wait.JitterUntil. */
export function jittered(retryPeriodMs: number, random: () => number = Math.random): number {
  return retryPeriodMs * (1 + random() * (JITTER_FACTOR - 1));
}

/** Timings from LEASE_DURATION / RENEW_DEADLINE / RETRY_PERIOD (seconds, decimals allowed). */
export function timingsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<ElectionTimings> {
  const seconds = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') {
      return undefined;
    }
    const value = Number(raw);
    if (!Number.isFinite(value)) {
      throw new InvalidElectionTimingsError(`leader election: ${name} must be a number of seconds, got "${raw}"`);
    }
    return Math.round(value * 1000);
  };
  const result: Partial<ElectionTimings> = {};
  const lease = seconds('LEASE_DURATION_SECONDS');
  const renew = seconds('RENEW_DEADLINE_SECONDS');
  const retry = seconds('RETRY_PERIOD_SECONDS');
  if (lease !== undefined) {
    result.leaseDurationMs = lease;
  }
  if (renew !== undefined) {
    result.renewDeadlineMs = renew;
  }
  if (retry !== undefined) {
    result.retryPeriodMs = retry;
  }
  return result;
}
