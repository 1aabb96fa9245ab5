import { Global, Module } from '@nestjs/common';
import { QueueMetrics } from './queue-metrics.js';
import { Queues } from './queues.js';

@Global()
@Module({ providers: [Queues, QueueMetrics], exports: [Queues, QueueMetrics] })
export class QueueModule {}
