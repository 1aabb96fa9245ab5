import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

/** The shared Redis the tests use, and a key prefix so test files never see each other's keys. */
export function testRedisUrl(): string {
  return process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export function uniqueKeyPrefix(label: string): string {
  return `t:${label}:${randomBytes(4).toString('hex')}:`;
}

/**
 * A private redis-server process on its own port, for tests that take Redis away and bring it
 * back (stopping the shared one would disturb everything else).
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const binary = process.env.REDIS_SERVER_BIN ?? 'redis-server';
    this.child = spawn(
      binary,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await sleep(50);
      }
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Marks the revocation list under `keyPrefix` as complete, as the auth service does once it has
 * copied PostgreSQL's revocations into a Redis (RevocationStore.restoredKey). Services tested
 * without an auth replica need it: until it is there, they refuse every token with a 503.
 */
export async function markRevocationListRestored(url: string, keyPrefix: string): Promise<void> {
  const redis = new Redis(url, { keyPrefix, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.set('revoked:restored', new Date().toISOString());
  } finally {
    redis.disconnect();
  }
}

/**
 * Removes what a test left in a Redis under its key prefix (queues, cache, revocations). Only
 * prefixes made by uniqueKeyPrefix are touched, so a mistake cannot empty a shared Redis.
 */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  if (!prefix.startsWith('t:')) {
    return;
  }
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        await redis.del(...keys);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
