import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * A kube-apiserver stand-in for coordination.k8s.io/v1 Leases, faithful enough that the real
 * @kubernetes/client-node and the real kubectl (get, get -o yaml) work against it, with fault
 * injection per client so tests can partition one replica from the Lease API.
 *
 * Clients are told apart by the `X-Client-Id` request header (the Kubernetes elector sends its
 * identity there), or by the port they connect to (see `listenForClient`), so that processes
 * whose requests cannot be changed can still be partitioned through their own kubeconfig.
 */

export const CLIENT_ID_HEADER = 'x-client-id';

const GROUP = 'coordination.k8s.io';
const VERSION = 'v1';
const GROUP_VERSION = `${GROUP}/${VERSION}`;
const RESOURCE = 'leases';
/** Exactly six fractional digits, as Go's metav1.MicroTime marshals (RFC3339Micro). */
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export type FaultMode =
  /** the connection is destroyed without an answer (like a refused / reset connection) */
  | 'refuse'
  /** 503 ServiceUnavailable with a Status body */
  | 'unavailable'
  /** the request is never answered (the client's own timeout must fire) */
  | 'hang'
  /** answered normally after `delayMs` */
  | 'delay';

export interface Fault {
  mode: FaultMode;
  delayMs?: number;
}

export interface StoredLease {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
  };
  spec: Record<string, unknown>;
}

/** One successful write, stamped with this process's monotonic clock (performance.now()). */
export interface LeaseWrite {
  at: number;
  verb: 'create' | 'update' | 'delete';
  namespace: string;
  name: string;
  holderIdentity: string | undefined;
  resourceVersion: string;
  clientId: string;
}

export interface LeaseApiDoubleOptions {
  /** port of the main listener; 0 (default) lets the OS choose */
  port?: number;
  host?: string;
}

interface StatusError {
  code: number;
  reason: string;
  message: string;
  details?: Record<string, unknown>;
}

class HttpStatusError extends Error {
  constructor(readonly status: StatusError) {
    super(status.message);
  }
}

function leaseDetails(name: string): Record<string, unknown> {
  return { name, group: GROUP, kind: RESOURCE };
}

const notFound = (name: string): StatusError => ({
  code: 404,
  reason: 'NotFound',
  message: `${RESOURCE}.${GROUP} "${name}" not found`,
  details: leaseDetails(name),
});

function invalid(name: string, causes: { field: string; message: string }[]): StatusError {
  const text = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  return {
    code: 422,
    reason: 'Invalid',
    message: `Lease.${GROUP} "${name}" is invalid: ${text}`,
    details: {
      name,
      group: GROUP,
      kind: 'Lease',
      causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })),
    },
  };
}

function badRequest(message: string): StatusError {
  return { code: 400, reason: 'BadRequest', message };
}

/** kubectl's short human duration ("12s", "5m3s", "4h", "2d"). */
function humanAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) {
    return `${s}s`;
  }
  const m = Math.floor(s / 60);
  if (m < 10) {
    return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  }
  if (m < 180) {
    return `${m}m`;
  }
  const h = Math.floor(m / 60);
  if (h < 48) {
    return `${h}h`;
  }
  return `${Math.floor(h / 24)}d`;
}

function rfc3339Seconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class LeaseApiDouble {
  private readonly leases = new Map<string, StoredLease>();
  private readonly faults = new Map<string, Fault>();
  private readonly servers: Server[] = [];
  private readonly portClients = new Map<number, string>();
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private readonly requestCounts = new Map<string, number>();
  private resourceVersion = 1000;
  /** every successful write, oldest first */
  readonly writes: LeaseWrite[] = [];
  private currentClient = '';
  private mainPort = 0;

  private constructor(private readonly host: string) {}

  /** Starts the double; `url` is then the API server address for a kubeconfig. */
  static async start(options: LeaseApiDoubleOptions = {}): Promise<LeaseApiDouble> {
    const double = new LeaseApiDouble(options.host ?? '127.0.0.1');
    double.mainPort = await double.listen(options.port ?? 0);
    return double;
  }

  get port(): number {
    return this.mainPort;
  }

  get url(): string {
    return `http://${this.host}:${this.mainPort}`;
  }

  /**
   * An extra listener whose every request is attributed to `clientId`: give one replica a
   * kubeconfig pointing here and `injectFault(clientId, ...)` partitions exactly that replica.
   */
  async listenForClient(clientId: string, port = 0): Promise<string> {
    const bound = await this.listen(port);
    this.portClients.set(bound, clientId);
    return `http://${this.host}:${bound}`;
  }

  /**
   * Refuses, fails or delays the requests of one client. `client` is an exact client id, or a
   * prefix ending in `*` (e.g. `trading-1*` matches identities `trading-1-3f9a...`).
   */
  injectFault(client: string, fault: Fault): void {
    this.faults.set(client, fault);
  }

  /** Removes the fault of one client (or all of them); hanging requests are then dropped. */
  clearFault(client?: string): void {
    if (client === undefined) {
      this.faults.clear();
    } else {
      this.faults.delete(client);
    }
  }

  /** Requests seen per client id ('' for requests that identified no client). */
  requestsFrom(clientId: string): number {
    return this.requestCounts.get(clientId) ?? 0;
  }

  /** A copy of a stored Lease, as the server holds it. */
  getLease(namespace: string, name: string): StoredLease | undefined {
    const lease = this.leases.get(`${namespace}/${name}`);
    return lease ? structuredClone<StoredLease>(lease) : undefined;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) {
      res.destroy();
    }
    this.hanging.clear();
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
  }

  private record(verb: LeaseWrite['verb'], lease: StoredLease): void {
    this.writes.push({
      at: performance.now(),
      verb,
      namespace: lease.metadata.namespace,
      name: lease.metadata.name,
      holderIdentity: typeof lease.spec.holderIdentity === 'string' ? lease.spec.holderIdentity : undefined,
      resourceVersion: lease.metadata.resourceVersion,
      clientId: this.currentClient,
    });
  }

  private listen(port: number): Promise<number> {
    const server = createServer((req, res) => {
      void this.handle(req, res);
    });
    server.keepAliveTimeout = 5000;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  private clientOf(req: IncomingMessage): string {
    const header = req.headers[CLIENT_ID_HEADER];
    if (typeof header === 'string' && header !== '') {
      return header;
    }
    return this.portClients.get(req.socket.localPort ?? -1) ?? '';
  }

  private faultFor(clientId: string): Fault | undefined {
    if (clientId === '') {
      return undefined;
    }
    const exact = this.faults.get(clientId);
    if (exact) {
      return exact;
    }
    for (const [pattern, fault] of this.faults) {
      if (pattern.endsWith('*') && clientId.startsWith(pattern.slice(0, -1))) {
        return fault;
      }
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://double');
    if (url.pathname.startsWith('/_double/')) {
      this.control(req.method ?? 'GET', url.pathname, body, res);
      return;
    }
    const clientId = this.clientOf(req);
    this.requestCounts.set(clientId, (this.requestCounts.get(clientId) ?? 0) + 1);
    const fault = this.faultFor(clientId);
    if (fault) {
      switch (fault.mode) {
        case 'refuse':
          req.socket.destroy();
          return;
        case 'unavailable':
          sendStatus(res, {
            code: 503,
            reason: 'ServiceUnavailable',
            message: 'the server is currently unable to handle the request',
          });
          return;
        case 'hang':
          this.hanging.add(res);
          res.once('close', () => this.hanging.delete(res));
          return;
        case 'delay':
          await new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? 1000));
          if (res.destroyed) {
            return;
          }
          break;
      }
    }
    try {
      this.currentClient = clientId;
      this.route(req.method ?? 'GET', url, req.headers.accept ?? '', body, res);
    } catch (error) {
      if (error instanceof HttpStatusError) {
        sendStatus(res, error.status);
      } else {
        sendStatus(res, { code: 500, reason: 'InternalError', message: String(error) });
      }
    }
  }

  /** The control API of the CLI-started double: PUT/DELETE /_double/faults/{client}. */
  private control(method: string, path: string, body: string, res: ServerResponse): void {
    const match = /^\/_double\/faults(?:\/(.+))?$/.exec(path);
    if (!match) {
      sendJson(res, 404, { error: 'unknown control path' });
      return;
    }
    const client = match[1] === undefined ? undefined : decodeURIComponent(match[1]);
    if (method === 'DELETE') {
      this.clearFault(client);
      sendJson(res, 200, { cleared: client ?? '*' });
      return;
    }
    if (method === 'PUT' && client !== undefined) {
      const fault = JSON.parse(body || '{}') as Fault;
      if (!['refuse', 'unavailable', 'hang', 'delay'].includes(fault.mode)) {
        sendJson(res, 400, { error: 'mode must be refuse, unavailable, hang or delay' });
        return;
      }
      this.injectFault(client, fault);
      sendJson(res, 200, { client, fault });
      return;
    }
    sendJson(res, 405, { error: 'use PUT /_double/faults/{client} or DELETE' });
  }

  private route(method: string, url: URL, accept: string, body: string, res: ServerResponse): void {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (method === 'GET') {
      const discovery = this.discovery(path, url.host);
      if (discovery !== undefined) {
        sendJson(res, 200, discovery);
        return;
      }
    }
    if (path === `/apis/${GROUP_VERSION}/${RESOURCE}`) {
      if (method !== 'GET') {
        throw new HttpStatusError(methodNotAllowed(method));
      }
      this.list(undefined, url, accept, res);
      return;
    }
    const match = new RegExp(
      `^/apis/${GROUP_VERSION.replace('.', '\\.')}/namespaces/([^/]+)/${RESOURCE}(?:/([^/]+))?$`,
    ).exec(path);
    if (!match) {
      throw new HttpStatusError({
        code: 404,
        reason: 'NotFound',
        message: 'the server could not find the requested resource',
      });
    }
    const namespace = decodeURIComponent(match[1] ?? '');
    const name = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
    if (name === undefined) {
      switch (method) {
        case 'GET':
          this.list(namespace, url, accept, res);
          return;
        case 'POST':
          sendJson(res, 201, this.create(namespace, undefined, parseObject(body)));
          return;
        default:
          throw new HttpStatusError(methodNotAllowed(method));
      }
    }
    switch (method) {
      case 'GET': {
        const lease = this.leases.get(`${namespace}/${name}`);
        if (!lease) {
          throw new HttpStatusError(notFound(name));
        }
        if (wantsTable(accept)) {
          sendJson(res, 200, this.table([lease], url));
        } else {
          sendJson(res, 200, lease);
        }
        return;
      }
      case 'PUT': {
        const [status, lease] = this.replace(namespace, name, parseObject(body));
        sendJson(res, status, lease);
        return;
      }
      case 'DELETE': {
        const lease = this.leases.get(`${namespace}/${name}`);
        if (!lease) {
          throw new HttpStatusError(notFound(name));
        }
        this.leases.delete(`${namespace}/${name}`);
        this.resourceVersion += 1;
        this.record('delete', lease);
        sendJson(res, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { ...leaseDetails(name), uid: lease.metadata.uid },
        });
        return;
      }
      default:
        throw new HttpStatusError(methodNotAllowed(method));
    }
  }

  private discovery(path: string, host: string): unknown {
    switch (path) {
      case '/version':
        return {
          major: '1',
          minor: '32',
          gitVersion: 'v1.32.0-lease-api-double',
          gitCommit: '0000000000000000000000000000000000000000',
          gitTreeState: 'clean',
          buildDate: '2026-01-01T00:00:00Z',
          goVersion: 'go1.23.0',
          compiler: 'gc',
          platform: 'linux/amd64',
        };
      case '/api':
        return {
          kind: 'APIVersions',
          versions: ['v1'],
          serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: host }],
        };
      case '/api/v1':
        // kubectl treats an empty core group as a discovery failure (and logs it), so list one resource
        return {
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [
            {
              name: 'namespaces',
              singularName: 'namespace',
              namespaced: false,
              kind: 'Namespace',
              verbs: ['get', 'list'],
              shortNames: ['ns'],
            },
          ],
        };
      case '/apis':
        return { kind: 'APIGroupList', apiVersion: 'v1', groups: [apiGroup()] };
      case `/apis/${GROUP}`:
        return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup() };
      case `/apis/${GROUP_VERSION}`:
        return {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: GROUP_VERSION,
          resources: [
            {
              name: RESOURCE,
              singularName: 'lease',
              namespaced: true,
              kind: 'Lease',
              verbs: ['create', 'delete', 'get', 'list', 'update'],
              storageVersionHash: 'gqkMMb/YqFM=',
            },
          ],
        };
      default:
        return undefined;
    }
  }

  private list(namespace: string | undefined, url: URL, accept: string, res: ServerResponse): void {
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      throw new HttpStatusError(methodNotAllowed('WATCH'));
    }
    const items = [...this.leases.values()]
      .filter((lease) => namespace === undefined || lease.metadata.namespace === namespace)
      .sort((a, b) =>
        `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
      );
    if (wantsTable(accept)) {
      sendJson(res, 200, this.table(items, url));
      return;
    }
    sendJson(res, 200, {
      kind: 'LeaseList',
      apiVersion: GROUP_VERSION,
      metadata: { resourceVersion: String(this.resourceVersion) },
      items,
    });
  }

  /** A meta.k8s.io/v1 Table, as kube-apiserver answers `Accept: application/json;as=Table;...`. */
  private table(items: StoredLease[], url: URL): unknown {
    const includeObject = url.searchParams.get('includeObject') ?? 'PartialObjectMetadata';
    const now = Date.now();
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { resourceVersion: String(this.resourceVersion) },
      columnDefinitions: [
        {
          name: 'Name',
          type: 'string',
          format: 'name',
          description: 'Name must be unique within a namespace.',
          priority: 0,
        },
        {
          name: 'Holder',
          type: 'string',
          format: '',
          description: 'holderIdentity contains the identity of the holder of a current lease.',
          priority: 0,
        },
        {
          name: 'Age',
          type: 'string',
          format: '',
          description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
          priority: 0,
        },
      ],
      rows: items.map((lease) => ({
        cells: [
          lease.metadata.name,
          typeof lease.spec.holderIdentity === 'string' ? lease.spec.holderIdentity : '',
          humanAge(now - Date.parse(lease.metadata.creationTimestamp)),
        ],
        object:
          includeObject === 'None'
            ? undefined
            : includeObject === 'Object'
              ? lease
              : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: lease.metadata },
      })),
    };
  }

  private create(namespace: string, urlName: string | undefined, object: Record<string, unknown>): StoredLease {
    checkKind(object);
    const metadata = asRecord(object.metadata);
    const name = typeof metadata.name === 'string' ? metadata.name : (urlName ?? '');
    if (typeof metadata.namespace === 'string' && metadata.namespace !== namespace) {
      throw new HttpStatusError(
        badRequest('the namespace of the provided object does not match the namespace sent on the request'),
      );
    }
    if (name === '') {
      throw new HttpStatusError(
        invalid('', [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }]),
      );
    }
    if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
      throw new HttpStatusError(
        invalid(name, [
          {
            field: 'metadata.name',
            message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
          },
        ]),
      );
    }
    const spec = validateSpec(name, object.spec);
    const key = `${namespace}/${name}`;
    if (this.leases.has(key)) {
      throw new HttpStatusError({
        code: 409,
        reason: 'AlreadyExists',
        message: `${RESOURCE}.${GROUP} "${name}" already exists`,
        details: leaseDetails(name),
      });
    }
    this.resourceVersion += 1;
    const lease: StoredLease = {
      apiVersion: GROUP_VERSION,
      kind: 'Lease',
      metadata: {
        ...pickUserMetadata(metadata),
        name,
        namespace,
        uid: randomUUID(),
        resourceVersion: String(this.resourceVersion),
        creationTimestamp: rfc3339Seconds(new Date()),
      },
      spec,
    };
    this.leases.set(key, lease);
    this.record('create', lease);
    return lease;
  }

  private replace(namespace: string, name: string, object: Record<string, unknown>): [number, StoredLease] {
    checkKind(object);
    const metadata = asRecord(object.metadata);
    if (metadata.name !== undefined && metadata.name !== name) {
      throw new HttpStatusError(
        badRequest(
          `the name of the object (${JSON.stringify(metadata.name)}) does not match the name on the URL (${name})`,
        ),
      );
    }
    if (typeof metadata.namespace === 'string' && metadata.namespace !== namespace) {
      throw new HttpStatusError(
        badRequest('the namespace of the provided object does not match the namespace sent on the request'),
      );
    }
    const key = `${namespace}/${name}`;
    const existing = this.leases.get(key);
    const requested = typeof metadata.resourceVersion === 'string' ? metadata.resourceVersion : '';
    if (!existing) {
      if (requested !== '') {
        throw new HttpStatusError(notFound(name));
      }
      // leases allow create-on-update (leaseStrategy.AllowCreateOnUpdate is true)
      return [201, this.create(namespace, name, object)];
    }
    const spec = validateSpec(name, object.spec);
    if (requested === '') {
      throw new HttpStatusError(
        invalid(name, [
          { field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' },
        ]),
      );
    }
    if (requested !== existing.metadata.resourceVersion) {
      throw new HttpStatusError({
        code: 409,
        reason: 'Conflict',
        message: `Operation cannot be fulfilled on ${RESOURCE}.${GROUP} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        details: leaseDetails(name),
      });
    }
    this.resourceVersion += 1;
    const lease: StoredLease = {
      apiVersion: GROUP_VERSION,
      kind: 'Lease',
      metadata: {
        ...pickUserMetadata(metadata),
        name,
        namespace,
        uid: existing.metadata.uid,
        resourceVersion: String(this.resourceVersion),
        creationTimestamp: existing.metadata.creationTimestamp,
      },
      spec,
    };
    this.leases.set(key, lease);
    this.record('update', lease);
    return [200, lease];
  }
}

function apiGroup(): Record<string, unknown> {
  const version = { groupVersion: GROUP_VERSION, version: VERSION };
  return { name: GROUP, versions: [version], preferredVersion: version };
}

function methodNotAllowed(method: string): StatusError {
  return {
    code: 405,
    reason: 'MethodNotAllowed',
    message: `${method} is not supported on this resource by the Lease API double`,
  };
}

function wantsTable(accept: string): boolean {
  return accept
    .split(',')
    .map((part) => part.replace(/\s+/g, ''))
    .some((part) => part.includes('as=Table') && (part.includes('g=meta.k8s.io') || !part.includes('g=')));
}

function checkKind(object: Record<string, unknown>): void {
  if (object.kind !== undefined && object.kind !== 'Lease') {
    throw new HttpStatusError(
      badRequest(
        `Lease in version "v1" cannot be handled as a Lease: kind ${JSON.stringify(object.kind)} does not match Lease`,
      ),
    );
  }
  if (object.apiVersion !== undefined && object.apiVersion !== GROUP_VERSION) {
    throw new HttpStatusError(
      badRequest(
        `the API version in the data (${JSON.stringify(object.apiVersion)}) does not match the expected API version (${GROUP_VERSION})`,
      ),
    );
  }
}

function pickUserMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of ['labels', 'annotations', 'ownerReferences']) {
    if (metadata[key] !== undefined) {
      picked[key] = metadata[key];
    }
  }
  return picked;
}

/** Decodes and validates a LeaseSpec like the apiserver: 400 on undecodable values, 422 on invalid ones. */
function validateSpec(name: string, raw: unknown): Record<string, unknown> {
  const spec = asRecord(raw);
  const cannotHandle = (detail: string): HttpStatusError =>
    new HttpStatusError(badRequest(`Lease in version "v1" cannot be handled as a Lease: ${detail}`));
  for (const field of ['acquireTime', 'renewTime']) {
    const value = spec[field];
    if (value === undefined || value === null) {
      continue;
    }
    if (typeof value !== 'string' || !MICRO_TIME.test(value) || Number.isNaN(Date.parse(value))) {
      throw cannotHandle(
        `parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00": spec.${field} must be a MicroTime with exactly six fractional digits`,
      );
    }
  }
  if (spec.holderIdentity !== undefined && spec.holderIdentity !== null && typeof spec.holderIdentity !== 'string') {
    throw cannotHandle('json: cannot unmarshal into Go struct field LeaseSpec.spec.holderIdentity of type string');
  }
  const causes: { field: string; message: string }[] = [];
  for (const field of ['leaseDurationSeconds', 'leaseTransitions']) {
    const value = spec[field];
    if (value === undefined || value === null) {
      continue;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > 2 ** 31 - 1) {
      throw cannotHandle(`json: cannot unmarshal into Go struct field LeaseSpec.spec.${field} of type int32`);
    }
  }
  if (typeof spec.leaseDurationSeconds === 'number' && spec.leaseDurationSeconds <= 0) {
    causes.push({
      field: 'spec.leaseDurationSeconds',
      message: `Invalid value: ${spec.leaseDurationSeconds}: must be greater than 0`,
    });
  }
  if (typeof spec.leaseTransitions === 'number' && spec.leaseTransitions < 0) {
    causes.push({
      field: 'spec.leaseTransitions',
      message: `Invalid value: ${spec.leaseTransitions}: must be greater than or equal to 0`,
    });
  }
  if (causes.length > 0) {
    throw new HttpStatusError(invalid(name, causes));
  }
  const cleaned: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    if (value !== null && value !== undefined) {
      cleaned[key] = value;
    }
  }
  return cleaned;
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function parseObject(body: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error('not an object');
    }
    return parsed as Record<string, unknown>;
  } catch {
    throw new HttpStatusError(
      badRequest('Lease in version "v1" cannot be handled as a Lease: the body is not a JSON object'),
    );
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed || res.headersSent) {
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendStatus(res: ServerResponse, status: StatusError): void {
  sendJson(res, status.code, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: status.message,
    reason: status.reason,
    ...(status.details ? { details: status.details } : {}),
    code: status.code,
  });
}
