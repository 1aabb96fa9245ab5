import type { PriceColumn } from '@stocklab/strategy-engine';

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
 *
 * A column whose values are all exactly float32s (the prices of a snapshot: whole KRW) may be a
 * Float32Array (float32PriceColumn): half the memory, the same numbers. It stays one as it grows
 * unless a new day brings a value no float32 holds (widenPriceColumn).
 */

/** Trading days of room each column reserves for increments (address space only): about two years. */
export const APPEND_HEADROOM_DAYS = 500;

/** Per buffer, the bytes its newest view covers (only that view may take more of the buffer). */
const inUse = new WeakMap<SharedArrayBuffer, number>();

type ColumnType = Float64ArrayConstructor | Float32ArrayConstructor;

const viewOf = (type: ColumnType, buffer: SharedArrayBuffer, length: number): PriceColumn =>
  type === Float32Array ? new Float32Array(buffer, 0, length) : new Float64Array(buffer, 0, length);

function columnOf<T extends ColumnType>(type: T, days: number, stocks: number, fill: boolean): InstanceType<T> {
  const length = days * stocks;
  const buffer = new SharedArrayBuffer((days + APPEND_HEADROOM_DAYS) * stocks * type.BYTES_PER_ELEMENT);
  inUse.set(buffer, length * type.BYTES_PER_ELEMENT);
  const column = viewOf(type, buffer, length) as InstanceType<T>;
  return fill ? (column.fill(Number.NaN) as InstanceType<T>) : column;
}

/** A column of `days` x `stocks` values, NaN-filled when `fill` (the loaders write every cell they have). */
export function priceColumn(days: number, stocks: number, fill = true): Float64Array {
  return columnOf(Float64Array, days, stocks, fill);
}

/**
 * The same of float32s, in half the memory: for a column whose every value is exactly a float32
 * (exactlyFloat32), which a snapshot's header says of its open, high, low and close.
 */
export function float32PriceColumn(days: number, stocks: number, fill = true): Float32Array {
  return columnOf(Float32Array, days, stocks, fill);
}

/** Whether every value is NaN or exactly a float32 (a Float32Array holds it unchanged). */
export function exactlyFloat32(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === v && Math.fround(v) !== v) {
      return false;
    }
  }
  return true;
}

/**
 * `column` extended to `days` days of `stocks`, its new cells NaN, of the same type: the same
 * buffer when this column is the buffer's newest view and there is room (nothing another view
 * covers is touched), else a copy into a new column.
 */
export function extendPriceColumn<T extends PriceColumn>(column: T, days: number, stocks: number): T {
  const length = days * stocks;
  if (length < column.length) {
    throw new RangeError(`cannot shrink a column from ${column.length} to ${length} values`);
  }
  const type = column instanceof Float32Array ? Float32Array : Float64Array;
  const bytes = length * type.BYTES_PER_ELEMENT;
  const buffer = column.buffer;
  const isTip =
    buffer instanceof SharedArrayBuffer &&
    column.byteOffset === 0 &&
    inUse.get(buffer) === column.byteLength &&
    buffer.byteLength >= bytes;
  if (isTip) {
    inUse.set(buffer, bytes);
    return viewOf(type, buffer, length).fill(Number.NaN, column.length) as T;
  }
  const copy = columnOf(type, days, stocks, false);
  copy.set(column);
  return copy.fill(Number.NaN, column.length) as T;
}

/**
 * `column` extended to `days` days as float64s (a copy): for a float32 column that is to take a
 * value no float32 holds exactly.
 */
export function widenPriceColumn(column: PriceColumn, days: number, stocks: number): Float64Array {
  const copy = priceColumn(days, stocks, false);
  copy.set(column);
  return copy.fill(Number.NaN, column.length);
}
