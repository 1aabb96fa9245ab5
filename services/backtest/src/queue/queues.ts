import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import { Queue, QueueEvents, Worker, type Job, type WorkerOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { BacktestConfig } from '../config.js';

export const QUEUE = {
  imports: 'dataset-imports',
  backtests: 'backtests',
  previews: 'universe-previews',
} as const;
export type QueueName = (typeof QUEUE)[keyof typeof QUEUE];

export type JobProcessor = (job: Job) => Promise<unknown>;

/** Waits for the worker's jobs to end, at most `ms` (the timer cleared either way). */
async function closedWithin(worker: Worker, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([worker.close(), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * BullMQ queues in the shared Redis: any replica enqueues, any replica or worker process takes
 * jobs. BullMQ needs its own connections (no ioredis keyPrefix, no fail-fast: its blocking
 * commands must wait), so the platform's prefix becomes BullMQ's prefix instead.
 */
@Injectable()
export class Queues implements OnApplicationShutdown {
  private readonly logger = new Logger(Queues.name);
  private readonly connection: Redis;
  private readonly queues = new Map<QueueName, Queue>();
  private readonly workers: Worker[] = [];
  private readonly events = new Map<QueueName, QueueEvents>();
  /** the connections this class opened for others (BullMQ closes only the ones it opens itself) */
  private readonly ownConnections: Redis[] = [];
  readonly prefix: string;

  constructor(@Inject(CONFIG) private readonly config: BacktestConfig) {
    this.prefix = `${config.REDIS_KEY_PREFIX}queue`;
    this.connection = new Redis(config.REDIS_URL, {
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      connectionName: `queue:${config.POD_NAME}`,
    });
    this.connection.on('error', () => undefined);
  }

  queue(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      queue.on('error', () => undefined);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** The completion events of `name`'s jobs (a connection of its own: it blocks reading the stream). */
  queueEvents(name: QueueName): QueueEvents {
    let events = this.events.get(name);
    if (!events) {
      const connection = new Redis(this.config.REDIS_URL, {
        maxRetriesPerRequest: null,
        connectionName: `events:${name}:${this.config.POD_NAME}`,
      });
      connection.on('error', () => undefined);
      this.ownConnections.push(connection);
      events = new QueueEvents(name, { connection, prefix: this.prefix });
      events.on('error', () => undefined);
      this.events.set(name, events);
    }
    return events;
  }

  /** Starts taking jobs of `name` in this process. */
  work(
    name: QueueName,
    concurrency: number,
    processor: JobProcessor,
    options: Partial<WorkerOptions> = {},
  ): Worker | undefined {
    if (concurrency <= 0) {
      return undefined;
    }
    const connection = new Redis(this.config.REDIS_URL, {
      maxRetriesPerRequest: null,
      connectionName: `worker:${name}:${this.config.POD_NAME}`,
    });
    this.ownConnections.push(connection);
    const worker = new Worker(name, processor, {
      connection,
      prefix: this.prefix,
      concurrency,
      lockDuration: this.config.JOB_LOCK_MS,
      stalledInterval: Math.max(1000, Math.floor(this.config.JOB_LOCK_MS / 2)),
      maxStalledCount: 3,
      ...options,
    });
    worker.on('error', (error) => this.logger.warn(`worker ${name}: ${error.message}`));
    worker.on('failed', (job, error) => this.logger.warn(`job ${name}/${job?.id ?? '?'} failed: ${error.message}`));
    this.workers.push(worker);
    return worker;
  }

  async depth(name: QueueName): Promise<Record<string, number>> {
    return this.queue(name).getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
  }

  async onApplicationShutdown(): Promise<void> {
    // Workers first: a job still running after the grace period is released and taken up
    // again elsewhere when its lock expires.
    await Promise.allSettled(this.workers.map((w) => closedWithin(w, 5000)));
    await Promise.allSettled(this.workers.map((w) => w.close(true)));
    await Promise.allSettled([...this.queues.values(), ...this.events.values()].map((q) => q.close()));
    this.connection.disconnect();
    for (const connection of this.ownConnections) {
      connection.disconnect();
    }
  }
}
