import { QUEUE, type Queues } from '../queue/queues.js';

/**
 * The one way a backtest is put on the queue: the job id is the backtest id, so enqueueing the
 * same backtest again (a retry, the reconciler) never creates a second job.
 */
export function enqueueBacktest(queues: Queues, id: string): Promise<unknown> {
  return queues.queue(QUEUE.backtests).add(
    'run',
    { id },
    {
      jobId: id,
      attempts: 3,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: 1000,
    },
  );
}
