import { DomainError } from '@stocklab/platform';

/** Opaque keyset-pagination cursors: base64url of a small JSON tuple. */
export function encodeCursor(values: (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor<T extends (string | number)[]>(
  cursor: string | undefined,
  shape: ('string' | 'number')[],
): T | undefined {
  if (cursor === undefined) {
    return undefined;
  }
  try {
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    if (Array.isArray(values) && values.length === shape.length && values.every((v, i) => typeof v === shape[i])) {
      return values as T;
    }
  } catch {
    /* fall through */
  }
  throw new DomainError(400, 'INVALID_CURSOR', 'cursor is not valid');
}
