import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { CONFIG, RevocationStore } from '@stocklab/platform';
import type { AuthConfig } from '../config.js';
import { OutboxRelay } from '../outbox/outbox-relay.js';
import { RevocationLedger } from './revocation-ledger.js';

const CHECK_EVERY_MS = 1000;
const PRUNE_EVERY_MS = 10 * 60_000;

/**
 * Watches for a Redis that has lost the revocation list (restarted without persistence,
 * flushed, replaced) and copies it back from PostgreSQL. Until then every service refuses
 * tokens with a 503, so the time this takes is the length of the outage users see.
 */
@Injectable()
export class RevocationRestorer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RevocationRestorer.name);
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private lastPrune = 0;

  constructor(
    @Inject(RevocationStore) private readonly store: RevocationStore,
    @Inject(RevocationLedger) private readonly ledger: RevocationLedger,
    @Inject(CONFIG) private readonly config: AuthConfig,
    @Inject(OutboxRelay) private readonly outbox: OutboxRelay,
  ) {}

  /** The first check before the server listens, so that a fresh replica is ready at once. */
  async onApplicationBootstrap(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One check; true when Redis holds the complete list afterwards. */
  async tick(): Promise<boolean> {
    if (this.busy) {
      return false;
    }
    this.busy = true;
    try {
      if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
        await this.ledger.prune();
        this.lastPrune = Date.now();
      }
      if (await this.store.isRestored()) {
        return true;
      }
      let count = 0;
      const restored = await this.store.restore(async () => {
        const live = await this.ledger.live();
        count = live.length;
        return live;
      }, `${this.config.POD_NAME}:${process.pid}`);
      if (restored) {
        this.logger.warn(`Redis had no revocation list: restored ${count} revocation(s) from PostgreSQL`);
        // the event streams went with it: events published lately may not have been consumed
        const again = await this.outbox.republishRecent();
        if (again > 0) {
          this.logger.warn(`Redis had lost its data: ${again} recent event(s) published again`);
        }
      }
      return restored;
    } catch (error) {
      // Redis or PostgreSQL away: the next tick tries again; tokens are refused meanwhile.
      this.logger.debug(`revocation restore: ${(error as Error).message}`);
      return false;
    } finally {
      this.busy = false;
    }
  }
}
