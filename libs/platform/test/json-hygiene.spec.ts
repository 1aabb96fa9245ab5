import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { DomainError } from '../src/errors/domain-error.js';
import { checkJsonBody, MAX_JSON_DEPTH } from '../src/http/json-hygiene.js';

const check = (text: string): string | undefined => {
  try {
    checkJsonBody(Buffer.from(text, 'utf8'));
    return undefined;
  } catch (error) {
    assert.ok(error instanceof DomainError);
    assert.equal(error.status, 400);
    return error.code;
  }
};

describe('checkJsonBody', () => {
  it('refuses nesting deeper than the limit, and counts brackets inside strings as text', () => {
    assert.equal(check('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH)), undefined);
    assert.equal(check('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1)), 'BODY_TOO_DEEP');
    assert.equal(check('{"a":' + '['.repeat(45_000)), 'BODY_TOO_DEEP', 'the probe: 45,000 levels');
    assert.equal(check(JSON.stringify({ name: '['.repeat(10_000) })), undefined);
  });

  it('refuses NUL, other C0/C1 controls and bidi overrides, escaped or raw; keeps tab, newlines and ordinary text', () => {
    assert.equal(check(JSON.stringify({ email: 'a\u0000@b.c' })), 'INVALID_CHARACTERS');
    assert.equal(check('{"name":"a\\u0000"}'), 'INVALID_CHARACTERS');
    assert.equal(check('{"name":"a\\u001F"}'), 'INVALID_CHARACTERS');
    assert.equal(check('{"name":"a\\u007f"}'), 'INVALID_CHARACTERS');
    assert.equal(check(JSON.stringify({ name: 'a\u0085b' })), 'INVALID_CHARACTERS', 'C1, raw UTF-8');
    assert.equal(check(JSON.stringify({ name: 'evil\u202Egnp.exe' })), 'INVALID_CHARACTERS', 'RLO, raw');
    assert.equal(check('{"name":"\\u2066x"}'), 'INVALID_CHARACTERS', 'LRI, escaped');
    assert.equal(check('{"name":"a\\\\u0000"}'), undefined, 'an escaped backslash followed by text "u0000"');
    assert.equal(
      check(JSON.stringify({ name: 'tab\there\nline\r', hangul: '삼성전자', quote: 'say "hi" \\' })),
      undefined,
    );
  });

  it('refuses a lone surrogate and invalid UTF-8 (they became U+FFFD); keeps surrogate pairs and emoji', () => {
    assert.equal(check('{"name":"a\\uD800"}'), 'INVALID_CHARACTERS', 'a high half at the end of a string');
    assert.equal(check('{"name":"\\uD83Dx"}'), 'INVALID_CHARACTERS', 'a high half followed by text');
    assert.equal(check('{"name":"\\uDE00"}'), 'INVALID_CHARACTERS', 'a low half alone');
    assert.equal(check('{"name":"\\uD83D\\uD83D"}'), 'INVALID_CHARACTERS', 'two high halves');
    assert.equal(check('{"name":"\\uD83D\\uDE00 ok"}'), undefined, 'an escaped pair (😀)');
    assert.equal(check(JSON.stringify({ name: '😀 한국어' })), undefined, 'raw UTF-8 of a pair');
    const invalid = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]);
    assert.throws(
      () => checkJsonBody(invalid),
      (e: unknown) => e instanceof DomainError && e.code === 'INVALID_CHARACTERS',
    );
    assert.doesNotThrow(() => checkJsonBody(invalid, 'utf-16le'), 'another declared charset is the parser’s to read');
  });
});
