import { DomainError } from '@stocklab/platform';

/** Opaque keyset-pagination cursors: base64url of a small JSON tuple. */
export function encodeCursor(values: (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** What a cursor looks like on the wire: base64url, of a size the server's tuples have. */
export const CURSOR_TEXT = /^[A-Za-z0-9_-]{1,200}$/;

/** What one position of a cursor may hold: exactly what the server put there, nothing else. */
export type CursorPart = 'day' | 'seq';

/** A calendar day yyyy-mm-dd that exists (PostgreSQL would refuse 2026-02-30 with an error). */
function isDay(value: unknown): value is string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    return false;
  }
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

/** A row number of an `integer` column: a whole number from 0 to 2^31 - 1. */
function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= 2_147_483_647;
}

const CHECKS: Record<CursorPart, (value: unknown) => boolean> = { day: isDay, seq: isSeq };

/**
 * The tuple of a cursor the server issued, checked part by part as strictly as a request body;
 * anything else (tampered, truncated, out of range) is a 400 INVALID_CURSOR, never a database error.
 */
export function decodeCursor<T extends (string | number)[]>(
  cursor: string | undefined,
  shape: CursorPart[],
): T | undefined {
  if (cursor === undefined) {
    return undefined;
  }
  try {
    if (!CURSOR_TEXT.test(cursor)) {
      throw new Error('not base64url');
    }
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    if (Array.isArray(values) && values.length === shape.length && values.every((v, i) => CHECKS[shape[i]](v))) {
      return values as T;
    }
  } catch {
    /* fall through */
  }
  throw new DomainError(400, 'INVALID_CURSOR', 'cursor is not a value returned as nextCursor');
}
