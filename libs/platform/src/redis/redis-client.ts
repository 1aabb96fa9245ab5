import { Redis } from 'ioredis';

export interface RedisClientOptions {
  url: string;
  keyPrefix: string;
  connectionName: string;
}

/**
 * A client that fails fast instead of queueing while Redis is away, so that callers can
 * answer 503 at once (and the JWT guard never waits on, or skips, a revocation check).
 * It keeps reconnecting in the background and recovers by itself.
 */
export function createRedisClient(options: RedisClientOptions): Redis {
  const client = new Redis(options.url, {
    keyPrefix: options.keyPrefix,
    connectionName: options.connectionName,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
  });
  // Errors surface on the commands that fail; without a listener ioredis would print each retry.
  client.on('error', () => undefined);
  return client;
}
