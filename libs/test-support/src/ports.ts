import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') {
          resolve(address.port);
        } else {
          reject(new Error('could not obtain a free port'));
        }
      });
    });
  });
}

/**
 * Whether process `pid` holds the listening TCP socket on `port` (Linux: /proc/net/tcp* and the
 * process's file descriptors); undefined when that cannot be told here. A port taken from
 * freePort() can be handed to another test's process before ours binds it: its answers must not
 * pass for ours.
 */
export function listensOn(pid: number, port: number): boolean | undefined {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let table: string;
    try {
      table = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st ... inode (10th field); st 0A = LISTEN
      if (f.length > 9 && f[3] === '0A' && f[1]?.endsWith(hexPort)) {
        inodes.add(f[9]);
      }
    }
  }
  if (inodes.size === 0) {
    return undefined;
  }
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const socket = /^socket:\[(\d+)\]$/.exec(target);
      if (socket && inodes.has(socket[1])) {
        return true;
      }
    }
  } catch {
    return undefined;
  }
  return false;
}
