import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule } from '@stocklab/platform';
import { BacktestsModule } from './backtests/backtests.module.js';
import type { BacktestConfig } from './config.js';
import { backtestDataSourceOptions } from './data-source.js';
import { DatasetsModule } from './datasets/datasets.module.js';
import { IngestModule } from './ingest/ingest.module.js';
import { MarketLookupModule } from './market-lookup/market-lookup.module.js';
import { QueueModule } from './queue/queue.module.js';
import { StorageModule } from './storage/storage.module.js';
import { StrategiesModule } from './strategies/strategies.module.js';

/** 'api' serves HTTP (and takes jobs when its concurrency is above 0); 'worker' only takes jobs. */
export type ProcessRole = 'api' | 'worker';

@Module({})
export class AppModule {
  static register(config: BacktestConfig, role: ProcessRole): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'backtest',
          config,
          dataSource: backtestDataSourceOptions(config, role),
          maxAccessTokenLifetimeSeconds: 86400,
        }),
        StorageModule,
        QueueModule,
        DatasetsModule.register(role),
        StrategiesModule.register(role),
        BacktestsModule.register(role),
        ...(role === 'api' ? [MarketLookupModule, IngestModule] : []),
      ],
    };
  }
}
