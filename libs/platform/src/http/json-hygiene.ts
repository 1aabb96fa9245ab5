import { isUtf8 } from 'node:buffer';
import { DomainError } from '../errors/domain-error.js';

/** Deeper JSON than any request of the platform needs (a strategy definition nests about 20). */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * A character no text field of the platform accepts: C0 controls other than tab, line feed and
 * carriage return (NUL above all: PostgreSQL refuses it in text), DEL, C1 controls, and the
 * bidirectional overrides and isolates that make a name read differently from what it is.
 */
export function isForbiddenCodePoint(cp: number): boolean {
  return (
    (cp < 0x20 && cp !== 0x09 && cp !== 0x0a && cp !== 0x0d) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069)
  );
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) {
    return b - 0x30;
  }
  const lower = b | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** The code unit of a `\uXXXX` escape starting at `at`, or -1 when there is none. */
function escapedCodeUnit(buf: Uint8Array, at: number): number {
  if (buf[at] !== BACKSLASH || buf[at + 1] !== 0x75 /* u */ || at + 5 >= buf.length) {
    return -1;
  }
  let cp = 0;
  for (let k = 2; k <= 5; k++) {
    const h = hexValue(buf[at + k]);
    if (h < 0) {
      return -1;
    }
    cp = cp * 16 + h;
  }
  return cp;
}

/**
 * Checks a JSON request body before it is parsed, in one pass over its bytes: nesting depth
 * (a 45,000-level body otherwise overflows the stack of the validation layer: a 500 for any
 * anonymous caller) and forbidden characters inside strings, escaped (\u0000) or raw (UTF-8);
 * a UTF-8 body must be valid UTF-8 and an escaped surrogate must be half of a pair (either
 * would otherwise be stored as U+FFFD, not as what was sent). Throws a 400 DomainError
 * (BODY_TOO_DEEP, INVALID_CHARACTERS); malformed JSON is left to the parser, which answers it.
 */
export function checkJsonBody(buf: Uint8Array, encoding = 'utf-8'): void {
  if (/^utf-?8$/i.test(encoding) && !isUtf8(buf)) {
    throw new DomainError(400, 'INVALID_CHARACTERS', 'the body is not valid UTF-8');
  }
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (!inString) {
      if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        if (++depth > MAX_JSON_DEPTH) {
          throw new DomainError(400, 'BODY_TOO_DEEP', `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
        }
      } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        depth--;
      } else if (b === QUOTE) {
        inString = true;
      }
      continue;
    }
    if (b === QUOTE) {
      inString = false;
    } else if (b === BACKSLASH) {
      const cp = escapedCodeUnit(buf, i);
      if (cp >= 0 && isForbiddenCodePoint(cp)) {
        throw forbidden(cp);
      }
      if (cp >= 0xdc00 && cp <= 0xdfff) {
        throw loneSurrogate(cp);
      }
      if (cp >= 0xd800 && cp <= 0xdbff) {
        const low = escapedCodeUnit(buf, i + 6);
        if (low < 0xdc00 || low > 0xdfff) {
          throw loneSurrogate(cp);
        }
        i += 6; // past the high half: the low half's backslash is skipped below, not read as an escape
      }
      i++; // the escaped character (a quote or a backslash does not end or start anything)
    } else if (b === 0xc2 && buf[i + 1] >= 0x80 && buf[i + 1] <= 0x9f) {
      throw forbidden(buf[i + 1]);
    } else if (b === 0xe2 && buf[i + 1] === 0x80 && buf[i + 2] >= 0xaa && buf[i + 2] <= 0xae) {
      throw forbidden(0x2000 + buf[i + 2] - 0x80);
    } else if (b === 0xe2 && buf[i + 1] === 0x81 && buf[i + 2] >= 0xa6 && buf[i + 2] <= 0xa9) {
      throw forbidden(0x2040 + buf[i + 2] - 0x80);
    }
  }
}

function loneSurrogate(cp: number): DomainError {
  const hex = cp.toString(16).toUpperCase();
  return new DomainError(400, 'INVALID_CHARACTERS', `text fields may not contain a lone surrogate (\\u${hex})`);
}

function forbidden(cp: number): DomainError {
  const hex = cp.toString(16).toUpperCase().padStart(4, '0');
  return new DomainError(
    400,
    'INVALID_CHARACTERS',
    `text fields may not contain the control or bidi character U+${hex}`,
  );
}
