import { createMigratedDatabase, type TestDatabase } from '@stocklab/test-support';
import type pg from 'pg';
import type { Sql } from '../src/jobs/batch-writes.js';
import { TRADING_SCHEMAS } from './support.js';

/** A throwaway database with the market schema (backtest's migrations) and the trading schema. */
export function migratedDatabase(prefix: string): Promise<TestDatabase> {
  return createMigratedDatabase(prefix, TRADING_SCHEMAS);
}

/** A query function over one connection, shaped as the jobs' EntityManager. */
export function sqlOf(client: pg.PoolClient): Sql {
  return {
    query: async (text: string, params?: unknown[]) => (await client.query<Record<string, unknown>>(text, params)).rows,
  } as unknown as Sql;
}

/** `work` in one transaction of its own, as a fenced job transaction would run it. */
export async function inTransaction<T>(pool: pg.Pool, work: (m: Sql) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(sqlOf(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}
