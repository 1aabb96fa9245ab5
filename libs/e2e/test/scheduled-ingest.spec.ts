import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { KrxOpenApiDouble } from '@stocklab/market-providers';
import { request, testRedisUrl, uniqueKeyPrefix, waitFor } from '@stocklab/test-support';
import { Redis } from 'ioredis';
import type { Replica } from '@stocklab/test-support';
import { createServiceAccount, startE2EPlatform, type E2EPlatform } from '../src/harness.js';

const KEY = `KRX${'5'.repeat(37)}`;
const PASSWORD = 'correct horse battery staple';
/** KRX's closed days of the scripted week (2025-04-28..05-08) that are not weekends */
const HOLIDAYS = ['2025-05-01', '2025-05-05', '2025-05-06'];
/** each trading day of the week after the first, and the day its 06:00 ingest brings in */
const DAYS: Array<[day: string, ingests: string]> = [
  ['2025-04-29', '2025-04-28'],
  ['2025-04-30', '2025-04-29'],
  ['2025-05-02', '2025-04-30'],
  ['2025-05-07', '2025-05-02'],
  ['2025-05-08', '2025-05-07'],
];
const OUTAGE_DAY = '2025-04-30';
const KILL_DAY = '2025-05-07';

interface JobRunRow {
  trading_date: string;
  status: string;
  epoch: string;
  attempts: number;
  summary: Record<string, unknown>;
  error: string | null;
}

/**
 * The daily market ingest as the trading scheduler runs it: three trading replicas electing their
 * leader through the Lease double, on a replayed clock, an auth and a backtest replica, and the
 * KRX Open API double serving the scripted week (a holiday run, a listing, a split). Each trading
 * day's 06:00 ingest brings in the trading day before, once, and the 07:00 select decides on it;
 * an outage is waited out; the leader SIGKILLed in the middle of an ingest leaves one ingest.
 */
describe('the daily ingest on the trading scheduler (3 replicas, replayed clock, KRX double)', () => {
  let double: KrxOpenApiDouble;
  let p: E2EPlatform;
  let redis: Redis;
  const prefix = uniqueKeyPrefix('e2e-ingest');
  const email = `scheduler-${randomUUID().slice(0, 8)}@example.com`;
  const admin = (): string => p.token(randomUUID(), ['user', 'admin']);

  /** Moves every trading replica's clock (read from Redis) to `time` Asia/Seoul on `date`. */
  const setClock = (date: string, time: string): Promise<unknown> =>
    redis.set(`${prefix}trading:replay-clock`, new Date(`${date}T${time}+09:00`).toISOString());

  const runOf = async (job: string, date: string): Promise<JobRunRow | undefined> => {
    const { rows } = await p.pool.query<JobRunRow>(
      `SELECT to_char(trading_date, 'YYYY-MM-DD') AS trading_date, status, epoch::text AS epoch, attempts, summary, error
         FROM trading.job_runs WHERE job = $1 AND trading_date = $2`,
      [job, date],
    );
    assert.ok(rows.length <= 1, `one ${job} run of ${date} at most`);
    return rows[0];
  };

  const finished = (job: string, date: string) =>
    waitFor(
      `${job} of ${date} finished by the scheduler`,
      async () => {
        const run = await runOf(job, date);
        return run && run.status !== 'running' && run.status !== 'waiting' ? run : undefined;
      },
      120_000,
      100,
    );

  const ingestRuns = async (date: string) =>
    (
      await p.pool.query<{ status: string; trigger: string }>(
        `SELECT status, trigger FROM market.ingest_runs WHERE date = $1 ORDER BY attempt`,
        [date],
      )
    ).rows;

  const leader = async (): Promise<Replica> =>
    waitFor(
      'one trading leader',
      async () => {
        const leaders: Replica[] = [];
        for (const replica of p.replicas('trading').filter((r) => r.running)) {
          const res = await request<{ role?: string }>('GET', `${replica.url}/api/trading/scheduler`, {
            token: admin(),
          }).catch(() => undefined);
          if (res?.status === 200 && res.body.role === 'leader') {
            leaders.push(replica);
          }
        }
        return leaders.length === 1 ? leaders[0] : undefined;
      },
      30_000,
      100,
    );

  beforeAll(async () => {
    double = await KrxOpenApiDouble.start();
    double.addKey(KEY);
    redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
    // the evening of the week's first trading day, after its crons: nothing is due until the next 06:00
    await setClock('2025-04-28', '20:00:00');
    p = await startE2EPlatform({
      market: 'empty',
      keyPrefix: prefix,
      services: ['auth', 'backtest', 'trading'],
      replicas: { auth: 1, backtest: 1, trading: 3 },
      serviceEnv: {
        backtest: {
          KRX_API_KEY: KEY,
          KRX_API_URL: double.url,
          KRX_REQUESTS_PER_SECOND: '50',
          KRX_RETRY_ATTEMPTS: '2',
          KRX_RETRY_BASE_MS: '10',
          BACKTEST_CONCURRENCY: '0',
        },
        trading: {
          TRADING_CLOCK: 'replay',
          TRADING_SERVICE_EMAIL: email,
          TRADING_SERVICE_PASSWORD: PASSWORD,
          TRADING_INGEST_CRON: '0 0 6 * * *',
          TRADING_SELECT_CRON: '0 0 7 * * *',
          TRADING_EXECUTE_CRON: '0 0 9 * * *',
          TRADING_RECONCILE_CRON: '0 40 15 * * *',
          CATCH_UP_INTERVAL_SECONDS: '1',
          TRADING_MARKET_MIN_DAYS: '2',
        },
      },
    });
    // the scheduler's service account: an account with the market-ingest role only
    await createServiceAccount(p, { email, password: PASSWORD, roles: ['market-ingest'] });
    for (const date of HOLIDAYS) {
      const res = await request('PUT', `${p.gateway}/api/trading/calendar/holidays/${date}`, {
        token: admin(),
        body: { name: 'KRX closed' },
      });
      assert.ok(res.status === 200 || res.status === 201, `holiday ${date}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    // the first day's data, as an operator's backfill would leave it before the schedule takes over
    const first = await request('POST', `${p.gateway}/api/backtest/market/ingest`, {
      token: admin(),
      body: { date: '2025-04-28', tradingDay: true },
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
  });

  afterAll(async () => {
    await p?.stop();
    await redis?.quit();
    await double?.close();
  });

  it("ingests each trading day's previous trading day once at 06:00, before select decides on it; waits out an outage; survives the leader killed mid-ingest", async () => {
    for (const [day, ingests] of DAYS) {
      if (day === OUTAGE_DAY) {
        // KRX answers 503 to more calls than one trigger's retries: the run waits, the sweep tries again
        double.inject('http-503', { times: 6 });
      }
      if (day === KILL_DAY) {
        // KRX holds its first answer for 6 s: long enough to kill the leader while the ingest runs
        double.inject('timeout', { delayMs: 6000, times: 1 });
      }
      await setClock(day, '06:00:01');
      if (day === KILL_DAY) {
        await waitFor(
          `the ingest of ${ingests} running`,
          async () => ((await ingestRuns(ingests)).some((r) => r.status === 'running') ? true : undefined),
          60_000,
          50,
        );
        const victim = await leader();
        await victim.kill();
      }
      const ingest = await finished('ingest', day);
      assert.equal(ingest.status, 'succeeded', `ingest of ${day}: ${ingest.status} ${ingest.error}`);
      assert.equal(ingest.summary.date, ingests);
      assert.equal(ingest.summary.status, 'succeeded');
      // no OpenDART key on the backtest replica: the statements part is off, not a failure
      assert.equal(ingest.summary.statements, 'off');

      // exactly one succeeded ingest of the date, whoever asked and however often
      const runs = await ingestRuns(ingests);
      assert.equal(runs.filter((r) => r.status === 'succeeded').length, 1, `${ingests}: ${JSON.stringify(runs)}`);
      if (day === OUTAGE_DAY) {
        assert.ok(ingest.attempts > 1, 'the outage made the run wait and try again');
        assert.ok(
          runs.some((r) => r.status === 'failed'),
          'the failed attempts are recorded',
        );
      }
      if (day === KILL_DAY) {
        // the successor ran the same occurrence again: its trigger waited for the first and answered it
        assert.deepEqual(
          runs.map((r) => r.status),
          ['succeeded'],
        );
        assert.equal(ingest.summary.replayed, true);
      }

      await setClock(day, '07:00:01');
      const select = await finished('select', day);
      assert.equal(select.status, 'succeeded', `select of ${day}: ${select.error}`);
      assert.equal(select.summary.signalDate, ingests, `select of ${day} decides on ${ingests}`);
    }

    // the weekend and the holidays between 05-02 and 05-07 had no ingest run
    const { rows: ingestDays } = await p.pool.query<{ d: string }>(
      `SELECT to_char(trading_date, 'YYYY-MM-DD') AS d FROM trading.job_runs WHERE job = 'ingest' ORDER BY 1`,
    );
    assert.deepEqual(
      ingestDays.map((r) => r.d),
      DAYS.map(([day]) => day),
    );
    const { rows: tradingDays } = await p.pool.query<{ d: string }>(
      `SELECT to_char(date, 'YYYY-MM-DD') AS d FROM market.trading_days ORDER BY 1`,
    );
    assert.deepEqual(
      tradingDays.map((r) => r.d),
      DAYS.map(([, ingests]) => ingests),
    );
  });
});
