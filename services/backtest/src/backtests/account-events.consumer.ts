import { Inject, Injectable } from '@nestjs/common';
import { AccountEventsConsumer, CONFIG, type AccountDeleted } from '@stocklab/platform';
import type { BacktestConfig } from '../config.js';
import { BacktestsService } from './backtests.service.js';

/**
 * The backtest part of an account deletion (consumer group `backtest`: API replicas and workers
 * alike): the account's queued and running backtests cancelled, before acknowledging.
 */
@Injectable()
export class BacktestAccountEvents extends AccountEventsConsumer {
  constructor(
    @Inject(CONFIG) config: BacktestConfig,
    @Inject(BacktestsService) private readonly backtests: BacktestsService,
  ) {
    super(config, 'backtest');
  }

  protected async onAccountDeleted(event: AccountDeleted): Promise<Record<string, unknown>> {
    return { cancelled: await this.backtests.cancelAllOf(event.userId) };
  }
}
