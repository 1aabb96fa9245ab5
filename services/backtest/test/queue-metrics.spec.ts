import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { RevocationStore } from '@stocklab/platform';
import { markRevocationListRestored, waitFor } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { enqueueBacktest } from '../src/backtests/backtest-queue.js';
import { generateDemoMarket } from '../src/cli/demo-data.js';
import { QUEUE, Queues } from '../src/queue/queues.js';
import {
  importDataset,
  startInProcessBacktest,
  topMomentum,
  waitForInProcessBacktest,
  type InProcessBacktest,
} from './support.js';

/** Monthly top 3 by 3-month momentum over the demo market. */
const definition = topMomentum();

/** The value of the one sample of `name` whose labels include `labels`, from a /metrics text. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) {
      continue;
    }
    const own = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => own[k] === v)) {
      found.push(Number(m[3]));
    }
  }
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0];
}

async function importDemoMarket(svc: InProcessBacktest): Promise<void> {
  const admin = await svc.tokenFor(randomUUID(), ['user', 'admin']);
  const market = generateDemoMarket({ stocks: 8, years: 2, seed: 3, startYear: 2020 });
  await importDataset(svc.url, admin, 'securities', market.securities);
  await importDataset(svc.url, admin, 'bars', market.bars);
}

/** POST /backtests as `token`; answers the new backtest's id. */
async function submitBacktest(svc: InProcessBacktest, token: string): Promise<string> {
  const res = await svc
    .http()
    .post('/api/backtest/backtests')
    .set('authorization', `Bearer ${token}`)
    .send({ definition, from: '2020-06-01', to: '2021-06-30' });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.id as string;
}

const scrape = async (svc: InProcessBacktest): Promise<string> => (await svc.http().get('/metrics').expect(200)).text;

/**
 * What /metrics says about the backtest queue and the revocation list, in-process on a real
 * PostgreSQL and Redis: the wait histogram in the process that starts backtests, the queue depth
 * read from BullMQ at scrape time, and the revocation gauge as the guard sees the list.
 */
describe('backtest queue metrics of a process that takes jobs (in-process)', () => {
  let svc: InProcessBacktest;
  let user: string;

  beforeAll(async () => {
    svc = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '1' });
    user = await svc.tokenFor(randomUUID());
    await importDemoMarket(svc);
  });
  afterAll(() => svc.close());

  it('observes the wait of a backtest once, at its first start, and not when it is taken up again', async () => {
    const before = await scrape(svc);
    assert.equal(sample(before, 'backtest_queue_wait_seconds_count'), 0);
    assert.equal(sample(before, 'backtest_queue_wait_seconds_bucket', { le: '1800' }), 0);

    const submittedAt = Date.now();
    const id = await submitBacktest(svc, user);
    const done = await waitForInProcessBacktest(svc, id, user);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    const elapsedSeconds = (Date.now() - submittedAt) / 1000;

    const after = await scrape(svc);
    assert.equal(sample(after, 'backtest_queue_wait_seconds_count'), 1);
    const sum = sample(after, 'backtest_queue_wait_seconds_sum') ?? Number.NaN;
    assert.ok(sum >= 0 && sum <= elapsedSeconds, `waited ${sum} s of the ${elapsedSeconds} s the run took`);
    assert.equal(sample(after, 'backtest_queue_wait_seconds_bucket', { le: '+Inf' }), 1);

    // As after a killed worker or a lost queue: the row still says running, the reconciler
    // enqueues it again, a worker claims it a second time (attempts 2) and runs it to the end.
    const dataSource = svc.app.get(DataSource);
    await dataSource.query(`UPDATE backtest.backtests SET status = 'running', finished_at = NULL WHERE id = $1`, [id]);
    await enqueueBacktest(svc.app.get(Queues), id);
    await waitFor(
      'the backtest run a second time',
      async () => {
        const [row] = await dataSource.query<{ status: string; attempts: number }[]>(
          `SELECT status, attempts FROM backtest.backtests WHERE id = $1`,
          [id],
        );
        return row?.status === 'succeeded' && row.attempts === 2 ? true : undefined;
      },
      60_000,
    );
    const again = await scrape(svc);
    assert.equal(sample(again, 'backtest_queue_wait_seconds_count'), 1, 'a second start is no second wait');
    assert.equal(sample(again, 'backtest_queue_wait_seconds_sum'), sum);
  });

  it('reads the depth by state from BullMQ at each scrape', async () => {
    const empty = await scrape(svc);
    for (const state of ['waiting', 'active', 'delayed']) {
      assert.equal(sample(empty, 'backtest_queue_depth', { state }), 0, state);
    }
    // a job held back (as a retry's back-off holds one): delayed until it is due
    const queue = svc.app.get(Queues).queue(QUEUE.backtests);
    const held = await queue.add('run', { id: randomUUID() }, { jobId: randomUUID(), delay: 600_000 });
    try {
      const scraped = await scrape(svc);
      assert.equal(sample(scraped, 'backtest_queue_depth', { state: 'delayed' }), 1);
      assert.equal(sample(scraped, 'backtest_queue_depth', { state: 'waiting' }), 0);
    } finally {
      await held.remove();
    }
    assert.equal(sample(await scrape(svc), 'backtest_queue_depth', { state: 'delayed' }), 0);
  });

  it('reports the revocation list not restored exactly while the guard refuses tokens for it', async () => {
    const restored = async (): Promise<number | undefined> => sample(await scrape(svc), 'revocation_list_restored');
    assert.equal(await restored(), 1);
    // Redis lost its data: the marker went with everything else
    const redis = new Redis(svc.env.REDIS_URL ?? '', { keyPrefix: svc.env.REDIS_KEY_PREFIX, lazyConnect: true });
    try {
      await redis.connect();
      await redis.del(RevocationStore.restoredKey);
    } finally {
      redis.disconnect();
    }
    assert.equal(await restored(), 0);
    const refused = await svc.http().get('/api/backtest/backtests').set('authorization', `Bearer ${user}`);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'REVOCATION_UNAVAILABLE');

    // what an auth replica does once it has copied the revocations back from PostgreSQL
    await markRevocationListRestored(svc.env.REDIS_URL ?? '', svc.env.REDIS_KEY_PREFIX ?? '');
    assert.equal(await restored(), 1);
    await svc.http().get('/api/backtest/backtests').set('authorization', `Bearer ${user}`).expect(200);
  });
});

describe('backtest queue metrics of an API replica that takes no jobs (in-process)', () => {
  let svc: InProcessBacktest;

  beforeAll(async () => {
    svc = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '0' });
    await importDemoMarket(svc);
  });
  afterAll(() => svc.close());

  it('shows a backtest waiting that no worker takes, and no wait observed', async () => {
    const user = await svc.tokenFor(randomUUID());
    await submitBacktest(svc, user);
    const scraped = await scrape(svc);
    assert.equal(sample(scraped, 'backtest_queue_depth', { state: 'waiting' }), 1);
    assert.equal(sample(scraped, 'backtest_queue_depth', { state: 'active' }), 0);
    assert.equal(sample(scraped, 'backtest_queue_wait_seconds_count'), 0);
  });
});
