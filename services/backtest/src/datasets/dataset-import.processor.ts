import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { publishMarketSnapshot } from '@stocklab/market-data';
import { CONFIG, DomainError } from '@stocklab/platform';
import type { Job } from 'bullmq';
import type pg from 'pg';
import { DataSource, In } from 'typeorm';
import type { BacktestConfig } from '../config.js';
import { loadMarketCsv } from '../market/market-loader.js';
import { ObjectStorageSnapshotStore } from '../market/snapshot-store.js';
import { QUEUE, Queues } from '../queue/queues.js';
import { ObjectStorage } from '../storage/object-storage.js';
import { Dataset } from './dataset.entity.js';
import type { ImportJobData } from './datasets.service.js';

/**
 * Takes dataset import jobs in any replica or worker: streams the object from storage through
 * the market loader (one transaction: all or nothing) and records the outcome on the dataset.
 * Safe to run twice for one dataset: a finished dataset is left alone, and an interrupted run
 * left nothing behind (its transaction rolled back with its connection).
 */
@Injectable()
export class DatasetImportProcessor implements OnModuleInit {
  private readonly logger = new Logger(DatasetImportProcessor.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(ObjectStorage) private readonly storage: ObjectStorage,
    @Inject(Queues) private readonly queues: Queues,
    @Inject(CONFIG) private readonly config: BacktestConfig,
  ) {}

  onModuleInit(): void {
    this.queues.work(QUEUE.imports, this.config.IMPORT_CONCURRENCY, (job: Job<ImportJobData>) => this.process(job));
  }

  /**
   * The new data version as a snapshot in object storage, so that every process loads it with one
   * read. Best effort: without it the first process to need the version builds it from PostgreSQL.
   */
  private async publishSnapshot(dataVersion: number): Promise<void> {
    const pool = (this.dataSource.driver as unknown as { master: pg.Pool }).master;
    try {
      const published = await publishMarketSnapshot(
        pool,
        new ObjectStorageSnapshotStore(this.storage),
        String(dataVersion - 1),
      );
      this.logger.log(
        `market snapshot of version ${published.version} stored: ${published.bytes} bytes, ` +
          `${published.extended ? 'the previous one extended' : 'built'} in ${published.builtInMs} ms`,
      );
    } catch (error) {
      this.logger.warn(`market snapshot not stored: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async process(job: Job<ImportJobData>): Promise<string> {
    const id = job.data.datasetId;
    const repo = this.dataSource.getRepository(Dataset);
    // claim it: only a queued or interrupted (validating/loading) dataset is (re)started
    const claimed = await repo.update(
      { id, status: In(['queued', 'validating', 'loading']) },
      { status: 'validating', startedAt: new Date() },
    );
    if (!claimed.affected) {
      return 'already finished';
    }
    const dataset = await repo.findOneByOrFail({ id });
    try {
      const open = async (): Promise<Readable> => (await this.storage.get(dataset.objectKey)).body;
      const runner = this.dataSource.createQueryRunner();
      const client = (await runner.connect()) as pg.PoolClient;
      try {
        const outcome = await loadMarketCsv(client, dataset.kind, open, {
          sizeBytes: Number(dataset.sizeBytes),
          onLoading: async () => {
            await repo.update({ id }, { status: 'loading' });
          },
        });
        // before the dataset reads "succeeded": whoever waited for it finds the version stored
        if (outcome.succeeded && outcome.changed) {
          await this.publishSnapshot(outcome.dataVersion);
        }
        await repo.update(
          { id },
          {
            status: outcome.succeeded ? 'succeeded' : 'failed',
            rowsTotal: outcome.rowsTotal,
            rowsInserted: outcome.inserted,
            rowsUpdated: outcome.updated,
            rowsUnchanged: outcome.unchanged,
            errors: outcome.errors,
            finishedAt: new Date(),
          },
        );
        this.logger.log(
          `dataset ${id} (${dataset.kind}): ${outcome.succeeded ? 'loaded' : 'rejected'} (${outcome.path}), ${outcome.rowsTotal} rows, ` +
            `${outcome.inserted} inserted, ${outcome.updated} updated, ${outcome.errors.length} errors shown`,
        );
        return outcome.succeeded ? 'succeeded' : 'failed';
      } finally {
        await runner.release();
      }
    } catch (error) {
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const missing = error instanceof DomainError && error.code === 'FILE_NOT_FOUND';
      if (lastAttempt || missing) {
        await repo.update(
          { id },
          {
            status: 'failed',
            errors: [
              {
                line: 0,
                message: missing
                  ? 'The uploaded file is gone from storage'
                  : 'The import failed; upload the file again',
              },
            ],
            finishedAt: new Date(),
          },
        );
        this.logger.error(`dataset ${id} failed: ${error instanceof Error ? error.message : String(error)}`);
        return 'failed';
      }
      // leave it claimable: BullMQ retries the job after its backoff
      await repo.update({ id }, { status: 'queued' }).catch(() => undefined);
      throw error;
    }
  }
}
