import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { publishEvent, REDIS, type AccountEvent } from '@stocklab/platform';
import type { Redis } from 'ioredis';
import type { DataSource, EntityManager } from 'typeorm';

/** How often every replica publishes what is left in the outbox (a nudge publishes at once). */
export const OUTBOX_INTERVAL_MS = 1000;
const BATCH = 100;

interface OutboxRow {
  id: string;
  stream: string;
  event: AccountEvent;
}

/**
 * The transactional outbox: events are inserted in the transaction of the change they report
 * and published to their Redis stream afterwards, by whichever replica gets to them first (rows
 * are taken with SKIP LOCKED). A publish whose commit is lost is published again: consumers
 * handle an event id more than once without effect.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  /** Adds an event to the outbox in `m`'s transaction; `build` receives the event's id. */
  async add(m: EntityManager, stream: string, build: (eventId: string) => AccountEvent): Promise<void> {
    const [{ id }] = await m.query<[{ id: string }]>(
      `SELECT nextval(pg_get_serial_sequence('auth.outbox', 'id'))::text AS id`,
    );
    await m.query(`INSERT INTO auth.outbox (id, stream, event) VALUES ($1, $2, $3)`, [
      id,
      stream,
      JSON.stringify(build(`auth-outbox-${id}`)),
    ]);
  }

  /**
   * Redis lost its data (restarted empty, flushed, replaced): the events of the last week
   * (the outbox keeps them that long) are published again, since some may not have been
   * consumed; consumers take an event twice without effect. Answers how many.
   */
  async republishRecent(): Promise<number> {
    const [, count] = await this.dataSource.query<[unknown, number]>(
      `UPDATE auth.outbox SET published_at = NULL WHERE published_at IS NOT NULL`,
    );
    this.nudge();
    return count;
  }

  /** Publishes now (after a commit that added events) rather than at the next interval. */
  nudge(): void {
    void this.flush().catch(() => undefined);
  }

  /** Publishes every unpublished event; a flush asked for while one runs runs once more after it. */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          while ((await this.publishBatch()) === BATCH) {
            /* more waiting */
          }
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.flush().catch((error: unknown) =>
        this.logger.warn({ error: String(error) }, 'outbox: publishing failed, retried at the next interval'),
      );
    }, OUTBOX_INTERVAL_MS);
    this.timer.unref();
    this.nudge();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  private publishBatch(): Promise<number> {
    return this.dataSource.transaction(async (m) => {
      const rows = await m.query<OutboxRow[]>(
        `SELECT id::text AS id, stream, event FROM auth.outbox WHERE published_at IS NULL ORDER BY id LIMIT ${BATCH}
           FOR UPDATE SKIP LOCKED`,
      );
      for (const row of rows) {
        await publishEvent(this.redis, row.stream, row.event);
      }
      if (rows.length > 0) {
        await m.query(`UPDATE auth.outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [
          rows.map((r) => r.id),
        ]);
        // published events are kept a week for inspection, then dropped
        await m.query(`DELETE FROM auth.outbox WHERE published_at < now() - interval '7 days'`);
      }
      return rows.length;
    });
  }
}
