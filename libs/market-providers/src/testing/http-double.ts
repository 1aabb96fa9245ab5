import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A provider's test double as a real HTTP server on an ephemeral port of 127.0.0.1: each double
 * answers in `handle`; `closed` settles when the double is closed (held requests end with it).
 */
export abstract class HttpDouble {
  protected readonly closed: Promise<void>;
  private closing!: () => void;

  protected constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    this.closed = new Promise<void>((resolve) => {
      this.closing = resolve;
    });
  }

  /** Starts a server whose requests go to the double `create` makes. */
  protected static async listen<T extends HttpDouble>(create: (server: Server, url: string) => T): Promise<T> {
    const holder: { double?: T } = {};
    const server = createServer((req, res) => void holder.double?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    holder.double = create(server, `http://127.0.0.1:${port}`);
    return holder.double;
  }

  async close(): Promise<void> {
    this.closing();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}
