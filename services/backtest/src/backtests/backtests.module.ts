import { Module, type DynamicModule } from '@nestjs/common';
import type { ProcessRole } from '../app.module.js';

@Module({})
export class BacktestsModule {
  static register(role: ProcessRole): DynamicModule {
    return { module: BacktestsModule, controllers: role === 'api' ? [] : [], providers: [] };
  }
}
