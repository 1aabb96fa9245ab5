/**
 * How one column of a market snapshot is stored: the most compact of a few exact encodings, each
 * restoring every value bit for bit (NaN included).
 *
 * Whole-number columns are stored as what a prediction from the columns decoded before them got
 * wrong: a close from the stock's previous close, an open from it too (the overnight gap), a high
 * from the larger of that day's open and close (the upper wick), a low from the smaller (the lower
 * wick), a trading value from volume x the day's mean price. The errors are small numbers, zigzag
 * coded (0, -1, 1, -2, ... as 0, 1, 2, 3, ...) and split into byte planes (each value's lowest byte,
 * then each value's second byte, ...), so the high planes are nearly all zeros and zstd stores
 * them in almost nothing.
 */

import type { PriceColumn } from '@stocklab/strategy-engine';

/** The stored form of a column (SectionInfo.encoding). */
export type Encoding = 'int32' | 'int32-planes' | 'uint53-planes' | 'times-close' | 'float64-planes';

/**
 * What an encoding subtracts from each value (SectionInfo.predictor), computed from values that
 * are decoded before it: the same column `stride` values earlier (the same stock's previous day),
 * or other columns stored before this one.
 */
export type Predictor = 'previous-day' | 'previous-close' | 'max-open-close' | 'min-open-close' | 'typical-value';

export const ENCODINGS: ReadonlySet<string> = new Set<Encoding>([
  'int32',
  'int32-planes',
  'uint53-planes',
  'times-close',
  'float64-planes',
]);

/** The columns each predictor reads, which must be stored (and decoded) before the column it predicts. */
const PREDICTOR_INPUTS: Record<Predictor, readonly string[]> = {
  'previous-day': [],
  'previous-close': ['close'],
  'max-open-close': ['open', 'close'],
  'min-open-close': ['open', 'close'],
  'typical-value': ['open', 'high', 'low', 'close', 'volume'],
};

/** The predictor each price column is stored against when its values allow it. */
export const PRICE_PREDICTORS: Readonly<Record<string, Predictor>> = {
  close: 'previous-day',
  open: 'previous-close',
  high: 'max-open-close',
  low: 'min-open-close',
  volume: 'previous-day',
  tradingValue: 'typical-value',
};

export interface ColumnLayout {
  encoding: Encoding;
  predictor?: Predictor;
  /**
   * 'float32': every value is a whole number within +-2^24 (or NaN), so a reader may hold the
   * column in a Float32Array, exactly and in half the memory. Only on int32-planes.
   */
  held?: 'float32';
}

export interface EncodedColumn extends ColumnLayout {
  /** the bytes to compress */
  raw: Uint8Array;
}

export class ColumnEncodingError extends Error {
  override readonly name = 'ColumnEncodingError';
}

/** int32 stands for NaN: no KRX price or volume comes near it. */
const NAN_INT = -0x80000000;
const TWO_32 = 4_294_967_296;
/** Whole numbers up to this magnitude are exactly float32s (a 24-bit significand). */
const FLOAT32_WHOLE_LIMIT = 2 ** 24;
/** A trading value's error from its prediction is stored when it is below this in magnitude (exact in float64). */
const MAX_RESIDUAL = 2 ** 51;

/** Bytes per value in `encoding`. */
export const widthOf = (encoding: Encoding): 4 | 8 => (encoding === 'int32' || encoding === 'int32-planes' ? 4 : 8);

const isPlanar = (encoding: Encoding): boolean => encoding.endsWith('-planes');

/** The int32 a predictor reads for a decoded value: NaN as NAN_INT, anything else wrapped to 32 bits. */
const intOf = (v: number): number => (v === v ? v | 0 : NAN_INT);

function fitsInt32(values: PriceColumn): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === v && (!Number.isInteger(v) || v <= NAN_INT || v > 0x7fffffff || Object.is(v, -0))) {
      return false;
    }
  }
  return true;
}

/** For a column that fits int32: every value NaN or within FLOAT32_WHOLE_LIMIT. */
function fitsFloat32(values: PriceColumn): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v > FLOAT32_WHOLE_LIMIT || v < -FLOAT32_WHOLE_LIMIT) {
      return false;
    }
  }
  return true;
}

/** Every value NaN or a whole number in [0, 2^53). */
function fitsUint53(values: PriceColumn): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === v && (!Number.isSafeInteger(v) || v < 0 || Object.is(v, -0))) {
      return false;
    }
  }
  return true;
}

const NONE = new Float64Array(0);

/** The columns an int32 prediction reads besides the column itself (NONE where it reads none). */
interface IntInputs {
  open: PriceColumn;
  close: PriceColumn;
}

/** The columns the trading value's prediction reads. */
type TypicalInputs = Record<'open' | 'high' | 'low' | 'close' | 'volume', PriceColumn>;

/**
 * The int32 prediction of value `i` of `own`, the column being coded (its values before `i` are
 * final on both sides), for the encoder. The decoder computes the same in one loop per predictor
 * (int32PlanesDecoder); the codec's round-trip tests hold the two together.
 */
function predictedInt(predictor: Predictor, i: number, own: PriceColumn, inputs: IntInputs, stride: number): number {
  switch (predictor) {
    case 'previous-day':
      return i >= stride ? intOf(own[i - stride]) : 0;
    case 'previous-close':
      return i >= stride ? intOf(inputs.close[i - stride]) : 0;
    case 'max-open-close':
      return Math.max(intOf(inputs.open[i]), intOf(inputs.close[i]));
    default:
      return Math.min(intOf(inputs.open[i]), intOf(inputs.close[i]));
  }
}

/** volume x the mean of the day's four prices, rounded; 0 when one is missing or the product is not a safe integer. */
function typicalValueAt(i: number, { open, high, low, close, volume }: TypicalInputs): number {
  const p = Math.round((volume[i] * (open[i] + high[i] + low[i] + close[i])) / 4);
  return p >= 0 && p <= Number.MAX_SAFE_INTEGER ? p : 0;
}

/** The columns a predictor reads, each of `length` values; throws ColumnEncodingError when one is missing. */
function inputsOf(
  predictor: Predictor,
  decoded: Record<string, PriceColumn>,
  length: number,
): Record<string, PriceColumn> {
  const inputs: Record<string, PriceColumn> = {};
  for (const name of PREDICTOR_INPUTS[predictor]) {
    const column = decoded[name];
    if (!column || column.length !== length) {
      throw new ColumnEncodingError(`the ${predictor} prediction needs the ${name} column before it`);
    }
    inputs[name] = column;
  }
  return inputs;
}

const intInputsOf = (predictor: Predictor, decoded: Record<string, PriceColumn>, length: number): IntInputs => ({
  open: NONE,
  close: NONE,
  ...inputsOf(predictor, decoded, length),
});

/** Each value's error from its int32 prediction, wrapped and zigzag coded. */
function int32Errors(values: PriceColumn, predictor: Predictor, inputs: IntInputs, stride: number): Int32Array {
  const codes = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const e = (intOf(values[i]) - predictedInt(predictor, i, values, inputs, stride)) | 0;
    codes[i] = (e << 1) ^ (e >> 31);
  }
  return codes;
}

/**
 * Errors from the trading value's prediction, zigzag coded plus one (0 is NaN), as a low and a
 * high 32-bit word each; undefined when an error is too large to be exact.
 */
function uint53Errors(values: PriceColumn, inputs: TypicalInputs): Uint32Array | undefined {
  const words = new Uint32Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let z = 0;
    if (v === v) {
      const r = v - typicalValueAt(i, inputs);
      if (!(Math.abs(r) < MAX_RESIDUAL)) {
        return undefined;
      }
      z = (r >= 0 ? 2 * r : -2 * r - 1) + 1;
    }
    const high = Math.floor(z / TWO_32);
    words[2 * i] = z - high * TWO_32;
    words[2 * i + 1] = high;
  }
  return words;
}

/**
 * A column that is the close times a per-day factor (market cap = close x listed shares, as KRX
 * computes it): the factor is stored instead, and it barely changes from day to day, so it
 * compresses to almost nothing. Undefined unless the product gives back every value bit for bit.
 */
function timesClose(values: PriceColumn, close: PriceColumn): Float64Array | undefined {
  const factor = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const c = close[i];
    if (v !== v) {
      factor[i] = Number.NaN;
      continue;
    }
    const f = v / c;
    if (!(c > 0) || !Object.is(f * c, v)) {
      return undefined;
    }
    factor[i] = f;
  }
  return factor;
}

/** The values' bytes (`width` each, little-endian), split into byte planes when `planar`. */
function bytesOf(view: ArrayBufferView, width: number, planar: boolean): Uint8Array {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  if (!planar) {
    return bytes;
  }
  const n = bytes.length / width;
  const planes = new Uint8Array(bytes.length);
  for (let plane = 0; plane < width; plane++) {
    for (let i = 0; i < n; i++) {
      planes[plane * n + i] = bytes[i * width + plane];
    }
  }
  return planes;
}

const column = (layout: ColumnLayout, view: ArrayBufferView): EncodedColumn => ({
  ...layout,
  raw: bytesOf(view, widthOf(layout.encoding), isPlanar(layout.encoding)),
});

/** Plain int32 (whole numbers within int32, no NaN): dates, indexes. */
export const int32Column = (values: Int32Array): EncodedColumn => column({ encoding: 'int32' }, values);

export const float64Column = (values: Float64Array): EncodedColumn => column({ encoding: 'float64-planes' }, values);

/**
 * The most compact exact encoding of a column. `predictor` is tried when given, against
 * `decoded`, the columns stored before this one; `close` allows the market cap's times-close;
 * `mayHoldAsFloat32` marks a whole-number column within +-2^24 as held as float32s (ColumnLayout.held).
 */
export function encodeNumberColumn(
  values: PriceColumn,
  stride: number,
  decoded: Record<string, PriceColumn>,
  predictor?: Predictor,
  { close, mayHoldAsFloat32 = false }: { close?: PriceColumn; mayHoldAsFloat32?: boolean } = {},
): EncodedColumn {
  if (fitsInt32(values)) {
    const intPredictor = predictor === undefined || predictor === 'typical-value' ? 'previous-day' : predictor;
    const inputs = intInputsOf(intPredictor, decoded, values.length);
    const held = mayHoldAsFloat32 && fitsFloat32(values) ? { held: 'float32' as const } : {};
    return column(
      { encoding: 'int32-planes', predictor: intPredictor, ...held },
      int32Errors(values, intPredictor, inputs, stride),
    );
  }
  const factor = close && timesClose(values, close);
  if (factor) {
    return column({ encoding: 'times-close' }, factor);
  }
  if (predictor === 'typical-value' && fitsUint53(values)) {
    const words = uint53Errors(values, inputsOf(predictor, decoded, values.length) as TypicalInputs);
    if (words) {
      return column({ encoding: 'uint53-planes', predictor }, words);
    }
  }
  // float64 bytes, whichever array held them
  return float64Column(values instanceof Float64Array ? values : Float64Array.from(values));
}

/** The 32-bit word of value `i` in four byte planes of `n` values each, from plane `first`. */
function wordAt(bytes: Uint8Array, n: number, i: number, first: number): number {
  const at = first * n + i;
  return bytes[at] | (bytes[at + n] << 8) | (bytes[at + 2 * n] << 16) | (bytes[at + 3 * n] << 24);
}

/** The error stored for value `i` of int32-planes (zigzag decoded). */
function errorAt(bytes: Uint8Array, n: number, i: number): number {
  const z = wordAt(bytes, n, i, 0);
  return (z >>> 1) ^ -(z & 1);
}

const setInt = (out: PriceColumn, i: number, v: number): void => {
  out[i] = v === NAN_INT ? Number.NaN : v;
};

/** After a column's loop: `over` is a value beyond the float32 column's limit, 0 when none was. */
function refuseOver(over: number): void {
  if (over !== 0) {
    throw new ColumnEncodingError(`${over} held as a float32 is not exact`);
  }
}

/** Decodes a column's raw bytes (decompressed, widthOf x its length: the caller checks) into its output. */
type RawDecoder = (bytes: Uint8Array) => void;

/**
 * int32-planes back to values, one loop per predictor: one switch inside the loop made V8
 * deoptimize it at each column's first new case. Each computes what predictedInt computes.
 */
function int32PlanesDecoder(
  predictor: Predictor,
  out: PriceColumn,
  { open, close }: IntInputs,
  stride: number,
): RawDecoder {
  const n = out.length;
  // a float32 column is only given values it holds exactly (checked: the header may lie); a value
  // beyond is noted in the loop and refused after it: a call in the loop doubled the loop's time
  const limit = out instanceof Float32Array ? FLOAT32_WHOLE_LIMIT : Number.POSITIVE_INFINITY;
  switch (predictor) {
    case 'previous-day':
      return (bytes) => {
        let over = 0;
        for (let i = 0; i < n; i++) {
          const v = (errorAt(bytes, n, i) + (i >= stride ? intOf(out[i - stride]) : 0)) | 0;
          if (v > limit || (v < -limit && v !== NAN_INT)) {
            over = v;
          }
          setInt(out, i, v);
        }
        refuseOver(over);
      };
    case 'previous-close':
      return (bytes) => {
        let over = 0;
        for (let i = 0; i < n; i++) {
          const v = (errorAt(bytes, n, i) + (i >= stride ? intOf(close[i - stride]) : 0)) | 0;
          if (v > limit || (v < -limit && v !== NAN_INT)) {
            over = v;
          }
          setInt(out, i, v);
        }
        refuseOver(over);
      };
    case 'max-open-close':
      return (bytes) => {
        let over = 0;
        for (let i = 0; i < n; i++) {
          const v = (errorAt(bytes, n, i) + Math.max(intOf(open[i]), intOf(close[i]))) | 0;
          if (v > limit || (v < -limit && v !== NAN_INT)) {
            over = v;
          }
          setInt(out, i, v);
        }
        refuseOver(over);
      };
    case 'min-open-close':
      return (bytes) => {
        let over = 0;
        for (let i = 0; i < n; i++) {
          const v = (errorAt(bytes, n, i) + Math.min(intOf(open[i]), intOf(close[i]))) | 0;
          if (v > limit || (v < -limit && v !== NAN_INT)) {
            over = v;
          }
          setInt(out, i, v);
        }
        refuseOver(over);
      };
    default:
      throw new ColumnEncodingError(`int32-planes with the ${String(predictor)} prediction`);
  }
}

/** `out` for an encoding whose bytes are float64s (the checks above keep float32 columns from it). */
function float64Out(out: PriceColumn): Float64Array {
  if (!(out instanceof Float64Array)) {
    throw new ColumnEncodingError('float64 values into a float32 column');
  }
  return out;
}

/**
 * A decoder of one column's raw bytes into `out`. `decoded` holds the columns decoded before this
 * one; a layout with an unknown predictor, or one whose inputs are not there, throws
 * ColumnEncodingError.
 */
export function columnDecoder(
  layout: ColumnLayout,
  out: PriceColumn,
  stride: number,
  decoded: Record<string, PriceColumn>,
): RawDecoder {
  const n = out.length;
  const { encoding, predictor, held } = layout;
  if (predictor !== undefined && !Object.hasOwn(PREDICTOR_INPUTS, predictor)) {
    throw new ColumnEncodingError(`unknown predictor ${String(predictor)}`);
  }
  if (held !== undefined && (held !== 'float32' || encoding !== 'int32-planes')) {
    throw new ColumnEncodingError(`${encoding} held as ${String(held)}`);
  }
  if (out instanceof Float32Array && held !== 'float32') {
    throw new ColumnEncodingError('a float32 column for values not all float32s');
  }
  switch (encoding) {
    case 'int32-planes':
      if (predictor === undefined) {
        throw new ColumnEncodingError('int32-planes without a prediction');
      }
      return int32PlanesDecoder(predictor, out, intInputsOf(predictor, decoded, n), stride);
    case 'uint53-planes': {
      if (predictor !== 'typical-value') {
        throw new ColumnEncodingError(`uint53-planes with the ${String(predictor)} prediction`);
      }
      const inputs = inputsOf(predictor, decoded, n) as TypicalInputs;
      return (bytes) => {
        for (let i = 0; i < n; i++) {
          const low = wordAt(bytes, n, i, 0) >>> 0;
          const coded = wordAt(bytes, n, i, 4) * TWO_32 + low;
          // coded - 1 is the zigzag code of the error: odd for a negative one, so coded is even
          out[i] =
            coded === 0 ? Number.NaN : typicalValueAt(i, inputs) + ((low & 1) === 1 ? (coded - 1) * 0.5 : -coded * 0.5);
        }
      };
    }
    case 'times-close': {
      const close = decoded.close;
      if (!close || close.length !== n) {
        throw new ColumnEncodingError('times-close needs the close column before it');
      }
      const factor = float64Out(out);
      return (bytes) => {
        // copied first: the decompressed bytes need not be 8-byte aligned
        new Uint8Array(factor.buffer, factor.byteOffset, n * 8).set(bytes);
        for (let i = 0; i < n; i++) {
          factor[i] = factor[i] * close[i];
        }
      };
    }
    case 'float64-planes': {
      const target = new Uint8Array(float64Out(out).buffer, out.byteOffset, n * 8);
      return (bytes) => {
        for (let plane = 0; plane < 8; plane++) {
          for (let i = 0; i < n; i++) {
            target[i * 8 + plane] = bytes[plane * n + i];
          }
        }
      };
    }
    case 'int32':
      return (bytes) => {
        // a small section may sit unaligned in Node's buffer pool: copied then
        const ints =
          bytes.byteOffset % 4 === 0
            ? new Int32Array(bytes.buffer, bytes.byteOffset, n)
            : new Int32Array(bytes.slice().buffer);
        for (let i = 0; i < n; i++) {
          out[i] = ints[i];
        }
      };
    default:
      throw new ColumnEncodingError(`unknown encoding ${String(encoding)}`);
  }
}
