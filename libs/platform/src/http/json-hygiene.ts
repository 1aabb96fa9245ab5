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

/**
 * Checks a JSON request body before it is parsed, in one pass over its bytes: nesting depth
 * (a 45,000-level body otherwise overflows the stack of the validation layer: a 500 for any
 * anonymous caller) and forbidden characters inside strings, escaped (\u0000) or raw (UTF-8).
 * Throws a 400 DomainError (BODY_TOO_DEEP, INVALID_CHARACTERS); malformed JSON is left to the
 * parser, which answers it.
 */
export function checkJsonBody(buf: Uint8Array): void {
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
      const next = buf[i + 1];
      if (next === 0x75 /* u */ && i + 5 < buf.length) {
        let cp = 0;
        for (let k = 2; k <= 5; k++) {
          const h = hexValue(buf[i + k]);
          cp = h < 0 ? -1 : cp * 16 + h;
          if (cp < 0) {
            break;
          }
        }
        if (cp >= 0 && isForbiddenCodePoint(cp)) {
          throw forbidden(cp);
        }
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

function forbidden(cp: number): DomainError {
  const hex = cp.toString(16).toUpperCase().padStart(4, '0');
  return new DomainError(
    400,
    'INVALID_CHARACTERS',
    `text fields may not contain the control or bidi character U+${hex}`,
  );
}
