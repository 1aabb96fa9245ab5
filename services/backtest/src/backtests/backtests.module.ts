import { Module, type DynamicModule } from '@nestjs/common';
import type { ProcessRole } from '../app.module.js';
import { StrategiesModule } from '../strategies/strategies.module.js';
import { BacktestAccountEvents } from './account-events.consumer.js';
import { BacktestJobs } from './backtest-jobs.js';
import { BacktestRetention } from './backtest-retention.js';
import { BacktestsController } from './backtests.controller.js';
import { BacktestsService } from './backtests.service.js';
import { MarketSnapshots } from './market-snapshot.js';
import { UniversePreviewWorker } from './universe-preview.worker.js';

@Module({})
export class BacktestsModule {
  static register(role: ProcessRole): DynamicModule {
    return {
      module: BacktestsModule,
      imports: [StrategiesModule.register(role)],
      controllers: role === 'api' ? [BacktestsController] : [],
      providers: [
        BacktestsService,
        BacktestJobs,
        BacktestRetention,
        MarketSnapshots,
        BacktestAccountEvents,
        UniversePreviewWorker,
      ],
      exports: [BacktestsService],
    };
  }
}
