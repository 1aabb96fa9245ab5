import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * How a cut proxy behaves:
 * - `refuse`: open connections are reset and every new one is reset at once (a server that went
 *   away, a firewall rejecting);
 * - `hang`: open connections stop carrying bytes and new ones are accepted but never answered (a
 *   network partition that drops packets: only the client's own timeouts notice).
 */
export type CutMode = 'refuse' | 'hang';

/** A TCP forwarder in this process that a test can cut and restore, to make a server unreachable for one client. */
export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** connections accepted so far */
  readonly accepted: number;
  /** `url` (e.g. a DATABASE_URL) with its host and port replaced by the proxy's */
  urlThrough(url: string): string;
  cut(mode?: CutMode): void;
  /** Forwards again; connections held by a `hang` cut are reset at both ends (their clients reconnect). */
  restore(): void;
  close(): Promise<void>;
}

/** Forwards every connection on a free local port to `target` until cut. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: CutMode | 'open' = 'open';
  let accepted = 0;
  const pairs = new Set<[Socket, Socket]>();
  const held = new Set<Socket>();

  const hold = (socket: Socket): void => {
    held.add(socket);
    socket.pause();
    socket.on('close', () => held.delete(socket));
  };

  const server: Server = createServer((client) => {
    accepted += 1;
    client.on('error', () => undefined);
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'hang') {
      hold(client);
      return;
    }
    const upstream = connect(target.port, target.host);
    upstream.on('error', () => undefined);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    host: '127.0.0.1',
    port,
    get accepted() {
      return accepted;
    },
    urlThrough(url: string): string {
      const through = new URL(url);
      through.hostname = '127.0.0.1';
      through.port = String(port);
      return through.toString();
    },
    cut(how: CutMode = 'refuse'): void {
      mode = how;
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        const [client, upstream] = pair;
        if (how === 'refuse') {
          client.resetAndDestroy();
          upstream.destroy();
        } else {
          // both ends stay open (the server keeps its session, as across a real partition) but carry nothing
          client.unpipe(upstream);
          upstream.unpipe(client);
          hold(client);
          hold(upstream);
        }
      }
    },
    restore(): void {
      mode = 'open';
      for (const socket of [...held]) {
        socket.resetAndDestroy();
      }
      held.clear();
    },
    async close(): Promise<void> {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      for (const socket of held) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
