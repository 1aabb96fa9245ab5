import { types } from 'node:util';

/**
 * Whether `value` is an Error, whichever realm made it. `instanceof Error` is false for an error
 * created by another realm's Error (Node's own modules seen from a vm context such as Jest's,
 * a worker's structured clone): the classification of an error must not depend on that.
 */
export function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}
