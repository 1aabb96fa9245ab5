import { Global, Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import type { BacktestConfig } from '../config.js';
import { ObjectStorage } from './object-storage.js';

@Global()
@Module({
  providers: [
    {
      provide: ObjectStorage,
      inject: [CONFIG],
      useFactory: (config: BacktestConfig) => ObjectStorage.fromConfig(config),
    },
  ],
  exports: [ObjectStorage],
})
export class StorageModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(ObjectStorage) private readonly storage: ObjectStorage,
    @Inject(CONFIG) private readonly config: BacktestConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.S3_CREATE_BUCKET) {
      await this.storage.ensureBucket();
    }
  }

  onApplicationShutdown(): void {
    this.storage.destroy();
  }
}
