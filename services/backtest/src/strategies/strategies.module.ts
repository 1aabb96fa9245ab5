import { Module, type DynamicModule } from '@nestjs/common';
import type { ProcessRole } from '../app.module.js';
import { FactorsModule } from '../factors/factors.module.js';
import { StrategiesController } from './strategies.controller.js';
import { StrategiesService } from './strategies.service.js';
import { StrategyCache } from './strategy-cache.js';

/** Owner-scoped strategies with a shared read-through cache; exports StrategiesService for backtests. */
@Module({})
export class StrategiesModule {
  static register(role: ProcessRole): DynamicModule {
    return {
      module: StrategiesModule,
      // the factor catalog is the vocabulary of strategy definitions: served next to them
      imports: role === 'api' ? [FactorsModule] : [],
      controllers: role === 'api' ? [StrategiesController] : [],
      providers: [StrategiesService, StrategyCache],
      exports: [StrategiesService],
    };
  }
}
