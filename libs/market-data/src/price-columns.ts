/**
 * The price columns of a snapshot (day-major: day d, stock s at d x stocks + s) on growable
 * SharedArrayBuffers: worker threads read them without a copy, and a daily increment appends its
 * days in place instead of copying the whole history into fresh memory.
 *
 * Views are always fixed-length, so a snapshot's arrays never change under it when a newer
 * version grows the buffer: the newer version's views are longer, over the same bytes, and the
 * bytes an older view covers are never written again.
 */

/** Trading days of room each column reserves for increments (virtual memory only): about two years. */
export const APPEND_HEADROOM_DAYS = 500;

const BYTES = Float64Array.BYTES_PER_ELEMENT;

/** A column of `days` x `stocks` values, NaN-filled when `fill` (the loaders write every cell they have). */
export function priceColumn(days: number, stocks: number, fill = true): Float64Array {
  const length = days * stocks;
  const buffer = new SharedArrayBuffer(length * BYTES, {
    maxByteLength: (days + APPEND_HEADROOM_DAYS) * stocks * BYTES,
  });
  const column = new Float64Array(buffer, 0, length);
  return fill ? column.fill(Number.NaN) : column;
}

/**
 * `column` extended to `days` days of `stocks`, its new cells NaN: the same buffer grown when
 * this column is the buffer's newest view and there is room (nothing another view covers is
 * touched), else a copy into a new column.
 */
export function extendPriceColumn(column: Float64Array, days: number, stocks: number): Float64Array {
  const length = days * stocks;
  if (length < column.length) {
    throw new RangeError(`cannot shrink a column from ${column.length} to ${length} values`);
  }
  const buffer = column.buffer;
  const isTip =
    buffer instanceof SharedArrayBuffer &&
    buffer.growable &&
    column.byteOffset === 0 &&
    buffer.byteLength === column.byteLength &&
    buffer.maxByteLength >= length * BYTES;
  if (isTip) {
    buffer.grow(length * BYTES);
    return new Float64Array(buffer, 0, length).fill(Number.NaN, column.length);
  }
  const copy = priceColumn(days, stocks, false);
  copy.set(column);
  return copy.fill(Number.NaN, column.length);
}
