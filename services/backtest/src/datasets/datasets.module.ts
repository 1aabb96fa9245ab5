import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { ProcessRole } from '../app.module.js';
import { DatasetImportProcessor } from './dataset-import.processor.js';
import { Dataset } from './dataset.entity.js';
import { DatasetsController } from './datasets.controller.js';
import { DatasetsService } from './datasets.service.js';

/** Market-data uploads (API role) and their import jobs (every role with IMPORT_CONCURRENCY > 0). */
@Module({})
export class DatasetsModule {
  static register(role: ProcessRole): DynamicModule {
    return {
      module: DatasetsModule,
      imports: [TypeOrmModule.forFeature([Dataset])],
      controllers: role === 'api' ? [DatasetsController] : [],
      providers: role === 'api' ? [DatasetsService, DatasetImportProcessor] : [DatasetImportProcessor],
      exports: role === 'api' ? [DatasetsService] : [],
    };
  }
}
