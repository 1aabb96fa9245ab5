import { DomainError } from '@stocklab/platform';
import { CURSOR_TEXT } from '../backtests/cursor.js';

/**
 * Keyset pagination on (created_at, id): the position after the last row of a page. created_at
 * keeps PostgreSQL's microseconds (a JS Date would cut them and skip or repeat rows).
 */
export interface CreatedAtCursor {
  createdAt: string;
  id: string;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A real instant (2026-02-30 or 24:00 would reach PostgreSQL as an error): its milliseconds round-trip. */
function isInstant(value: string): boolean {
  const ms = Date.parse(value);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 23) === value.slice(0, 23);
}

/** Opaque to clients: base64url of `[createdAt, id]`. */
export function encodeCreatedAtCursor(cursor: CreatedAtCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

export function decodeCreatedAtCursor(cursor: string): CreatedAtCursor {
  try {
    if (!CURSOR_TEXT.test(cursor)) {
      throw new Error('not base64url');
    }
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      TIMESTAMP.test(value[0]) &&
      UUID.test(value[1]) &&
      isInstant(value[0])
    ) {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {
    /* not base64url JSON: rejected below */
  }
  throw new DomainError(400, 'INVALID_CURSOR', 'cursor is not a value returned as nextCursor');
}

/** SQL for a row's created_at in the cursor's format. */
export const CREATED_AT_CURSOR_SQL = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
