import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import pg from 'pg';
import { BacktestRetention } from '../src/backtests/backtest-retention.js';
import { ObjectStorage } from '../src/storage/object-storage.js';
import { startInProcessBacktest, type InProcessBacktest } from './support.js';

/**
 * Per-user quota and retention of finished backtests: the newest BACKTEST_MAX_STORED_PER_USER of
 * each user are kept, finished ones older than BACKTEST_RETENTION_DAYS go, with their result rows
 * and exports; queued and running ones are never touched.
 */
describe('backtest retention and per-user quota', () => {
  let svc: InProcessBacktest;
  let pool: pg.Pool;
  let storage: ObjectStorage;

  beforeAll(async () => {
    svc = await startInProcessBacktest({
      BACKTEST_CONCURRENCY: '0',
      BACKTEST_RETENTION_DAYS: '30',
      BACKTEST_MAX_STORED_PER_USER: '3',
      // the test sweeps itself: the timer must not do it first
      BACKTEST_RETENTION_SWEEP_SECONDS: '86400',
    });
    pool = new pg.Pool({ connectionString: svc.db.url, max: 2 });
    storage = svc.app.get(ObjectStorage);
  });
  afterAll(async () => {
    await pool.end();
    await svc.close();
  });

  /** A backtest row as a run leaves it, with an equity row and its two exports. */
  async function backtest(owner: string, status: string, finishedDaysAgo: number | null): Promise<string> {
    const id = randomUUID();
    const exportKey = `backtests/${id}`;
    await pool.query(
      `INSERT INTO backtest.backtests (id, owner_id, definition, from_date, to_date, status, export_key, finished_at)
       VALUES ($1, $2, '{}', '2020-01-01', '2020-12-31', $3, $4, CASE WHEN $5::int IS NULL THEN NULL ELSE now() - make_interval(days => $5::int) END)`,
      [id, owner, status, exportKey, finishedDaysAgo],
    );
    await pool.query(
      `INSERT INTO backtest.backtest_equity (backtest_id, day, value, cash, invested, daily_return, drawdown)
       VALUES ($1, '2020-01-02', 1, 1, 0, 0, 0)`,
      [id],
    );
    await storage.put(`${exportKey}/equity.csv`, 'day,value\n', 'text/csv');
    await storage.put(`${exportKey}/trades.csv`, 'day,code\n', 'text/csv');
    return id;
  }

  const exists = async (id: string): Promise<boolean> =>
    (await pool.query('SELECT 1 FROM backtest.backtests WHERE id = $1', [id])).rowCount === 1;

  async function exportExists(id: string): Promise<boolean> {
    try {
      const { body } = await storage.get(`backtests/${id}/equity.csv`);
      body.resume();
      return true;
    } catch {
      return false;
    }
  }

  it('keeps the newest finished backtests of each user and those still queued or running; deletes the rest with rows and exports', async () => {
    const heavy = randomUUID();
    const light = randomUUID();
    // heavy: five finished (1-5 days ago), one running, one queued; light: one recent, one past retention
    const finished = [];
    for (const days of [5, 4, 3, 2, 1]) {
      finished.push(await backtest(heavy, days % 2 === 0 ? 'failed' : 'succeeded', days));
    }
    const running = await backtest(heavy, 'running', null);
    const queued = await backtest(heavy, 'queued', null);
    const recent = await backtest(light, 'succeeded', 10);
    const expired = await backtest(light, 'cancelled', 45);

    assert.equal(await svc.app.get(BacktestRetention).sweep(), 3);

    const kept = [...finished.slice(2), running, queued, recent];
    const gone = [...finished.slice(0, 2), expired];
    for (const id of kept) {
      assert.ok(await exists(id), `kept ${id}`);
      assert.ok(await exportExists(id), `export kept ${id}`);
    }
    for (const id of gone) {
      assert.equal(await exists(id), false, `deleted ${id}`);
      assert.equal(await exportExists(id), false, `export deleted ${id}`);
    }
    const { rows } = await pool.query(
      'SELECT count(*)::int AS n FROM backtest.backtest_equity WHERE backtest_id = ANY($1)',
      [gone],
    );
    assert.equal(rows[0].n, 0, 'their result rows went with them');
    assert.equal(await svc.app.get(BacktestRetention).sweep(), 0, 'a second sweep finds nothing');
  });

  it('shares the work between simultaneous sweeps (replicas) without deleting anything twice or too much', async () => {
    const owner = randomUUID();
    const ids = [];
    for (let i = 0; i < 12; i += 1) {
      ids.push(await backtest(owner, 'succeeded', 12 - i));
    }
    const retention = svc.app.get(BacktestRetention);
    const counts = await Promise.all([retention.sweep(), retention.sweep(), retention.sweep()]);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      9,
    );
    const left = await pool.query<{ id: string }>(
      'SELECT id FROM backtest.backtests WHERE owner_id = $1 ORDER BY finished_at',
      [owner],
    );
    assert.deepEqual(
      left.rows.map((r) => r.id),
      ids.slice(9),
    );
  });
});
