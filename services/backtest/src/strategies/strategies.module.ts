import { Module, type DynamicModule } from '@nestjs/common';
import type { ProcessRole } from '../app.module.js';

@Module({})
export class StrategiesModule {
  static register(role: ProcessRole): DynamicModule {
    return { module: StrategiesModule, controllers: role === 'api' ? [] : [], providers: [] };
  }
}
