import { Inject, Injectable } from '@nestjs/common';
import { AccountEventsConsumer, CONFIG, type AccountDeleted } from '@stocklab/platform';
import type { TradingConfig } from '../config.js';
import { AutoStrategiesService } from './auto-strategies.service.js';

/**
 * The trading part of an account deletion (consumer group `trading`, one consumer per replica):
 * the account closed and its strategies wound down as the user chose, before acknowledging.
 */
@Injectable()
export class TradingAccountEvents extends AccountEventsConsumer {
  constructor(
    @Inject(CONFIG) config: TradingConfig,
    private readonly strategies: AutoStrategiesService,
  ) {
    super(config, 'trading');
  }

  protected onAccountDeleted(event: AccountDeleted): Promise<Record<string, unknown>> {
    return this.strategies.closeAccount(event.userId, event.strategies);
  }
}
