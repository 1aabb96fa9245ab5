import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, request } from '@stocklab/test-support';
import { Gateway, type GatewayOptions } from '../src/index.js';

interface Hit {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodySha256: string;
  bodyLength: number;
}

/** A replica stand-in: /health/ready answers `readyStatus`, everything else records the request and echoes. */
class FakeUpstream {
  readyStatus: number;
  readonly hits: Hit[] = [];
  /** per-path custom handlers */
  readonly handlers = new Map<string, Parameters<typeof createServer>[1]>();
  private server: Server | undefined;

  private constructor(
    readonly name: string,
    readonly port: number,
    readyStatus: number,
  ) {
    this.readyStatus = readyStatus;
  }

  static async start(name: string, readyStatus = 200): Promise<FakeUpstream> {
    const upstream = new FakeUpstream(name, await freePort(), readyStatus);
    upstream.server = createServer((req, res) => {
      const custom = upstream.handlers.get(req.url ?? '');
      if (custom) {
        custom(req, res);
        return;
      }
      if (req.url === '/health/ready') {
        res.writeHead(upstream.readyStatus, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: upstream.readyStatus === 200 ? 'ok' : 'error' }));
        return;
      }
      const hash = createHash('sha256');
      let length = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        length += chunk.length;
      });
      req.on('end', () => {
        upstream.hits.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          bodySha256: hash.digest('hex'),
          bodyLength: length,
        });
        res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': upstream.name });
        res.end(JSON.stringify({ servedBy: upstream.name, bodyLength: length }));
      });
    });
    await new Promise<void>((resolve) => upstream.server?.listen(upstream.port, '127.0.0.1', resolve));
    return upstream;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Closes the port: connections to it are refused from now on. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server?.listening) {
      return;
    }
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) {
    await cleanup();
  }
});

async function upstreams(...specs: Array<[string, number?]>): Promise<FakeUpstream[]> {
  const started = await Promise.all(specs.map(([name, status]) => FakeUpstream.start(name, status)));
  for (const u of started) {
    cleanups.push(() => u.close());
  }
  return started;
}

/** A gateway whose readiness only changes when the test calls checkNow(), unless told otherwise. */
async function gateway(routes: GatewayOptions['routes'], options: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const g = await Gateway.start({ routes, readinessIntervalMs: 3_600_000, ...options });
  cleanups.push(() => g.close());
  return g;
}

async function servedBy(url: string, method = 'GET', body?: unknown): Promise<string> {
  const res = await request<{ servedBy: string }>(method, url, { body });
  assert.equal(res.status, 200, `expected 200, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.servedBy;
}

describe(Gateway.name, () => {
  it('balances round-robin across two ready upstreams', async () => {
    const [a, b] = await upstreams(['a'], ['b']);
    const g = await gateway([{ prefix: '/api/x', upstreams: [a.url, b.url] }]);
    const order: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      order.push(await servedBy(`${g.url}/api/x/thing`));
    }
    assert.deepEqual(new Set(order), new Set(['a', 'b']));
    assert.notEqual(order[0], order[1]);
    assert.equal(order[0], order[2]);
    assert.equal(order[1], order[3]);
    assert.equal(a.hits[0]?.url, '/api/x/thing', 'the path reaches the upstream unchanged');
  });

  it('sends no traffic to an upstream whose readiness answers 503 until it answers 200', async () => {
    const [a, b] = await upstreams(['a'], ['b', 503]);
    const g = await gateway([{ prefix: '/api/x', upstreams: [a.url, b.url] }]);
    for (let i = 0; i < 4; i += 1) {
      assert.equal(await servedBy(`${g.url}/api/x/ping`), 'a');
    }
    assert.equal(b.hits.length, 0);
    const before = await request<{ upstreams: Array<{ url: string; ready: boolean; lastStatus: number }> }>(
      'GET',
      `${g.url}/gateway/upstreams`,
    );
    assert.deepEqual(
      before.body.upstreams.map((u) => [u.url, u.ready, u.lastStatus]),
      [
        [a.url, true, 200],
        [b.url, false, 503],
      ],
    );

    b.readyStatus = 200;
    await g.checkNow();
    const served: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      served.push(await servedBy(`${g.url}/api/x/ping`));
    }
    assert.equal(served.filter((s) => s === 'b').length, 2);
  });

  it('polls readiness by itself every second', async () => {
    const [a] = await upstreams(['a', 503]);
    const g = await gateway([{ prefix: '/api/x', upstreams: [a.url] }], { readinessIntervalMs: 1000 });
    assert.equal((await request('GET', `${g.url}/api/x/ping`)).status, 503);
    a.readyStatus = 200;
    const deadline = Date.now() + 10_000;
    while (!g.status()[0]?.ready && Date.now() < deadline) {
      await sleep(50);
    }
    assert.equal(await servedBy(`${g.url}/api/x/ping`), 'a');
  });

  it('retries a GET once on the other upstream when the chosen one refuses the connection', async () => {
    const [dead, live] = await upstreams(['dead'], ['live']);
    const g = await gateway([{ prefix: '/api/x', upstreams: [dead.url, live.url] }]);
    assert.equal(g.status().filter((u) => u.ready).length, 2);
    await dead.close();
    // Two consecutive picks over two ready upstreams: one of them is the dead one.
    assert.equal(await servedBy(`${g.url}/api/x/a`), 'live');
    assert.equal(await servedBy(`${g.url}/api/x/b`), 'live');
    assert.deepEqual(
      live.hits.map((h) => h.url),
      ['/api/x/a', '/api/x/b'],
    );
  });

  it('delivers an answer the upstream gives before reading the upload (a 401 to a 2 MB body) intact', async () => {
    const [up] = await upstreams(['early']);
    // like a guard refusing a request before any body parser reads it
    up?.handlers.set('/api/x/guarded', (_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ statusCode: 401, code: 'AUTH_REQUIRED' }));
    });
    const g = await gateway([{ prefix: '/api/x', upstreams: [up?.url] }]);
    const statuses: Array<number | string> = [];
    for (let i = 0; i < 20; i += 1) {
      try {
        const res = await fetch(`${g.url}/api/x/guarded`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: 'x'.repeat(2 * 1024 * 1024),
        });
        const body = (await res.json()) as { code: string };
        statuses.push(`${res.status} ${body.code}`);
      } catch (error) {
        statuses.push(String((error as { cause?: { code?: string } }).cause?.code ?? error));
      }
    }
    assert.deepEqual(statuses, Array(20).fill('401 AUTH_REQUIRED'));
  });

  it('retries a POST with a small body on another upstream when the chosen one refuses the connection', async () => {
    const [dead, live] = await upstreams(['dead'], ['live']);
    const g = await gateway([{ prefix: '/api/x', upstreams: [dead.url, live.url] }]);
    await dead.close();
    const body = { order: 'x'.repeat(10_000) };
    const sent = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    // Two consecutive picks over two ready upstreams: one of them is the refused one.
    assert.equal(await servedBy(`${g.url}/api/x/orders`, 'POST', body), 'live');
    assert.equal(await servedBy(`${g.url}/api/x/orders`, 'POST', body), 'live');
    assert.deepEqual(
      live.hits.map((h) => [h.method, h.bodySha256]),
      [
        ['POST', sent],
        ['POST', sent],
      ],
      'the retried POST arrived whole, once',
    );
  });

  it('does not retry a POST whose connection broke after it was sent (it may have been acted on)', async () => {
    const [dying, other] = await upstreams(['dying'], ['other']);
    let received = 0;
    dying?.handlers.set('/api/x/orders', (req, res) => {
      req.resume();
      req.once('end', () => {
        received += 1;
        res.socket?.destroy();
      });
    });

    const g = await gateway([{ prefix: '/api/x', upstreams: [dying.url, other.url] }]);
    const res = await request('POST', `${g.url}/api/x/orders`, { body: { n: 1 } });
    assert.equal(res.status, 502);
    assert.equal((res.body as { code: string }).code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(received, 1, 'the first upstream received it');
    assert.equal(other.hits.length, 0, 'and it was not sent again to the other');
  });

  it('retries a GET whose connection broke after it was sent, once, on another upstream', async () => {
    const [dying, live] = await upstreams(['dying'], ['live']);
    dying?.handlers.set('/api/x/thing', (_req, res) => res.socket?.destroy());
    const g = await gateway([{ prefix: '/api/x', upstreams: [dying.url, live.url] }]);
    assert.equal(await servedBy(`${g.url}/api/x/thing`), 'live');
  });

  it('does not retry a large (streamed) upload whose upstream refuses the connection', async () => {
    const [dead, live] = await upstreams(['dead'], ['live']);
    const g = await gateway([{ prefix: '/api/x', upstreams: [dead.url, live.url] }]);
    await dead.close();
    const statuses: number[] = [];
    for (let i = 0; i < 2; i += 1) {
      statuses.push((await request('POST', `${g.url}/api/x/files`, { rawBody: 'x'.repeat(200 * 1024) })).status);
    }
    assert.deepEqual(statuses.sort(), [200, 502]);
    assert.equal(live.hits.length, 1);
    assert.equal(live.hits[0]?.bodyLength, 200 * 1024);
  });

  it('retries a GET only once: a second refused connection gives 502', async () => {
    const [dead1, dead2, live] = await upstreams(['dead1'], ['dead2'], ['live']);
    const g = await gateway([{ prefix: '/api/x', upstreams: [dead1.url, dead2.url, live.url] }]);
    await dead1.close();
    await dead2.close();
    // A fresh rotation starts at the first upstream, and the retry takes the next ready one.
    const res = await request('GET', `${g.url}/api/x/ping`);
    assert.equal(res.status, 502);
    assert.equal((res.body as { code: string }).code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(live.hits.length, 0);
    // Both refused upstreams left the rotation until their readiness answers again.
    assert.equal(await servedBy(`${g.url}/api/x/ping`), 'live');
  });

  it('answers 503 NO_READY_UPSTREAM when no upstream is ready', async () => {
    const [a] = await upstreams(['a', 503]);
    const g = await gateway([{ prefix: '/api/x', upstreams: [a.url] }]);
    const res = await request('GET', `${g.url}/api/x/ping`);
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, {
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'No replica of /api/x is ready',
      code: 'NO_READY_UPSTREAM',
    });
    assert.equal(a.hits.length, 0);
  });

  it('answers 404 NO_ROUTE for a path outside every prefix, matching whole segments only', async () => {
    const [a] = await upstreams(['a']);
    const g = await gateway([{ prefix: '/api/x', upstreams: [a.url] }]);
    for (const path of ['/api/other', '/api/xy/ping']) {
      const res = await request('GET', `${g.url}${path}`);
      assert.equal(res.status, 404);
      assert.deepEqual(res.body, {
        statusCode: 404,
        error: 'Not Found',
        message: `No service is routed at ${path}`,
        code: 'NO_ROUTE',
      });
    }
    assert.equal(a.hits.length, 0);
  });

  it('delivers the request body, method, forwarding headers and the request id to the upstream', async () => {
    const [a] = await upstreams(['a']);
    const g = await gateway([{ prefix: '/api/x', upstreams: [a.url] }]);
    const body = JSON.stringify({ payload: 'x'.repeat(300_000), text: '가치투자' });
    const res = await request('PUT', `${g.url}/api/x/items/7?full=1`, {
      rawBody: body,
      headers: { 'x-request-id': 'req-123', 'x-forwarded-for': '6.6.6.6', 'x-custom': 'kept' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'req-123');
    assert.equal(res.headers.get('x-served-by'), 'a', 'response headers come back');
    const hit = a.hits[0];
    assert.ok(hit);
    assert.equal(hit.method, 'PUT');
    assert.equal(hit.url, '/api/x/items/7?full=1');
    assert.equal(hit.bodyLength, Buffer.byteLength(body));
    assert.equal(hit.bodySha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(hit.headers['x-request-id'], 'req-123');
    assert.equal(
      hit.headers['x-forwarded-for'],
      '127.0.0.1',
      'the gateway is the edge: a client-supplied value is replaced',
    );
    assert.equal(hit.headers['x-forwarded-proto'], 'http');
    assert.equal(hit.headers['x-forwarded-host'], `127.0.0.1:${g.port}`);
    assert.equal(hit.headers['x-custom'], 'kept');
  });

  it('generates a request id when the client sent none', async () => {
    const [a] = await upstreams(['a']);
    const g = await gateway([{ prefix: '/api/x', upstreams: [a.url] }]);
    const res = await request('GET', `${g.url}/api/x/ping`);
    const sent = a.hits[0]?.headers['x-request-id'];
    assert.match(String(sent), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(res.headers.get('x-request-id'), sent);
  });

  it('streams a response body to the client before the upstream has finished it', async () => {
    const [a] = await upstreams(['a']);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    a.handlers.set('/api/x/stream', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      // The rest only comes after the client has seen the first part: a buffering proxy deadlocks here.
      void released.then(() => res.end('second\n'));
    });
    const g = await gateway([{ prefix: '/api/x', upstreams: [a.url] }]);
    const text = await new Promise<string>((resolve, reject) => {
      httpRequest(`${g.url}/api/x/stream`, (res) => {
        let received = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          received += chunk;
          if (received.includes('first')) {
            release();
          }
        });
        res.on('end', () => resolve(received));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(text, 'first\nsecond\n');
  }, 15_000);

  it('streams a request body to the upstream before the client has finished sending it', async () => {
    const [a] = await upstreams(['a']);
    let gotFirst!: () => void;
    const firstArrived = new Promise<void>((resolve) => (gotFirst = resolve));
    a.handlers.set('/api/x/upload', (req, res) => {
      let received = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        received += chunk;
        if (received.includes('part1')) {
          gotFirst();
        }
      });
      req.on('end', () => res.end(received));
    });
    const g = await gateway([{ prefix: '/api/x', upstreams: [a.url] }]);
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(
        `${g.url}/api/x/upload`,
        { method: 'POST', headers: { 'content-type': 'text/plain' } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
      req.write('part1;');
      // The second part is only sent once the upstream holds the first: a buffering proxy deadlocks here.
      void firstArrived.then(() => req.end('part2'));
    });
    assert.equal(text, 'part1;part2');
  }, 15_000);

  it('routes to a prefix added at runtime once its upstream is ready', async () => {
    const [a, b] = await upstreams(['a'], ['b']);
    const g = await gateway([{ prefix: '/api/x', upstreams: [a.url] }]);
    assert.equal((await request('GET', `${g.url}/api/y/ping`)).status, 404);
    g.setUpstreams('/api/y', [b.url]);
    await g.checkNow();
    assert.equal(await servedBy(`${g.url}/api/y/ping`), 'b');
    assert.equal(await servedBy(`${g.url}/api/x/ping`), 'a');
  });
});
