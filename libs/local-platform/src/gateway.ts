import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  STATUS_CODES,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ErrorBody } from '@stocklab/platform';
import { StatusCollector, type ReplicaHealth, type StatusOptions } from './status.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './status-page.js';

/**
 * The local stand-in for the Kubernetes Ingress and Services: routes by path prefix, balances
 * round-robin over the upstreams whose readiness probe last answered 200, streams bodies both
 * ways, and answers its own errors with the platform's stable error body.
 */

export interface RouteSpec {
  /** path prefix, matched on whole segments: `/api/auth` matches `/api/auth` and `/api/auth/login` */
  prefix: string;
  /** base URLs of the replicas, e.g. `http://127.0.0.1:3001`, optionally with a replica name */
  upstreams: UpstreamSpec[];
  /** the service's name on the status page (default: the prefix's last segment) */
  service?: string;
}

/** A replica's base URL, or the URL and the name the status page shows for it (default: host:port). */
export type UpstreamSpec = string | { url: string; name: string };

export interface GatewayOptions {
  routes: RouteSpec[];
  /** 0 (the default) picks a free port */
  port?: number;
  host?: string;
  readinessPath?: string;
  /** how often every upstream's readiness is polled */
  readinessIntervalMs?: number;
  /** a probe that takes longer than this counts as not ready */
  readinessTimeoutMs?: number;
  /** no response head from the upstream within this time: 504 */
  upstreamTimeoutMs?: number;
  /** where the status page (`/`, `/status`, `/gateway/status.json`) finds the scheduler, the market status and the queue */
  status?: StatusOptions;
  log?: (line: string) => void;
}

export interface UpstreamStatus {
  prefix: string;
  url: string;
  ready: boolean;
  /** ISO time of the last readiness probe, null before the first one finished */
  lastCheckAt: string | null;
  /** HTTP status of the last probe, or null when it got none */
  lastStatus: number | null;
  lastError: string | null;
}

interface Upstream {
  url: URL;
  base: string;
  name: string;
  ready: boolean;
  lastCheckAt: Date | null;
  lastStatus: number | null;
  lastError: string | null;
}

interface Route {
  prefix: string;
  service: string;
  upstreams: Upstream[];
  next: number;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Connection failures that happen before the upstream sent anything back. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, code };
}

function newUpstream(raw: string, name: string | undefined): Upstream {
  const url = new URL(raw);
  return {
    url,
    base: url.toString().replace(/\/+$/, ''),
    name: name ?? url.host,
    ready: false,
    lastCheckAt: null,
    lastStatus: null,
    lastError: null,
  };
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function matches(prefix: string, path: string): boolean {
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
}

function stripHopByHop(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ...headers };
  const listed = (headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  for (const name of [...HOP_BY_HOP, ...listed]) {
    delete out[name];
  }
  return out;
}

/**
 * How a request's body reaches an upstream. A small body with a declared length is read first,
 * so that it can be sent again to another replica; a large or chunked one is streamed once.
 */
type Payload = { kind: 'none' } | { kind: 'buffered'; data: Buffer } | { kind: 'stream' };

/** Bodies up to this size are held in memory so that a refused connection can be retried elsewhere. */
const REPLAYABLE_BODY_LIMIT = 64 * 1024;

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function connectFailure(error: unknown): boolean {
  const err = error as NodeJS.ErrnoException;
  return (err.code !== undefined && CONNECT_FAILURES.has(err.code)) || err.message === 'socket hang up';
}

export class Gateway {
  private readonly routes: Route[] = [];
  /** processes probed for the status page but not routed to (a worker that serves no API) */
  private readonly healthTargets: Array<{ service: string; upstream: Upstream }> = [];
  private readonly statusCollector: StatusCollector;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32 });
  private readonly server: Server;
  private readonly readinessPath: string;
  private readonly intervalMs: number;
  private readonly probeTimeoutMs: number;
  private readonly upstreamTimeoutMs: number;
  private readonly log: (line: string) => void;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;

  private constructor(options: GatewayOptions) {
    this.readinessPath = options.readinessPath ?? '/health/ready';
    this.intervalMs = options.readinessIntervalMs ?? 1000;
    this.probeTimeoutMs = options.readinessTimeoutMs ?? 800;
    this.upstreamTimeoutMs = options.upstreamTimeoutMs ?? 60000;
    this.log = options.log ?? (() => undefined);
    for (const route of options.routes) {
      this.setUpstreams(route.prefix, route.upstreams, false, route.service);
    }
    this.statusCollector = new StatusCollector(options.status ?? {}, {
      replicas: () => this.replicaHealth(),
      readyUpstreams: (prefix) =>
        this.routes
          .find((r) => r.prefix === normalizePrefix(prefix))
          ?.upstreams.filter((u) => u.ready)
          .map((u) => u.base) ?? [],
    });
    this.server = createServer((req, res) => this.handle(req, res));
  }

  /** Listens, runs a first readiness round, then keeps polling. */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const gateway = new Gateway(options);
    await new Promise<void>((resolve, reject) => {
      gateway.server.once('error', reject);
      gateway.server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        gateway.server.off('error', reject);
        resolve();
      });
    });
    await gateway.checkNow();
    gateway.schedulePoll();
    return gateway;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Adds a route or replaces its upstreams. Upstreams that stay keep their readiness; new ones
   * join the rotation after their first 200 (a probe starts at once).
   */
  setUpstreams(prefix: string, urls: UpstreamSpec[], probe = true, service?: string): void {
    const normalized = normalizePrefix(prefix);
    let route = this.routes.find((r) => r.prefix === normalized);
    if (service !== undefined && route) {
      route.service = service;
    }
    if (!route) {
      route = { prefix: normalized, service: service ?? (normalized.split('/').at(-1) || '/'), upstreams: [], next: 0 };
      this.routes.push(route);
      // Longest prefix first, so `/api/auth/admin` can go elsewhere than `/api/auth`.
      this.routes.sort((a, b) => b.prefix.length - a.prefix.length);
    }
    const previous = route.upstreams;
    route.upstreams = urls.map((spec) => {
      const fresh = typeof spec === 'string' ? newUpstream(spec, undefined) : newUpstream(spec.url, spec.name);
      const kept = previous.find((u) => u.base === fresh.base);
      if (kept && typeof spec !== 'string') {
        kept.name = spec.name;
      }
      return kept ?? fresh;
    });
    if (probe && !this.closed) {
      void this.checkNow();
    }
  }

  status(): UpstreamStatus[] {
    return this.routes.flatMap((route) =>
      route.upstreams.map((u) => ({
        prefix: route.prefix,
        url: u.base,
        ready: u.ready,
        lastCheckAt: u.lastCheckAt?.toISOString() ?? null,
        lastStatus: u.lastStatus,
        lastError: u.lastError,
      })),
    );
  }

  /**
   * A process the status page shows with its readiness (probed like the upstreams) but that no
   * route sends requests to, e.g. a queue worker. Adding a name again replaces its URL.
   */
  addHealthTarget(name: string, url: string, service = name, probe = true): void {
    const upstream = newUpstream(url, name);
    const existing = this.healthTargets.findIndex((t) => t.upstream.name === name);
    if (existing >= 0) {
      this.healthTargets.splice(existing, 1);
    }
    this.healthTargets.push({ service, upstream });
    if (probe && !this.closed) {
      void this.checkNow();
    }
  }

  /** Every replica of every route, then every health target, with its readiness: the status page's table. */
  replicaHealth(): ReplicaHealth[] {
    const row = (service: string, prefix: string | null, u: Upstream): ReplicaHealth => ({
      service,
      name: u.name,
      prefix,
      url: u.base,
      ready: u.ready,
      lastCheckAt: u.lastCheckAt?.toISOString() ?? null,
      lastStatus: u.lastStatus,
      lastError: u.lastError,
    });
    const routed = [...this.routes]
      .sort((a, b) => a.service.localeCompare(b.service))
      .flatMap((route) => route.upstreams.map((u) => row(route.service, route.prefix, u)));
    return [...routed, ...this.healthTargets.map((t) => row(t.service, null, t.upstream))];
  }

  /** What `GET /gateway/status.json` answers. */
  statusSnapshot(): ReturnType<StatusCollector['snapshot']> {
    return this.statusCollector.snapshot();
  }

  /** One readiness round over every upstream (the poller runs this every interval). */
  async checkNow(): Promise<void> {
    // A round in flight already covers the current upstreams unless they changed; chain after it.
    const previous = this.polling ?? Promise.resolve();
    const round = previous.then(() => this.probeAll());
    this.polling = round;
    try {
      await round;
    } finally {
      if (this.polling === round) {
        this.polling = undefined;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    clearTimeout(this.pollTimer);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      // Requests still streaming after a grace period are cut.
      setTimeout(() => this.server.closeAllConnections(), 5000).unref();
    });
    await this.polling?.catch(() => undefined);
    await this.statusCollector.close();
    this.agent.destroy();
  }

  private schedulePoll(): void {
    if (this.closed) {
      return;
    }
    this.pollTimer = setTimeout(() => {
      this.checkNow().then(
        () => this.schedulePoll(),
        () => this.schedulePoll(),
      );
    }, this.intervalMs);
    this.pollTimer.unref();
  }

  private async probeAll(): Promise<void> {
    const all = [...this.routes.flatMap((r) => r.upstreams), ...this.healthTargets.map((t) => t.upstream)];
    await Promise.all(all.map((u) => this.probe(u)));
  }

  private async probe(upstream: Upstream): Promise<void> {
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(new URL(this.readinessPath, upstream.url), {
        signal: AbortSignal.timeout(this.probeTimeoutMs),
        redirect: 'manual',
      });
      status = res.status;
      await res.body?.cancel();
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      error = cause?.code ?? (e instanceof Error ? e.name : 'error');
    }
    const ready = status === 200;
    if (ready !== upstream.ready) {
      this.log(`gateway: ${upstream.base} is ${ready ? 'ready' : `not ready (${status ?? error ?? 'no answer'})`}`);
    }
    upstream.ready = ready;
    upstream.lastCheckAt = new Date();
    upstream.lastStatus = status;
    upstream.lastError = error;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const supplied = req.headers['x-request-id'];
    const requestId = typeof supplied === 'string' && REQUEST_ID.test(supplied) ? supplied : randomUUID();
    let path: string;
    try {
      path = decodeURI(new URL(req.url ?? '/', 'http://gateway').pathname);
    } catch {
      this.fail(res, requestId, 400, 'BAD_REQUEST', 'Malformed URL');
      return;
    }

    if (path === '/gateway/upstreams') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        this.fail(res, requestId, 405, 'METHOD_NOT_ALLOWED', 'Only GET is supported here');
        return;
      }
      const payload = JSON.stringify({ upstreams: this.status() });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId });
      res.end(req.method === 'HEAD' ? undefined : payload);
      return;
    }

    if (path === '/gateway/status.json' || path === '/' || path === '/status') {
      this.serveStatus(req, res, requestId, path);
      return;
    }

    const route = this.routes.find((r) => matches(r.prefix, path));
    if (!route) {
      this.fail(res, requestId, 404, 'NO_ROUTE', `No service is routed at ${path}`);
      return;
    }
    const first = this.pick(route, undefined);
    if (!first) {
      // replicas drop out of readiness for moments (a dependency check late on a busy machine)
      this.fail(res, requestId, 503, 'NO_READY_UPSTREAM', `No replica of ${route.prefix} is ready`, {
        'retry-after': '1',
      });
      return;
    }
    void this.payloadOf(req).then(
      (payload) => this.forward(req, res, route, first, requestId, payload, true),
      () => res.destroy(),
    );
  }

  private payloadOf(req: IncomingMessage): Promise<Payload> {
    if (!hasBody(req)) {
      return Promise.resolve({ kind: 'none' });
    }
    const length = Number(req.headers['content-length']);
    if (req.headers['transfer-encoding'] !== undefined || !(length <= REPLAYABLE_BODY_LIMIT)) {
      return Promise.resolve({ kind: 'stream' });
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.once('end', () => resolve({ kind: 'buffered', data: Buffer.concat(chunks) }));
      req.once('error', reject);
      req.once('close', () => {
        if (!req.complete) {
          reject(new Error('the client went away mid-upload'));
        }
      });
    });
  }

  /**
   * Whether a failed attempt may be sent to another replica. A refused connection reached no
   * process, so any request whose body can be sent again is safe to retry (as nginx does with
   * `proxy_next_upstream error`); a connection that broke after the request went out may have
   * been acted on, so only idempotent methods are retried then.
   */
  private static mayRetry(req: IncomingMessage, payload: Payload, error: NodeJS.ErrnoException): boolean {
    if (payload.kind === 'stream') {
      return false;
    }
    return error.code === 'ECONNREFUSED' || IDEMPOTENT.has(req.method ?? 'GET');
  }

  /** The next ready upstream in rotation, other than `exclude`. */
  private pick(route: Route, exclude: Upstream | undefined): Upstream | undefined {
    const count = route.upstreams.length;
    for (let i = 0; i < count; i += 1) {
      const candidate = route.upstreams[(route.next + i) % count];
      if (candidate?.ready && candidate !== exclude) {
        route.next = (route.next + i + 1) % count;
        return candidate;
      }
    }
    return undefined;
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    upstream: Upstream,
    requestId: string,
    payload: Payload,
    retriesLeft: boolean,
  ): void {
    const headers = stripHopByHop(req.headers);
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? 'unknown';
    headers['x-forwarded-proto'] = 'http';
    if (req.headers.host !== undefined) {
      headers['x-forwarded-host'] = req.headers.host;
    }
    headers['x-request-id'] = requestId;
    const basePath = upstream.url.pathname.replace(/\/+$/, '');

    const proxyReq = httpRequest({
      agent: this.agent,
      protocol: upstream.url.protocol,
      hostname: upstream.url.hostname,
      port: upstream.url.port,
      method: req.method,
      path: `${basePath}${req.url ?? '/'}`,
      headers,
    });
    let responded = false;
    proxyReq.setTimeout(this.upstreamTimeoutMs, () => {
      if (!responded) {
        proxyReq.destroy(Object.assign(new Error('upstream timed out'), { code: 'GATEWAY_TIMEOUT' }));
      }
    });

    // The client went away before the response finished: stop the upstream work too.
    const onClientClose = (): void => {
      if (!res.writableFinished) {
        proxyReq.destroy();
      }
    };
    res.once('close', onClientClose);

    let upstreamComplete = false;
    proxyReq.once('response', (proxyRes) => {
      responded = true;
      const responseHeaders = stripHopByHop(proxyRes.headers);
      responseHeaders['x-request-id'] ??= requestId;
      res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, responseHeaders);
      proxyRes.pipe(res);
      proxyRes.on('error', () => res.destroy());
      proxyRes.once('end', () => {
        upstreamComplete = true;
        if (!req.complete) {
          // The upstream answered before the upload ended (a 401 or 413 before reading the
          // body): the answer is whole, so the rest of the upload is read and dropped here
          // instead of being written into a connection the upstream is closing.
          req.unpipe(proxyReq);
          req.resume();
          proxyReq.destroy();
        }
      });
      // The upstream died mid-body: the client must not mistake a cut body for a whole one.
      proxyRes.once('close', () => {
        if (!proxyRes.complete) {
          res.destroy();
        }
      });
    });

    let failed = false;
    proxyReq.on('error', (error: NodeJS.ErrnoException) => {
      if (failed) {
        return;
      }
      failed = true;
      res.off('close', onClientClose);
      if (upstreamComplete) {
        // The whole answer arrived (and is on its way to the client); the upload's end is moot.
        return;
      }
      if (responded || res.headersSent) {
        // Mid-stream: the status line is gone already; cutting the connection is all that is left.
        res.destroy();
        return;
      }
      if (res.destroyed) {
        return;
      }
      if (error.code === 'GATEWAY_TIMEOUT') {
        this.fail(res, requestId, 504, 'UPSTREAM_TIMEOUT', `${route.prefix} did not answer in time`);
        return;
      }
      if (!connectFailure(error)) {
        this.log(`gateway: ${req.method} ${req.url} to ${upstream.base} failed: ${error.message}`);
        this.fail(res, requestId, 502, 'UPSTREAM_UNAVAILABLE', `${route.prefix} could not be reached`);
        return;
      }
      if (error.code === 'ECONNREFUSED') {
        // Nothing listens: out of rotation until its readiness probe answers 200 again.
        upstream.ready = false;
        upstream.lastError = 'ECONNREFUSED';
      }
      const other = retriesLeft && Gateway.mayRetry(req, payload, error) ? this.pick(route, upstream) : undefined;
      if (other) {
        this.log(
          `gateway: ${req.method} ${req.url} to ${upstream.base} failed (${error.code ?? error.message}), retrying on ${other.base}`,
        );
        this.forward(req, res, route, other, requestId, payload, false);
        return;
      }
      this.fail(res, requestId, 502, 'UPSTREAM_UNAVAILABLE', `${route.prefix} could not be reached`);
    });

    if (payload.kind === 'none') {
      proxyReq.end();
    } else if (payload.kind === 'buffered') {
      // Read in full beforehand, which is what lets a retry send it again.
      proxyReq.end(payload.data);
    } else {
      // A client that aborts mid-upload takes the upstream request down with it.
      req.on('error', () => proxyReq.destroy());
      req.pipe(proxyReq);
    }
  }

  private serveStatus(req: IncomingMessage, res: ServerResponse, requestId: string, path: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.fail(res, requestId, 405, 'METHOD_NOT_ALLOWED', 'Only GET is supported here');
      return;
    }
    const head = req.method === 'HEAD';
    if (path !== '/gateway/status.json') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(STATUS_PAGE_HTML),
        'content-security-policy': STATUS_PAGE_CSP,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'x-request-id': requestId,
      });
      res.end(head ? undefined : STATUS_PAGE_HTML);
      return;
    }
    this.statusCollector.snapshot().then(
      (snapshot) => {
        const body = JSON.stringify(snapshot);
        res.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'cache-control': 'no-store',
          'x-request-id': requestId,
        });
        res.end(head ? undefined : body);
      },
      (error: unknown) => {
        this.log(`gateway: status snapshot failed: ${error instanceof Error ? error.message : String(error)}`);
        this.fail(res, requestId, 500, 'STATUS_FAILED', 'The status could not be gathered');
      },
    );
  }

  private fail(
    res: ServerResponse,
    requestId: string,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    const body = JSON.stringify(errorBody(status, code, message));
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
      ...headers,
    });
    res.end(body);
  }
}
