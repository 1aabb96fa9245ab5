import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { CONFIG, DomainError, type AuthenticatedUser } from '@stocklab/platform';
import type { Repository } from 'typeorm';
import type { BacktestConfig } from '../config.js';
import { QUEUE, Queues } from '../queue/queues.js';
import { ObjectStorage } from '../storage/object-storage.js';
import { Dataset } from './dataset.entity.js';
import { receiveDatasetUpload } from './dataset-upload.js';
import { DatasetDto, type DatasetAcceptedDto, type DatasetPageDto, type ListDatasetsQuery } from './dto/dataset.dto.js';

export interface ImportJobData {
  datasetId: string;
}

/** Import jobs: retried after a crash or an outage, never after a validation failure. */
export const IMPORT_JOB_ATTEMPTS = 3;

@Injectable()
export class DatasetsService {
  private readonly logger = new Logger(DatasetsService.name);

  constructor(
    @InjectRepository(Dataset) private readonly datasets: Repository<Dataset>,
    @Inject(ObjectStorage) private readonly storage: ObjectStorage,
    @Inject(Queues) private readonly queues: Queues,
    @Inject(CONFIG) private readonly config: BacktestConfig,
  ) {}

  /** Streams the upload to object storage, records it (queued) and enqueues its import. */
  async upload(req: IncomingMessage, user: AuthenticatedUser): Promise<DatasetAcceptedDto> {
    const id = randomUUID();
    const file = await receiveDatasetUpload(req, this.storage, this.config.DATASET_MAX_BYTES, id);
    try {
      await this.datasets.insert({
        id,
        ownerId: user.id,
        kind: file.kind,
        status: 'queued',
        fileName: file.fileName,
        objectKey: file.objectKey,
        sizeBytes: String(file.sizeBytes),
        sha256: file.sha256,
        errors: [],
      });
    } catch (error) {
      await this.storage.delete(file.objectKey).catch(() => undefined);
      throw error;
    }
    try {
      await this.queues.queue(QUEUE.imports).add('import', { datasetId: id } satisfies ImportJobData, {
        jobId: id,
        attempts: IMPORT_JOB_ATTEMPTS,
        backoff: { type: 'exponential', delay: 2000 },
        removeOnComplete: { count: 1000 },
        removeOnFail: { count: 1000 },
      });
    } catch (error) {
      this.logger.error(`dataset ${id} could not be queued: ${String(error)}`);
      await this.datasets.update(
        { id },
        {
          status: 'failed',
          errors: [{ line: 0, message: 'The import could not be queued; upload the file again' }],
          finishedAt: new Date(),
        },
      );
      throw new DomainError(503, 'QUEUE_UNAVAILABLE', 'The import could not be queued right now; try again', {
        'Retry-After': '2',
      });
    }
    return {
      id,
      status: 'queued',
      kind: file.kind,
      fileName: file.fileName,
      sizeBytes: file.sizeBytes,
      sha256: file.sha256,
    };
  }

  async get(user: AuthenticatedUser, id: string): Promise<DatasetDto> {
    const dataset = await this.datasets.findOneBy({ id, ownerId: user.id });
    if (!dataset) {
      throw new DomainError(404, 'DATASET_NOT_FOUND', 'No such dataset');
    }
    return DatasetDto.from(dataset);
  }

  async list(user: AuthenticatedUser, query: ListDatasetsQuery): Promise<DatasetPageDto> {
    const limit = query.limit ?? 20;
    const offset = query.offset ?? 0;
    const [rows, total] = await this.datasets.findAndCount({
      where: { ownerId: user.id },
      order: { createdAt: 'DESC', id: 'DESC' },
      take: limit,
      skip: offset,
    });
    return { items: rows.map((d) => DatasetDto.from(d)), total, limit, offset };
  }
}
