import { isError } from './is-error.js';
/**
 * Recognises the errors a request meets when PostgreSQL or Redis is down or restarting, so that
 * the client gets a 503 it can retry (and readiness, not a 500, tells the story) instead of an
 * "internal error" for something that is not a bug.
 */

/** Node socket errors: the server is not there, or went away mid-conversation. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * PostgreSQL SQLSTATEs of an unavailable server: class 08 (connection exception), the
 * shutdown family of class 57 (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
 * now, during start-up or recovery) and 53300 (too many connections).
 */
function isUnavailableSqlState(code: string): boolean {
  return /^08[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '53300'].includes(code);
}

/** Messages of node-postgres and ioredis that carry no code. */
const MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'the database system is',
  'Connection is closed',
  "Stream isn't writeable",
  'Reached the max retries per request limit',
  // ioredis, when a command's commandTimeout expires: a stalled Redis is as unavailable as a gone one
  'Command timed out',
];

const RELEASED_RUNNER_ERRORS = new Set(['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError']);

export function isDependencyUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  // TypeORM wraps the driver's error (driverError), other libraries use `cause`: walk the chain.
  while (isError(current) && !seen.has(current)) {
    seen.add(current);
    const { code, severity } = current as { code?: unknown; severity?: unknown };
    // a SQLSTATE only from PostgreSQL (its errors carry a severity; TypeORM copies it onto its own),
    // not any library's code that happens to look like one
    if (
      typeof code === 'string' &&
      (SOCKET_CODES.has(code) || (typeof severity === 'string' && isUnavailableSqlState(code)))
    ) {
      return true;
    }
    if (
      // TypeORM releases a query runner whose connection broke (its 'error' listener does), so
      // the next statement of that transaction (often the COMMIT) fails with one of these instead.
      RELEASED_RUNNER_ERRORS.has(current.name) ||
      current.name === 'MaxRetriesPerRequestError' ||
      MESSAGES.some((m) => isError(current) && current.message.includes(m))
    ) {
      return true;
    }
    const next = current as { driverError?: unknown; cause?: unknown };
    current = next.driverError ?? next.cause;
  }
  return false;
}
