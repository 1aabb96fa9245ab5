import { Module, type DynamicModule } from '@nestjs/common';
import type { ProcessRole } from '../app.module.js';

@Module({})
export class DatasetsModule {
  static register(role: ProcessRole): DynamicModule {
    return { module: DatasetsModule, controllers: role === 'api' ? [] : [], providers: [] };
  }
}
