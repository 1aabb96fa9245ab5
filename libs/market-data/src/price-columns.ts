/**
 * The price columns of a snapshot (day-major: day d, stock s at d x stocks + s) on
 * SharedArrayBuffers with room for more days: worker threads read them without a copy, and a
 * daily increment appends its days in place instead of copying the whole history into fresh
 * memory.
 *
 * Views are always fixed-length, so a snapshot's arrays never change under it when a newer
 * version takes more of the buffer: the newer version's views are longer, over the same bytes,
 * and the bytes an older view covers are never written again.
 *
 * Not growable SharedArrayBuffers: V8 maps those itself, page by page, so a 2,500 x 10 y market
 * takes about 86,000 page faults to fill (over a second on these VMs). A fixed buffer comes from
 * the allocator (calloc), which with the services' glibc tunables (SERVICE_PROCESS_ENV) is backed
 * by transparent huge pages; the room for increments is never touched until used, so it costs
 * address space, not memory.
 */

/** Trading days of room each column reserves for increments (address space only): about two years. */
export const APPEND_HEADROOM_DAYS = 500;

const BYTES = Float64Array.BYTES_PER_ELEMENT;

/** Per buffer, the bytes its newest view covers (only that view may take more of the buffer). */
const inUse = new WeakMap<SharedArrayBuffer, number>();

/** A column of `days` x `stocks` values, NaN-filled when `fill` (the loaders write every cell they have). */
export function priceColumn(days: number, stocks: number, fill = true): Float64Array {
  const length = days * stocks;
  const buffer = new SharedArrayBuffer((days + APPEND_HEADROOM_DAYS) * stocks * BYTES);
  inUse.set(buffer, length * BYTES);
  const column = new Float64Array(buffer, 0, length);
  return fill ? column.fill(Number.NaN) : column;
}

/**
 * `column` extended to `days` days of `stocks`, its new cells NaN: the same buffer when this
 * column is the buffer's newest view and there is room (nothing another view covers is touched),
 * else a copy into a new column.
 */
export function extendPriceColumn(column: Float64Array, days: number, stocks: number): Float64Array {
  const length = days * stocks;
  if (length < column.length) {
    throw new RangeError(`cannot shrink a column from ${column.length} to ${length} values`);
  }
  const buffer = column.buffer;
  const isTip =
    buffer instanceof SharedArrayBuffer &&
    column.byteOffset === 0 &&
    inUse.get(buffer) === column.byteLength &&
    buffer.byteLength >= length * BYTES;
  if (isTip) {
    inUse.set(buffer, length * BYTES);
    return new Float64Array(buffer, 0, length).fill(Number.NaN, column.length);
  }
  const copy = priceColumn(days, stocks, false);
  copy.set(column);
  return copy.fill(Number.NaN, column.length);
}
