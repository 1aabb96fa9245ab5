import { Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { consumeAccountEvents, type AccountDeleted, type StreamConsumer } from './event-stream.js';

/**
 * A service's part of the account events: a provider that consumes the stream in the service's
 * consumer group while the application runs. Subclasses say what a deletion means to them
 * (committed, idempotent) and answer what they did, for the log.
 */
export abstract class AccountEventsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(AccountEventsConsumer.name);
  private consumer: StreamConsumer | undefined;

  protected constructor(
    private readonly config: { REDIS_URL: string; REDIS_KEY_PREFIX: string; POD_NAME: string },
    private readonly group: string,
  ) {}

  protected abstract onAccountDeleted(event: AccountDeleted): Promise<Record<string, unknown>>;

  onApplicationBootstrap(): void {
    this.consumer = consumeAccountEvents({
      config: this.config,
      group: this.group,
      logger: this.logger,
      onAccountDeleted: (event) => this.onAccountDeleted(event),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
