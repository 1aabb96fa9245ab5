import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { DomainError } from '@stocklab/platform';
import { BacktestClient } from '../src/auto-strategies/backtest-client.js';
import type { TradingConfig } from '../src/config.js';

/** A backtest service that answers each strategy id with the status the id names. */
function upstream(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const id = req.url?.split('/').pop() ?? '';
    if (id === 'draining') {
      res.writeHead(503, { 'retry-after': '7', 'content-type': 'application/json' });
      res.end(JSON.stringify({ statusCode: 503, code: 'REVOCATION_UNAVAILABLE' }));
    } else if (id === 'broken') {
      res.writeHead(500).end('{}');
    } else if (id === 'missing') {
      res.writeHead(404).end('{}');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, name: 'n', definition: {}, schemaVersion: 1, version: 3 }));
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${address.port}` });
    }),
  );
}

async function failure(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof DomainError, String(error));
  return error;
}

describe('backtest client: what the trading API says when the backtest service does not answer as asked', () => {
  let server: Server;
  let client: BacktestClient;

  beforeAll(async () => {
    const up = await upstream();
    server = up.server;
    client = new BacktestClient({ BACKTEST_URL: up.url, BACKTEST_TIMEOUT_MS: 2000 } as TradingConfig);
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads a strategy', async () => {
    const strategy = await client.getStrategy('s1', 'token');
    assert.equal(strategy.id, 's1');
    assert.equal(strategy.version, 3);
  });

  it("passes a 503 on as 503 BACKTEST_UNAVAILABLE with the upstream's Retry-After (a client retries)", async () => {
    const error = await failure(client.getStrategy('draining', 'token'));
    assert.equal(error.status, 503);
    assert.equal(error.code, 'BACKTEST_UNAVAILABLE');
    assert.deepEqual(error.headers, { 'Retry-After': '7' });
  });

  it('answers 502 BACKTEST_ERROR to a 500 and 404 STRATEGY_NOT_FOUND to a 404', async () => {
    const broken = await failure(client.getStrategy('broken', 'token'));
    assert.equal(broken.status, 502);
    const missing = await failure(client.getStrategy('missing', 'token'));
    assert.equal(missing.status, 404);
  });
});
