import type { EntityManager } from 'typeorm';

/** What the batched reads and writes need of a transaction (an EntityManager; a pg client in tests). */
export type Sql = Pick<EntityManager, 'query'>;

/**
 * Rows per multi-row statement: a day of 10,000 strategies writes 100,000s of rows, and one
 * statement per chunk keeps each statement's parameter text to a few MB. The chunks of one write
 * run in the caller's transaction, so the write is still all or nothing.
 */
export const ROWS_PER_STATEMENT = 5_000;

/**
 * Runs `sql` once per chunk of `rows`, in order: parameters $1..$n are one array per column
 * (the statement reads them with unnest), then the scalar `extra` parameters.
 */
export async function forChunks<R>(
  m: Sql,
  rows: readonly R[],
  columns: ReadonlyArray<(row: R) => unknown>,
  sql: string,
  extra: readonly unknown[] = [],
): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
    await m.query(sql, [...columns.map((column) => chunk.map(column)), ...extra]);
  }
}

/** A strategy log line as strategyLog writes it. */
export interface LogRow {
  strategyId: string;
  level: 'info' | 'warn' | 'error';
  message: string;
  details?: Record<string, unknown>;
}

/**
 * Writes log lines in their order (their ids ascend as strategyLog called one by one would give
 * them: the rows are inserted sorted by their position in the list).
 */
export async function insertLogs(m: Sql, runKey: string | null, logs: readonly LogRow[]): Promise<void> {
  await forChunks(
    m,
    logs,
    [(l) => l.strategyId, (l) => l.level, (l) => l.message, (l) => JSON.stringify(l.details ?? {})],
    `INSERT INTO trading.strategy_logs (auto_strategy_id, run_key, level, message, details)
     SELECT l.id, $5::text, l.level, l.message, l.details::jsonb
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS l(id, level, message, details, n)
      ORDER BY l.n`,
    [runKey],
  );
}
