import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/**
 * Events between services on Redis streams, delivered at least once to every consumer group:
 * the publisher's outbox (PostgreSQL) makes the event as durable as the change it reports; a
 * consumer acknowledges an entry only after its handler committed, and entries a consumer died
 * holding are claimed by another one of its group. Handlers must therefore be idempotent.
 */

/** Stream of account life-cycle events, written by auth, read by trading and backtest. */
export const ACCOUNT_EVENTS_STREAM = 'events:accounts';
/** Entries kept in a stream (approximately): far more than consumers ever lag behind. */
const STREAM_MAX_LENGTH = 100_000;

/** DELETE /me: what is to become of the account's auto strategies. */
export type ClosingStrategies = 'liquidate' | 'stop';

export interface AccountDeleted {
  type: 'account.deleted';
  /** the outbox id: the same event published twice carries the same id */
  eventId: string;
  userId: string;
  strategies: ClosingStrategies;
  deletedAt: string;
}

export type AccountEvent = AccountDeleted;

/** Parses an entry's `event` field; undefined for an event this version does not know. */
export function parseAccountEvent(raw: string | undefined): AccountEvent | undefined {
  try {
    const value = JSON.parse(raw ?? '') as Partial<AccountDeleted>;
    if (
      value.type === 'account.deleted' &&
      typeof value.eventId === 'string' &&
      typeof value.userId === 'string' &&
      (value.strategies === 'liquidate' || value.strategies === 'stop') &&
      typeof value.deletedAt === 'string'
    ) {
      return value as AccountDeleted;
    }
  } catch {
    /* not JSON: reported by the caller as unknown */
  }
  return undefined;
}

/**
 * Appends an event (`redis` carries the services' shared key prefix). The entry's single field
 * `event` holds the JSON.
 */
export async function publishEvent(redis: Redis, stream: string, event: AccountEvent): Promise<string> {
  const id = await redis.xadd(stream, 'MAXLEN', '~', String(STREAM_MAX_LENGTH), '*', 'event', JSON.stringify(event));
  return id ?? '';
}

/** Nest's Logger as the services use it (fields first, then the message). */
export interface EventLogger {
  log(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/**
 * A service's consumer of the account events: one consumer group per service, one consumer per
 * process; `onAccountDeleted` commits the service's part of a deletion (idempotently).
 */
export function consumeAccountEvents(options: {
  config: { REDIS_URL: string; REDIS_KEY_PREFIX: string; POD_NAME: string };
  group: string;
  logger: EventLogger;
  onAccountDeleted: (event: AccountDeleted) => Promise<Record<string, unknown>>;
}): StreamConsumer {
  const { config, group, logger } = options;
  const consumer = new StreamConsumer({
    redis: createStreamConnection(config.REDIS_URL, `${group}:${config.POD_NAME}:events`),
    stream: `${config.REDIS_KEY_PREFIX}${ACCOUNT_EVENTS_STREAM}`,
    group,
    consumer: `${config.POD_NAME}-${process.pid}-${randomUUID().slice(0, 4)}`,
    logger,
    handle: async (event, raw) => {
      if (event?.type !== 'account.deleted') {
        logger.warn({ event: raw.event?.slice(0, 200) }, 'account event of an unknown kind: skipped');
        return;
      }
      const outcome = await options.onAccountDeleted(event);
      logger.log({ eventId: event.eventId, userId: event.userId, ...outcome }, 'account deleted: handled');
    },
  });
  consumer.start();
  return consumer;
}

export interface StreamConsumerOptions {
  /** a connection of its own (blocking reads would stall a shared one) */
  redis: Redis;
  /** the full key, prefix included (`redis` has none: stream commands name keys in odd places) */
  stream: string;
  group: string;
  /** this process (a pod name plus a random suffix is unique enough) */
  consumer?: string;
  /** commits the event's effects; a throw leaves the entry pending, to be tried again */
  handle: (event: AccountEvent | undefined, raw: Record<string, string>) => Promise<void>;
  logger: EventLogger;
  /** entries pending longer than this (a consumer that died, a handler that failed) are taken over */
  claimIdleMs?: number;
  blockMs?: number;
}

/**
 * A connection for one consumer: no key prefix (pass full keys) and a command timeout longer
 * than a blocking read.
 */
export function createStreamConnection(url: string, connectionName: string): Redis {
  const client = new Redis(url, {
    connectionName,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 10_000,
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
  });
  client.on('error', () => undefined);
  return client;
}

type StreamEntries = Array<[id: string, fields: string[]]>;

/** One consumer of a consumer group: reads, handles, acknowledges; claims what others left. */
export class StreamConsumer {
  readonly consumer: string;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: StreamConsumerOptions) {
    this.consumer = options.consumer ?? `consumer-${randomUUID().slice(0, 8)}`;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.options.redis.disconnect();
  }

  private async run(): Promise<void> {
    const { redis, stream, group } = this.options;
    const blockMs = this.options.blockMs ?? 1000;
    const claimIdleMs = this.options.claimIdleMs ?? 30_000;
    let lastClaim = 0;
    while (!this.stopped) {
      try {
        await this.ensureGroup();
        if (Date.now() - lastClaim >= Math.min(claimIdleMs, 5000)) {
          lastClaim = Date.now();
          const claimed = (await redis.call(
            'XAUTOCLAIM',
            stream,
            group,
            this.consumer,
            claimIdleMs,
            '0-0',
            'COUNT',
            50,
          )) as [string, StreamEntries];
          await this.handleAll(claimed[1]);
        }
        const read = (await redis.call(
          'XREADGROUP',
          'GROUP',
          group,
          this.consumer,
          'COUNT',
          20,
          'BLOCK',
          blockMs,
          'STREAMS',
          stream,
          '>',
        )) as Array<[string, StreamEntries]> | null;
        await this.handleAll(read?.[0]?.[1] ?? []);
      } catch (error) {
        if (!this.stopped) {
          this.options.logger.warn({ stream, group, error: String(error) }, 'event stream: read failed, retrying');
          await sleep(500);
        }
      }
    }
  }

  private groupReady = false;

  private async ensureGroup(): Promise<void> {
    if (this.groupReady) {
      return;
    }
    try {
      // from the stream's beginning: events published before this group existed are not lost
      await this.options.redis.call('XGROUP', 'CREATE', this.options.stream, this.options.group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) {
        throw error;
      }
    }
    this.groupReady = true;
  }

  private async handleAll(entries: StreamEntries): Promise<void> {
    for (const [id, list] of entries) {
      if (this.stopped) {
        return;
      }
      if (!list) {
        // trimmed away while pending: nothing left to handle
        await this.options.redis.call('XACK', this.options.stream, this.options.group, id);
        continue;
      }
      const fields: Record<string, string> = {};
      for (let k = 0; k + 1 < list.length; k += 2) {
        fields[list[k]] = list[k + 1];
      }
      try {
        await this.options.handle(parseAccountEvent(fields.event), fields);
        await this.options.redis.call('XACK', this.options.stream, this.options.group, id);
      } catch (error) {
        this.options.logger.error(
          { stream: this.options.stream, group: this.options.group, entry: id, error: String(error) },
          'event stream: handler failed, the entry stays pending and is tried again',
        );
      }
    }
  }
}
