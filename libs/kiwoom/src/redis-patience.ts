import { setTimeout as sleep } from 'node:timers/promises';
import { ReplyError } from 'ioredis';

/**
 * How long a step before the broker call keeps trying while Redis does not answer. The platform's
 * Redis clients fail a command after one second (so that the JWT guard answers 503 at once); a
 * stalled event loop, a Redis failover or a dropped connection lasts longer than that, and the
 * 09:00 execution must not fail the day's orders for it: nothing has been sent yet, so trying again
 * is safe, for as long as the broker call's own timeout would have waited.
 */
export const REDIS_PATIENCE_MS = 10_000;

const FIRST_PAUSE_MS = 50;
const LONGEST_PAUSE_MS = 1000;

/**
 * Runs `step` (Redis commands only, safe to repeat) until it completes, trying again after a
 * command timeout or a lost connection for up to `patienceMs`. An answer of Redis itself (a
 * ReplyError: a script's error, a wrong type) is not transient and is thrown at once, as is the
 * last error once patience runs out.
 */
export async function patiently<T>(
  step: () => Promise<T>,
  patienceMs: number = REDIS_PATIENCE_MS,
  signal?: AbortSignal,
): Promise<T> {
  const giveUpAt = Date.now() + patienceMs;
  let pause = FIRST_PAUSE_MS;
  for (;;) {
    signal?.throwIfAborted();
    try {
      return await step();
    } catch (error) {
      if (error instanceof ReplyError || Date.now() + pause > giveUpAt) {
        throw error;
      }
    }
    await sleep(pause, undefined, { signal });
    pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
  }
}
