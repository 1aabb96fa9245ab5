import { createHash } from 'node:crypto';
import { DomainError } from '../errors/domain-error.js';

/** Printable ASCII without spaces, as the IETF Idempotency-Key draft's examples and Stripe's keys. */
const KEY = /^[\x21-\x7e]{1,255}$/;

/** The header's value, checked; undefined when the client sent none. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) {
    return undefined;
  }
  if (typeof header !== 'string' || !KEY.test(header)) {
    throw new DomainError(
      400,
      'INVALID_IDEMPOTENCY_KEY',
      'Idempotency-Key must be 1 to 255 printable characters without spaces (a UUID, for example)',
    );
  }
  return header;
}

/** JSON with object keys in a fixed order, so that the same request always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What a retried request must match: the same key with another request is a client bug. */
export function requestHash(request: unknown): Buffer {
  return createHash('sha256').update(canonical(request)).digest();
}

export const idempotencyKeyReused = (): DomainError =>
  new DomainError(
    422,
    'IDEMPOTENCY_KEY_REUSED',
    'This Idempotency-Key was already used with a different request; use a new key for a new request',
  );
