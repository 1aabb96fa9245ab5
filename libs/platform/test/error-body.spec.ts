import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadRequestException, NotFoundException } from '@nestjs/common';
import { DomainError, renderError } from '../src/index.js';

describe('renderError', () => {
  it('keeps a domain error’s status, code, message and headers', () => {
    const rendered = renderError(new DomainError(429, 'SLOW_DOWN', 'wait', { 'Retry-After': '5' }));
    assert.deepEqual(rendered.body, {
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'wait',
      code: 'SLOW_DOWN',
    });
    assert.deepEqual(rendered.headers, { 'Retry-After': '5' });
    assert.equal(rendered.unexpected, false);
  });

  it('joins validation messages into one string', () => {
    const rendered = renderError(
      new BadRequestException({ message: ['a must be x', 'b must be y'], error: 'Bad Request', statusCode: 400 }),
    );
    assert.deepEqual(rendered.body, {
      statusCode: 400,
      error: 'Bad Request',
      message: 'a must be x; b must be y',
      code: 'VALIDATION_FAILED',
    });
  });

  it('maps Nest exceptions to a code by status', () => {
    assert.equal(renderError(new NotFoundException('Cannot GET /x')).body.code, 'NOT_FOUND');
  });

  it('hides everything about an unexpected error', () => {
    const error = new Error('duplicate key value violates unique constraint "users_pkey" at /srv/app.js:1');
    const rendered = renderError(error);
    assert.deepEqual(rendered.body, {
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Internal server error',
      code: 'INTERNAL_ERROR',
    });
    assert.equal(rendered.unexpected, true);
  });

  it('unwraps the body-parser errors Nest wraps in HttpExceptions', () => {
    const parse = Object.assign(new SyntaxError('Unexpected token } in JSON at position 1'), {
      type: 'entity.parse.failed',
      status: 400,
      expose: true,
    });
    const rendered = renderError(new BadRequestException(parse.message, { cause: parse }));
    assert.deepEqual(rendered.body, {
      statusCode: 400,
      error: 'Bad Request',
      message: 'The request body is not valid JSON',
      code: 'INVALID_JSON',
    });
  });

  it('maps body-parser errors to 400 and 413', () => {
    const parse = Object.assign(new SyntaxError('Unexpected token'), {
      type: 'entity.parse.failed',
      status: 400,
      expose: true,
    });
    const large = Object.assign(new Error('request entity too large'), {
      type: 'entity.too.large',
      status: 413,
      expose: true,
    });
    assert.equal(renderError(parse).body.code, 'INVALID_JSON');
    assert.equal(renderError(large).body.statusCode, 413);
  });
});
