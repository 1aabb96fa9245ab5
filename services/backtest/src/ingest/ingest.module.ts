import { Module } from '@nestjs/common';
import { IngestMetrics } from './ingest-metrics.js';
import { IngestController } from './ingest.controller.js';
import { IngestService } from './ingest.service.js';

/** The daily market ingest's HTTP trigger and freshness metrics (API role). */
@Module({ controllers: [IngestController], providers: [IngestService, IngestMetrics] })
export class IngestModule {}
