import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { BadRequestException, NotFoundException } from '@nestjs/common';
import pg from 'pg';
import { QueryFailedError, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { freePort } from '@stocklab/test-support';
import { DomainError, isError, renderError } from '../src/index.js';

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

  it('answers 503 DEPENDENCY_UNAVAILABLE when PostgreSQL cannot be reached, not a 500', async () => {
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/postgres` });
    const refused = await client.connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(isError(refused), 'connecting to a closed port fails');
    const rendered = renderError(refused);
    assert.deepEqual(rendered.body, {
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'A backing service is unavailable; try again shortly',
      code: 'DEPENDENCY_UNAVAILABLE',
    });
    assert.deepEqual(rendered.headers, { 'Retry-After': '2' });
    assert.equal(rendered.unexpected, false);
  });

  it('sees through TypeORM to a server that is shutting down (57P01) or starting (57P03)', () => {
    for (const code of ['57P01', '57P03', '08006']) {
      // as node-postgres raises it: the server's SQLSTATE with its severity
      const driverError = Object.assign(new Error('terminating connection'), { code, severity: 'FATAL' });
      const error = new QueryFailedError('SELECT 1', [], driverError);
      assert.equal(renderError(error).body.statusCode, 503, code);
    }
  });

  it('answers 503 to a transaction whose connection broke before its COMMIT (TypeORM released the runner)', () => {
    assert.equal(renderError(new QueryRunnerAlreadyReleasedError()).body.statusCode, 503);
    assert.equal(renderError(new QueryRunnerProviderAlreadyReleasedError()).body.statusCode, 503);
  });

  it('keeps a query that failed for another reason (a unique violation) a 500', () => {
    const error = new QueryFailedError('INSERT', [], Object.assign(new Error('duplicate key'), { code: '23505' }));
    const rendered = renderError(error);
    assert.equal(rendered.body.statusCode, 500);
    assert.equal(rendered.unexpected, true);
  });
});
