import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { checkHeader, CSV_FORMATS } from './market-csv.js';
import { FastPathDeclined, PlainCsvScanner } from './csv-fast-scan.js';

export interface PlainLoadCounts {
  rowsTotal: number;
  inserted: number;
  updated: number;
  /** trading days the load added */
  newDays: number;
  /** written as a new table and swapped in */
  bulk: boolean;
}

/**
 * Past this many incoming rows, and when they are at least a quarter of the table, the bars are
 * written as a new table and swapped in: a B-tree built once over sorted keys costs a few seconds
 * per 6 M rows where maintaining it row by row (and the foreign key's per-row trigger) cost
 * nearly a minute. Smaller loads (a day, a month) upsert into the live table.
 */
export const BULK_MIN_ROWS = 200_000;
/** the bars file's bytes per row, roughly (a 6.19 M-row market is 516 MB): estimates a file's rows */
const BYTES_PER_ROW = 80;

const BARS = CSV_FORMATS.bars;
const COLUMNS = BARS.targetColumns.join(', ');
const COMPARED = BARS.updateColumns;

/** PostgreSQL refused a row's data (class 22) or a constraint (class 23): the careful path tells which line. */
export function declinesFastPath(error: unknown): boolean {
  if (error instanceof FastPathDeclined) {
    return true;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * The fast path of a bars file, inside the caller's transaction (and savepoint): the file's bytes
 * go to COPY unchanged once PlainCsvScanner saw they are plain, the table's CHECK constraint, types,
 * unique key and foreign key do the validation set-based, and nothing runs per row in JavaScript.
 * Throws FastPathDeclined (or PostgreSQL's class 22/23 error) at the first problem: the caller
 * rolls back to its savepoint and reads the file the careful way, which reports every error by line.
 */
export async function loadPlainBars(
  client: pg.ClientBase,
  input: Readable,
  sizeBytes: number | undefined,
  onLoading: (() => Promise<void>) | undefined,
): Promise<PlainLoadCounts> {
  const existing = await existingRows(client);
  const incoming = sizeBytes === undefined ? 0 : sizeBytes / BYTES_PER_ROW;
  const bulk = incoming >= BULK_MIN_ROWS && incoming * 4 >= existing;
  const target = bulk ? 'market.daily_bars_load' : 'stage_bars_plain';
  if (bulk) {
    await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
    await client.query(
      `CREATE TABLE ${target} (LIKE market.daily_bars INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)`,
    );
  } else {
    await client.query(`CREATE TEMP TABLE ${target} (LIKE market.daily_bars INCLUDING CONSTRAINTS) ON COMMIT DROP`);
  }
  const rowsTotal = await copyPlain(client, input, target, bulk);
  if (rowsTotal === 0) {
    throw new FastPathDeclined(2, 'no data rows');
  }
  const counts = bulk
    ? await bulkLoad(client, target, rowsTotal, onLoading)
    : await upsertLoad(client, target, onLoading);
  return { rowsTotal, ...counts, bulk };
}

async function existingRows(client: pg.ClientBase): Promise<number> {
  const res = await client.query<{ estimate: number }>(
    `SELECT reltuples::float8 AS estimate FROM pg_class WHERE oid = 'market.daily_bars'::regclass`,
  );
  const estimate = Number(res.rows[0]?.estimate ?? -1);
  if (estimate >= 0) {
    return estimate;
  }
  // never analysed: count it (only a young table is both unanalysed and large enough to matter)
  const counted = await client.query<{ n: string }>('SELECT count(*) AS n FROM market.daily_bars');
  return Number(counted.rows[0]?.n ?? 0);
}

async function copyPlain(client: pg.ClientBase, input: Readable, target: string, bulk: boolean): Promise<number> {
  const scanner = new PlainCsvScanner(BARS.fastFields ?? [], (names) => {
    const checked = checkHeader(BARS, names);
    return typeof checked === 'string' ? checked : undefined;
  });
  // FREEZE: the table is this transaction's own, so its rows need no later visibility pass
  const options = bulk ? 'FORMAT csv, FREEZE true' : 'FORMAT csv';
  const copy = client.query(copyFrom(`COPY ${target} (${COLUMNS}) FROM STDIN WITH (${options})`));
  try {
    await pipeline(input, scanner, copy);
  } finally {
    input.destroy();
  }
  return scanner.rows;
}

const differs = (a: string, b: string): string =>
  `(${COMPARED.map((c) => `${a}.${c}`).join(', ')}) IS DISTINCT FROM (${COMPARED.map((c) => `${b}.${c}`).join(', ')})`;

/** A day or a month of bars: checked as a set, then upserted into the live table. */
async function upsertLoad(
  client: pg.ClientBase,
  staging: string,
  onLoading: (() => Promise<void>) | undefined,
): Promise<Omit<PlainLoadCounts, 'rowsTotal' | 'bulk'>> {
  const duplicate = await client.query(`SELECT 1 FROM ${staging} GROUP BY date, code HAVING count(*) > 1 LIMIT 1`);
  if (duplicate.rowCount) {
    throw new FastPathDeclined(0, 'a duplicate key');
  }
  const unknown = await client.query(
    `SELECT 1 FROM ${staging} s WHERE NOT EXISTS (SELECT 1 FROM market.securities m WHERE m.code = s.code) LIMIT 1`,
  );
  if (unknown.rowCount) {
    throw new FastPathDeclined(0, 'an unknown code');
  }
  await onLoading?.();
  const set = COMPARED.map((c) => `${c} = EXCLUDED.${c}`).join(', ');
  const res = await client.query<{ inserted: string; updated: string }>(
    `WITH written AS (
       INSERT INTO market.daily_bars AS t (${COLUMNS}) SELECT ${COLUMNS} FROM ${staging}
       ON CONFLICT (date, code) DO UPDATE SET ${set} WHERE ${differs('t', 'EXCLUDED')}
       RETURNING (xmax = 0) AS fresh
     )
     SELECT count(*) FILTER (WHERE fresh) AS inserted, count(*) FILTER (WHERE NOT fresh) AS updated FROM written`,
  );
  const newDays = await addTradingDays(client, staging);
  return { inserted: Number(res.rows[0]?.inserted ?? 0), updated: Number(res.rows[0]?.updated ?? 0), newDays };
}

/**
 * Most of the market at once: the new table receives the file, then the live table's rows the
 * file does not replace; its unique key and foreign key are built once over the whole (a
 * duplicate or an unknown code fails them), and it replaces the live table under the same names.
 * Readers keep the old table until the swap, which waits for them and then takes a moment.
 */
async function bulkLoad(
  client: pg.ClientBase,
  load: string,
  rowsTotal: number,
  onLoading: (() => Promise<void>) | undefined,
): Promise<Omit<PlainLoadCounts, 'rowsTotal' | 'bulk'>> {
  const live = await client.query('SELECT 1 FROM market.daily_bars LIMIT 1');
  let inserted = rowsTotal;
  let updated = 0;
  if (live.rowCount) {
    const counted = await client.query<{ inserted: string; updated: string }>(
      `SELECT count(*) FILTER (WHERE o.code IS NULL) AS inserted,
              count(*) FILTER (WHERE o.code IS NOT NULL AND ${differs('o', 'n')}) AS updated
         FROM ${load} n LEFT JOIN market.daily_bars o ON o.date = n.date AND o.code = n.code`,
    );
    inserted = Number(counted.rows[0]?.inserted ?? 0);
    updated = Number(counted.rows[0]?.updated ?? 0);
    if (inserted + updated === 0) {
      // nothing to write, but a repeated key is still an error of the file (23505 from the index)
      await client.query(`CREATE UNIQUE INDEX daily_bars_load_pkey ON ${load} (date, code)`);
      await client.query(`DROP TABLE ${load}`);
      return { inserted, updated, newDays: 0 };
    }
    await client.query(
      `INSERT INTO ${load} (${COLUMNS})
       SELECT ${COLUMNS} FROM market.daily_bars o
        WHERE NOT EXISTS (SELECT 1 FROM ${load} n WHERE n.date = o.date AND n.code = o.code)`,
    );
  }
  // a key twice in the file fails here (23505), a code missing from market.securities below (23503)
  await client.query(`CREATE UNIQUE INDEX daily_bars_load_pkey ON ${load} (date, code)`);
  await client.query(
    `ALTER TABLE ${load} ADD CONSTRAINT daily_bars_load_code_fkey
       FOREIGN KEY (code) REFERENCES market.securities (code) ON DELETE CASCADE`,
  );
  await onLoading?.();
  const newDays = await addTradingDays(client, load);
  await client.query('LOCK TABLE market.daily_bars IN ACCESS EXCLUSIVE MODE');
  await client.query('DROP TABLE market.daily_bars');
  await client.query(`ALTER TABLE ${load} RENAME TO daily_bars`);
  await client.query('ALTER INDEX market.daily_bars_load_pkey RENAME TO daily_bars_pkey');
  await client.query(
    'ALTER TABLE market.daily_bars ADD CONSTRAINT daily_bars_pkey PRIMARY KEY USING INDEX daily_bars_pkey',
  );
  await client.query(
    'ALTER TABLE market.daily_bars RENAME CONSTRAINT daily_bars_load_code_fkey TO daily_bars_code_fkey',
  );
  await client.query('ANALYZE market.daily_bars');
  return { inserted, updated, newDays };
}

async function addTradingDays(client: pg.ClientBase, from: string): Promise<number> {
  const days = await client.query(
    `INSERT INTO market.trading_days (date) SELECT DISTINCT date FROM ${from} ON CONFLICT (date) DO NOTHING`,
  );
  return days.rowCount ?? 0;
}
