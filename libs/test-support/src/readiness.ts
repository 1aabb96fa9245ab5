import { request, type HttpResult } from './http.js';
import { waitFor } from './wait.js';

/** One @nestjs/terminus indicator of /health/ready, with the schema check's fields. */
export interface ReadinessIndicator {
  status: string;
  message?: string;
  applied?: number;
  required?: number;
}

/** The body of /health/ready: `details` holds every check, `info` those up. */
export interface ReadinessBody {
  status?: string;
  info?: Record<string, ReadinessIndicator>;
  details: Record<string, ReadinessIndicator>;
}

/** GET <url>/health/ready, whatever it answers. */
export function readinessOf(url: string): Promise<HttpResult<ReadinessBody>> {
  return request<ReadinessBody>('GET', `${url}/health/ready`);
}

/** The message of a readiness check over its time limit (libs/platform's health controller). */
const CHECK_TIMED_OUT = /did not answer within \d+ ms/;

/** The names of the checks of a readiness answer that are not up. */
export function checksDown(body: ReadinessBody): string[] {
  return Object.entries(body.details)
    .filter(([, d]) => d.status !== 'up')
    .map(([name]) => name);
}

/**
 * Polls readiness until an answer has exactly the checks `down` down, each answer meanwhile a 503,
 * and returns it. Why not the first answer: each check has its own time limit (1 s), and on a
 * starved machine one over it is down for that answer only, saying so instead of what it found;
 * so an answer with a check over its limit does not count, unless the check is in `mayTimeOut`
 * (a dependency that is away may well never answer). A replica that is ready while it should not
 * be fails at once.
 */
export async function readinessWithDown(
  url: string,
  down: readonly string[],
  { mayTimeOut = [], timeoutMs = 15_000 }: { mayTimeOut?: readonly string[]; timeoutMs?: number } = {},
): Promise<HttpResult<ReadinessBody>> {
  const wanted = [...down].sort().join(',');
  const settled = (body: ReadinessBody): boolean =>
    checksDown(body).sort().join(',') === wanted &&
    !Object.entries(body.details).some(
      ([name, d]) => !mayTimeOut.includes(name) && CHECK_TIMED_OUT.test(d.message ?? ''),
    );
  let last: HttpResult<ReadinessBody> | undefined;
  const res = await waitFor(
    `readiness with only ${wanted} down`,
    async () => {
      last = await readinessOf(url);
      return last.status !== 503 || settled(last.body) ? last : undefined;
    },
    timeoutMs,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; last answer: ${last?.status} ${JSON.stringify(last?.body)}`);
  });
  if (res.status !== 503) {
    throw new Error(`readiness answered ${res.status} while ${wanted} should be down: ${JSON.stringify(res.body)}`);
  }
  return res;
}

/**
 * Polls readiness until it answers 200 and returns that answer: that a replica is (still, or
 * again) ready, which one check over its 1 s limit on a starved machine must not contradict.
 */
export async function readinessUp(url: string, timeoutMs = 15_000): Promise<HttpResult<ReadinessBody>> {
  return waitFor(
    'readiness to answer 200',
    async () => {
      const res = await readinessOf(url);
      return res.status === 200 ? res : undefined;
    },
    timeoutMs,
  );
}
