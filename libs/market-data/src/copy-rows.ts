const TAB = 9;
const NEWLINE = 10;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;

/**
 * Resolves a stock code, given as the bytes of a COPY line, to its stock index without making a
 * string for codes of up to 6 bytes (KRX codes): a number built from the bytes is the key.
 */
export class CodeIndex {
  private readonly short = new Map<number, number>();
  private readonly long = new Map<string, number>();

  constructor(codes: readonly string[]) {
    codes.forEach((code, i) => {
      const bytes = Buffer.from(code, 'latin1');
      if (bytes.length <= 6 && bytes.toString('latin1') === code) {
        this.short.set(CodeIndex.key(bytes, 0, bytes.length), i);
      } else {
        this.long.set(code, i);
      }
    });
  }

  get size(): number {
    return this.short.size + this.long.size;
  }

  private static key(bytes: Uint8Array, start: number, end: number): number {
    let key = 0;
    for (let i = start; i < end; i++) {
      key = key * 256 + bytes[i];
    }
    // the length too: "\0A" and "A" differ
    return key * 8 + (end - start);
  }

  lookup(bytes: Buffer, start: number, end: number): number | undefined {
    const found = end - start <= 6 ? this.short.get(CodeIndex.key(bytes, start, end)) : undefined;
    if (found !== undefined || this.long.size === 0) {
      return found;
    }
    return this.long.get(bytes.toString('utf8', start, end));
  }
}

/** A field as a number: whole numbers from their digits, anything else (1.5, 1e+15, NaN) by Number(). */
function parseNumber(bytes: Buffer, start: number, end: number): number {
  if (start === end) {
    return Number.NaN;
  }
  let i = start;
  const negative = bytes[i] === MINUS;
  if (negative) {
    i += 1;
  }
  if (i === end || end - i > 15) {
    return Number(bytes.toString('latin1', start, end));
  }
  let value = 0;
  for (; i < end; i++) {
    const c = bytes[i];
    if (c < ZERO || c > NINE) {
      return Number(bytes.toString('latin1', start, end));
    }
    value = value * 10 + (c - ZERO);
  }
  return negative ? -value : value;
}

/**
 * Reads a `COPY ... TO STDOUT` (text format) stream whose lines are a stock code and then
 * numbers: calls `row` with the code's stock index (undefined for an unknown code) and the
 * numbers in `fields` (reused from line to line). Works on the bytes: a line costs no strings,
 * so loading millions of bars leaves almost no garbage behind.
 */
export async function forEachCopyRow(
  stream: NodeJS.ReadableStream,
  codes: CodeIndex,
  fields: Float64Array,
  row: (stock: number | undefined, fields: Float64Array) => void,
): Promise<void> {
  let rest: Buffer | undefined;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const bytes = rest ? Buffer.concat([rest, chunk]) : chunk;
    let lineStart = 0;
    for (;;) {
      const lineEnd = bytes.indexOf(NEWLINE, lineStart);
      if (lineEnd < 0) {
        break;
      }
      let fieldEnd = bytes.indexOf(TAB, lineStart);
      if (fieldEnd < 0 || fieldEnd > lineEnd) {
        fieldEnd = lineEnd;
      }
      const stock = codes.lookup(bytes, lineStart, fieldEnd);
      let start = fieldEnd + 1;
      for (let f = 0; f < fields.length; f++) {
        let end = start;
        while (end < lineEnd && bytes[end] !== TAB) {
          end++;
        }
        fields[f] = start <= lineEnd ? parseNumber(bytes, start, end) : Number.NaN;
        start = end + 1;
      }
      row(stock, fields);
      lineStart = lineEnd + 1;
    }
    rest = lineStart < bytes.length ? bytes.subarray(lineStart) : undefined;
  }
}
