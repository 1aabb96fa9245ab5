import { Transform, type TransformCallback } from 'node:stream';

/**
 * The grammar of one field of a "plain" CSV record, checked byte by byte: the same grammar as
 * market-csv.ts's regular expressions, for files whose fields need no quoting.
 */
export type FastField = 'code' | 'date' | 'decimal' | 'unsigned';

/** Why a file left the fast path; the careful path reads it again and reports line by line. */
export class FastPathDeclined extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const MINUS = 0x2d;
const DOT = 0x2e;
/** longest whole number that is always below 2^53 (the careful path's Number.isSafeInteger) */
const MAX_UNSIGNED_DIGITS = 15;
/** a header longer than this is not one of ours */
const MAX_HEADER_BYTES = 4096;

const KIND_CODE = 0;
const KIND_DATE = 1;
const KIND_DECIMAL = 2;
const KIND_UNSIGNED = 3;
const KIND_OF: Record<FastField, number> = {
  code: KIND_CODE,
  date: KIND_DATE,
  decimal: KIND_DECIMAL,
  unsigned: KIND_UNSIGNED,
};

const CLASS_OTHER = 0;
const CLASS_DIGIT = 1;
const CLASS_UPPER = 2;
const CLASS_MINUS = 3;
const CLASS_DOT = 4;
const CLASS_COMMA = 5;
const CLASS_LF = 6;
const CLASS_CR = 7;
const BYTE_CLASS = new Uint8Array(256).fill(CLASS_OTHER);
BYTE_CLASS.fill(CLASS_DIGIT, 0x30, 0x3a);
BYTE_CLASS.fill(CLASS_UPPER, 0x41, 0x5b);
BYTE_CLASS[MINUS] = CLASS_MINUS;
BYTE_CLASS[DOT] = CLASS_DOT;
BYTE_CLASS[COMMA] = CLASS_COMMA;
BYTE_CLASS[LF] = CLASS_LF;
BYTE_CLASS[CR] = CLASS_CR;

/**
 * Passes a CSV file's data rows through unchanged (header removed) while checking, without
 * building a string or a number per field, that every record is plain: exactly `fields.length`
 * unquoted fields each matching its grammar, one line ending style, no empty line. The first
 * thing that is not plain fails the stream with FastPathDeclined: the caller then reads the file
 * the careful way, which accepts quoting and reports errors by line. The header is handed to
 * `checkHeader` (an error message declines too, so the careful path reports it).
 */
export class PlainCsvScanner extends Transform {
  private header: Buffer[] | undefined = [];
  private headerBytes = 0;
  private crlf = false;
  /** line number of the record being scanned (the header is line 1) */
  private line = 1;
  private field = 0;
  /** bytes seen in the current field */
  private length = 0;
  /** decimal: 0 integer digits, 1 after the dot */
  private part = 0;
  private digitsInPart = 0;
  /** a carriage return ended the last chunk: the next byte must be its line feed */
  private pendingLf = false;
  private readonly kinds: readonly number[];
  rows = 0;

  constructor(
    fields: readonly FastField[],
    private readonly checkHeader: (names: string[]) => string | undefined,
  ) {
    super();
    this.kinds = fields.map((f) => KIND_OF[f]);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      let start = 0;
      if (this.header) {
        const end = chunk.indexOf(LF);
        if (end < 0) {
          this.collectHeader(chunk);
          callback();
          return;
        }
        this.collectHeader(chunk.subarray(0, end + 1));
        this.acceptHeader();
        start = end + 1;
      }
      this.scan(chunk, start);
      if (start < chunk.length) {
        this.push(start === 0 ? chunk : chunk.subarray(start));
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.header) {
        this.acceptHeader();
      }
      if (this.pendingLf) {
        throw new FastPathDeclined(this.line, 'a carriage return without a line feed');
      }
      if (this.field > 0 || this.length > 0) {
        this.endRecord();
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private collectHeader(part: Buffer): void {
    this.headerBytes += part.length;
    if (this.headerBytes > MAX_HEADER_BYTES) {
      throw new FastPathDeclined(1, 'no header line');
    }
    this.header?.push(part);
  }

  private acceptHeader(): void {
    let text = Buffer.concat(this.header ?? []).toString('utf8');
    this.header = undefined;
    if (text.endsWith('\n')) {
      text = text.slice(0, -1);
    }
    if (text.endsWith('\r')) {
      this.crlf = true;
      text = text.slice(0, -1);
    }
    if (text.includes('"') || text.includes('\r')) {
      throw new FastPathDeclined(1, 'a quoted or unusual header');
    }
    const problem = this.checkHeader(text.replace(/^\uFEFF/, '').split(','));
    if (problem !== undefined) {
      throw new FastPathDeclined(1, problem);
    }
    this.line = 2;
  }

  /**
   * The hot loop: state in locals, one table lookup per byte, a function call only at the end of
   * a field (half a gigabyte of bars is about a second here).
   */
  private scan(bytes: Buffer, start: number): void {
    let from = start;
    if (this.pendingLf && from < bytes.length) {
      if (bytes[from] !== LF) {
        throw new FastPathDeclined(this.line - 1, 'a carriage return without a line feed');
      }
      this.pendingLf = false;
      from += 1;
    }
    const kinds = this.kinds;
    let kind = kinds[this.field] ?? KIND_CODE;
    let length = this.length;
    let part = this.part;
    let digits = this.digitsInPart;
    for (let i = from; i < bytes.length; i++) {
      const b = bytes[i];
      const cls = BYTE_CLASS[b];
      if (cls === CLASS_DIGIT) {
        length += 1;
        digits += 1;
        continue;
      }
      if (cls === CLASS_COMMA || cls === CLASS_LF || cls === CLASS_CR) {
        this.length = length;
        this.part = part;
        this.digitsInPart = digits;
        if (cls === CLASS_COMMA) {
          this.endField();
          this.field += 1;
          if (this.field >= kinds.length) {
            throw new FastPathDeclined(this.line, 'too many fields');
          }
        } else {
          this.lineEnd(cls === CLASS_CR, bytes, i);
          if (cls === CLASS_CR && !this.pendingLf) {
            i += 1; // its line feed
          }
        }
        kind = kinds[this.field] ?? KIND_CODE;
        length = 0;
        part = 0;
        digits = 0;
        continue;
      }
      // not a digit: only a code's capital letters, a date's dashes, a decimal's sign and point
      const at = length;
      length += 1;
      const ok =
        kind === KIND_CODE
          ? cls === CLASS_UPPER
          : kind === KIND_DATE
            ? cls === CLASS_MINUS && (at === 4 || at === 7)
            : kind === KIND_DECIMAL &&
              ((cls === CLASS_MINUS && at === 0) || (cls === CLASS_DOT && part === 0 && digits > 0));
      if (!ok) {
        throw new FastPathDeclined(this.line, `field ${this.field + 1} is not plain`);
      }
      if (cls === CLASS_DOT) {
        part = 1;
        digits = 0;
      }
    }
    this.length = length;
    this.part = part;
    this.digitsInPart = digits;
  }

  /** a line feed, or a carriage return that must be followed by one (in this chunk or the next) */
  private lineEnd(cr: boolean, bytes: Buffer, i: number): void {
    if (cr !== this.crlf) {
      throw new FastPathDeclined(this.line, 'line endings change');
    }
    if (cr && i + 1 < bytes.length && bytes[i + 1] !== LF) {
      throw new FastPathDeclined(this.line, 'a carriage return without a line feed');
    }
    this.pendingLf = cr && i + 1 >= bytes.length;
    this.endRecord();
  }

  private endField(): void {
    const kind = this.kinds[this.field];
    const length = this.length;
    const complete =
      kind === KIND_CODE
        ? length === 6
        : kind === KIND_DATE
          ? length === 10 && this.digitsInPart === 8
          : kind === KIND_UNSIGNED
            ? length > 0 && length === this.digitsInPart && length <= MAX_UNSIGNED_DIGITS
            : this.digitsInPart > 0;
    if (!complete) {
      throw new FastPathDeclined(this.line, `field ${this.field + 1} is not plain`);
    }
    this.length = 0;
    this.part = 0;
    this.digitsInPart = 0;
  }

  private endRecord(): void {
    if (this.field === 0 && this.length === 0) {
      throw new FastPathDeclined(this.line, 'an empty line');
    }
    this.endField();
    if (this.field !== this.kinds.length - 1) {
      throw new FastPathDeclined(this.line, 'too few fields');
    }
    this.field = 0;
    this.rows += 1;
    this.line += 1;
  }
}
