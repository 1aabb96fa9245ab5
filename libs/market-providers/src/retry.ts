import { setTimeout as sleep } from 'node:timers/promises';
import { ProviderError, ProviderUnavailable } from './errors.js';
import { DAILY_LIMIT_CODE } from './http.js';

export interface RetryPolicy {
  /** attempts in all, the first included; default 5 */
  attempts?: number;
  /** the first back-off ceiling; default 500 ms */
  baseDelayMs?: number;
  /** the largest back-off ceiling; default 30 s */
  maxDelayMs?: number;
  /** [0, 1): Math.random unless a test fixes it */
  random?: () => number;
}

/**
 * The pause before retry number `retry` (1 for the first retry): "full jitter", a uniform draw
 * between 0 and an exponentially growing ceiling (base x 2^(retry-1), capped), so replicas that
 * failed together do not come back together.
 */
export function backoffDelay(retry: number, policy: RetryPolicy = {}): number {
  const base = policy.baseDelayMs ?? 500;
  const ceiling = Math.min(policy.maxDelayMs ?? 30_000, base * 2 ** Math.max(0, retry - 1));
  return Math.floor((policy.random ?? Math.random)() * ceiling);
}

/**
 * Runs `call` until it succeeds, retrying only transient failures (ProviderUnavailable: 5xx,
 * timeouts, connection errors, rate-limit answers) with back-off and jitter. A failure that is not
 * transient (refused key, bad request, malformed answer), or a spent daily quota, is raised at once; transient failures
 * that outlast the attempts are raised as the last ProviderUnavailable, with the attempts counted.
 * Every call a provider makes is a read, so sending it again is always safe.
 */
export async function withRetries<T>(
  call: (attempt: number) => Promise<T>,
  policy: RetryPolicy = {},
  signal?: AbortSignal,
): Promise<T> {
  const attempts = Math.max(1, policy.attempts ?? 5);
  for (let attempt = 1; ; attempt += 1) {
    signal?.throwIfAborted();
    try {
      return await call(attempt);
    } catch (error) {
      // a spent daily quota renews at midnight in Korea: no back-off of seconds gets there
      if (!(error instanceof ProviderError) || !error.transient || error.code === DAILY_LIMIT_CODE) {
        throw error;
      }
      if (attempt >= attempts) {
        const last = error as ProviderUnavailable;
        throw new ProviderUnavailable(
          last.provider,
          `${last.message.slice(last.provider.length + 2)} (gave up after ${attempt} attempts)`,
          last.code,
          last.rateLimited,
          attempt,
        );
      }
      await sleep(backoffDelay(attempt, policy), undefined, signal ? { signal } : undefined);
    }
  }
}
