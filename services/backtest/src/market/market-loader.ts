import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { checkHeader, CSV_FORMATS, type CsvFormat, type MarketKind } from './market-csv.js';
import { declinesFastPath, loadPlainBars } from './plain-bars-load.js';

export interface RowError {
  line: number;
  message: string;
}

export interface LoadOutcome {
  succeeded: boolean;
  /** data rows in the file (header excluded) */
  rowsTotal: number;
  inserted: number;
  updated: number;
  unchanged: number;
  /** the first MAX_REPORTED_ERRORS errors, by line */
  errors: RowError[];
  /** market.data_version after the load */
  dataVersion: number;
  /** the load made a new data version */
  changed: boolean;
  /** how the file was read: plain bars straight to COPY (into a new table or upserted), or record by record */
  path: 'plain-bulk' | 'plain-upsert' | 'careful';
}

export interface LoadHooks {
  /** called once validation passed, before the upsert (status "loading") */
  onLoading?: () => Promise<void>;
}

export const MAX_REPORTED_ERRORS = 20;

/**
 * Longer than any real record of the three formats (a few hundred characters at most): past it
 * the file is refused at that line, instead of csv-parse buffering the rest of a file behind an
 * unclosed quote as one record (up to DATASET_MAX_BYTES in memory).
 */
export const MAX_RECORD_CHARS = 16_384;
/** rows per COPY chunk written to the staging table */
const COPY_BATCH = 1000;
/** serializes the write phase of concurrent imports (same keys, data_version) */
const IMPORT_LOCK_KEY = 7_305_512_001;

/** A file that stops being a CSV (an unclosed quote...) ends validation where it broke. */
function csvErrorLine(error: CsvError): number {
  const lines = (error as CsvError & { lines?: number }).lines;
  return typeof lines === 'number' && lines > 0 ? lines : 1;
}

class ErrorList {
  private readonly items: RowError[] = [];
  count = 0;

  add(line: number, message: string): void {
    this.count += 1;
    // keep the earliest lines: parsing is in line order, SQL checks are merged by line later
    this.items.push({ line, message });
    if (this.items.length > MAX_REPORTED_ERRORS * 4) {
      this.trim();
    }
  }

  first(): RowError[] {
    this.trim();
    return [...this.items];
  }

  private trim(): void {
    this.items.sort((a, b) => a.line - b.line);
    this.items.splice(MAX_REPORTED_ERRORS);
  }
}

/** Opens the file to load: the careful path reads it a second time when the fast path declines. */
export type OpenInput = () => Readable | Promise<Readable>;

export interface LoadOptions extends LoadHooks {
  /** the file's size, when known: a large bars file is written as a new table and swapped in */
  sizeBytes?: number;
  /**
   * 'own' (default): the load is its own transaction (BEGIN ... COMMIT). 'caller': the caller has
   * opened a transaction on `client` and commits it: the load runs in a savepoint, so that several
   * files (a day's securities and bars: the daily ingest) are one all-or-nothing change; a refused
   * file rolls back to the savepoint only, and the caller decides.
   */
  transaction?: 'own' | 'caller';
}

/** rows counted by either path */
interface LoadCounts {
  rowsTotal: number;
  inserted: number;
  updated: number;
  newDays: number;
}

/**
 * Validates and loads one market-data CSV in ONE transaction on `client`, all or nothing; loading
 * the same file twice changes nothing (and leaves market.data_version alone). A plain bars file
 * takes the fast path (plain-bars-load.ts: COPY as it is, validated by the database); anything
 * else, or a bars file the fast path declines, is read the careful way: parsed and checked row by
 * row into a staging table, then checked as a whole, reporting the first errors by line. Used by
 * the import job and the demo data CLI alike.
 */
export async function loadMarketCsv(
  client: pg.ClientBase,
  kind: MarketKind,
  open: OpenInput,
  options: LoadOptions = {},
): Promise<LoadOutcome> {
  const format = CSV_FORMATS[kind];
  const own = options.transaction !== 'caller';
  const begin = own ? 'BEGIN' : 'SAVEPOINT market_load';
  const commit = own ? 'COMMIT' : 'RELEASE SAVEPOINT market_load';
  const rollback = own ? 'ROLLBACK' : 'ROLLBACK TO SAVEPOINT market_load';
  await client.query(begin);
  try {
    let counts: LoadCounts | undefined;
    let path: LoadOutcome['path'] = 'careful';
    let lastDayBefore: string | null = null;
    if (kind === 'bars') {
      // bars hold the write lock from the start: the fast path validates as it writes, and whether
      // the file only appends days is judged against the last day no other import can move meanwhile
      await client.query('SELECT pg_advisory_xact_lock($1)', [IMPORT_LOCK_KEY]);
      lastDayBefore = await lastTradingDay(client);
    }
    if (format.fastFields) {
      await client.query('SAVEPOINT plain_file');
      try {
        const plain = await loadPlainBars(client, await open(), options.sizeBytes, options.onLoading);
        await client.query('RELEASE SAVEPOINT plain_file');
        counts = plain;
        path = plain.bulk ? 'plain-bulk' : 'plain-upsert';
      } catch (error) {
        if (!declinesFastPath(error)) {
          throw error;
        }
        await client.query('ROLLBACK TO SAVEPOINT plain_file');
      }
    }
    if (!counts) {
      const careful = await loadCarefully(client, format, await open(), options);
      if ('errors' in careful) {
        await client.query(rollback);
        if (!own) {
          await client.query(commit);
        }
        return failed(careful.rowsTotal, careful.errors, await currentVersion(client));
      }
      counts = careful;
    }
    const { rowsTotal, inserted, updated, newDays } = counts;
    const changed = inserted + updated + newDays > 0;
    let dataVersion: number;
    if (changed) {
      const bumped = await client.query<{ version: string }>(
        `UPDATE market.data_version SET version = version + 1, updated_at = now() WHERE id = 1 RETURNING version`,
      );
      dataVersion = Number(bumped.rows[0]?.version ?? 0);
      const appendedAfter =
        updated === 0 && (await onlyAppends(client, lastDayBefore, inserted)) ? lastDayBefore : null;
      await client.query(`INSERT INTO market.data_version_log (version, appended_after) VALUES ($1, $2)`, [
        dataVersion,
        appendedAfter,
      ]);
    } else {
      dataVersion = await currentVersion(client);
    }
    await client.query(commit);
    return {
      succeeded: true,
      rowsTotal,
      inserted,
      updated,
      unchanged: rowsTotal - inserted - updated,
      errors: [],
      dataVersion,
      changed,
      path,
    };
  } catch (error) {
    // the caller's transaction is aborted by the error anyway: it rolls it back
    if (own) {
      await client.query('ROLLBACK').catch(() => undefined);
    }
    throw error;
  }
}

async function lastTradingDay(client: pg.ClientBase): Promise<string | null> {
  const { rows } = await client.query<{ last: string | null }>(
    `SELECT to_char(max(date), 'YYYY-MM-DD') AS last FROM market.trading_days`,
  );
  return rows[0]?.last ?? null;
}

/**
 * Whether the `inserted` bars of this load are exactly the bars after `lastDayBefore` (the last
 * trading day before it): then, no row having been updated, the load only appended days, and
 * processes holding the previous version extend it by those days (market.data_version_log).
 */
async function onlyAppends(client: pg.ClientBase, lastDayBefore: string | null, inserted: number): Promise<boolean> {
  if (lastDayBefore === null || inserted === 0) {
    return false;
  }
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM market.daily_bars WHERE date > $1::date`,
    [lastDayBefore],
  );
  return Number(rows[0]?.n ?? -1) === inserted;
}

/**
 * The careful path, inside the caller's transaction: the file is streamed through csv-parse into
 * a TEMP staging table with COPY (each record checked by its format), checked as a whole
 * (duplicate keys, unknown codes), then upserted into the market table counting
 * inserted/updated/unchanged rows; or the first errors by line, with nothing written.
 */
async function loadCarefully(
  client: pg.ClientBase,
  format: CsvFormat,
  input: Readable,
  hooks: LoadHooks,
): Promise<LoadCounts | { rowsTotal: number; errors: RowError[] }> {
  const errors = new ErrorList();
  let rowsTotal = 0;
  const staging = `stage_${format.kind}`;
  await client.query(`CREATE TEMP TABLE ${staging} (${format.stagingDdl}) ON COMMIT DROP`);
  const parser = parse({
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
    max_record_size: MAX_RECORD_CHARS,
  });
  input.once('error', (error) => parser.destroy(error));

  async function* copyLines(): AsyncGenerator<string> {
    let header: { hasOptional: boolean } | undefined;
    let expectedFields = format.columns.length;
    let batch: string[] = [];
    try {
      for await (const item of input.pipe(parser) as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        const { record, info } = item;
        if (!header) {
          const checked = checkHeader(format, record);
          if (typeof checked === 'string') {
            errors.add(info.lines, checked);
            return;
          }
          header = checked;
          expectedFields = format.columns.length + (checked.hasOptional ? format.optionalColumns.length : 0);
          continue;
        }
        rowsTotal += 1;
        if (record.length !== expectedFields) {
          errors.add(info.lines, `expected ${expectedFields} fields, found ${record.length}`);
          continue;
        }
        const fields = format.parse(record, header.hasOptional);
        if (typeof fields === 'string') {
          errors.add(info.lines, fields);
          continue;
        }
        // rows with errors elsewhere still go to staging: the set checks below report theirs too
        batch.push(`${info.lines}\t${fields.join('\t')}\n`);
        if (batch.length >= COPY_BATCH) {
          yield batch.join('');
          batch = [];
        }
      }
    } catch (error) {
      if (error instanceof CsvError && error.code === 'CSV_MAX_RECORD_SIZE') {
        errors.add(
          csvErrorLine(error),
          `a record longer than ${MAX_RECORD_CHARS} characters (a quote left open?): the file is not read further`,
        );
      } else if (error instanceof CsvError) {
        errors.add(csvErrorLine(error), `not a valid CSV: ${error.message.replace(/^Invalid [^:]*: /, '')}`);
      } else {
        throw error;
      }
    } finally {
      input.destroy();
    }
    if (batch.length > 0) {
      yield batch.join('');
    }
    if (!header && errors.count === 0) {
      errors.add(1, 'the file is empty: a header row is required');
    }
  }

  const copy = client.query(
    copyFrom(`COPY ${staging} (line, ${format.targetColumns.join(', ')}) FROM STDIN WITH (FORMAT text)`),
  );
  await pipeline(Readable.from(copyLines()), copy);

  if (errors.count === 0 && rowsTotal === 0) {
    errors.add(1, 'the file has a header but no data rows');
  }
  await checkSet(client, format, staging, errors);
  if (errors.count > 0) {
    return { rowsTotal, errors: errors.first() };
  }

  await hooks.onLoading?.();
  await client.query('SELECT pg_advisory_xact_lock($1)', [IMPORT_LOCK_KEY]);
  const { inserted, updated } = await upsert(client, format, staging);
  let newDays = 0;
  if (format.kind === 'bars') {
    const days = await client.query(
      `INSERT INTO market.trading_days (date) SELECT DISTINCT date FROM ${staging} ON CONFLICT (date) DO NOTHING`,
    );
    newDays = days.rowCount ?? 0;
  }
  return { rowsTotal, inserted, updated, newDays };
}

function failed(rowsTotal: number, errors: RowError[], dataVersion: number): LoadOutcome {
  return {
    succeeded: false,
    rowsTotal,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    errors,
    dataVersion,
    changed: false,
    path: 'careful',
  };
}

async function currentVersion(client: pg.ClientBase): Promise<number> {
  const res = await client.query<{ version: string }>('SELECT version FROM market.data_version WHERE id = 1');
  return Number(res.rows[0]?.version ?? 0);
}

/** Checks that need the whole file: duplicate keys, and codes missing from market.securities. */
async function checkSet(client: pg.ClientBase, format: CsvFormat, staging: string, errors: ErrorList): Promise<void> {
  const key = format.key.join(', ');
  const duplicates = await client.query<{ line: number; first: number; key: string }>(
    `SELECT line, first, key FROM (
       SELECT line, min(line) OVER (PARTITION BY ${key}) AS first, concat_ws(' ', ${key}) AS key FROM ${staging}
     ) d WHERE line <> first ORDER BY line LIMIT ${MAX_REPORTED_ERRORS}`,
  );
  for (const row of duplicates.rows) {
    errors.add(row.line, `duplicate key ${row.key}: already on line ${row.first}`);
  }
  if (format.kind !== 'securities') {
    const unknown = await client.query<{ line: number; code: string }>(
      `SELECT s.line, s.code FROM ${staging} s
       WHERE NOT EXISTS (SELECT 1 FROM market.securities m WHERE m.code = s.code)
       ORDER BY s.line LIMIT ${MAX_REPORTED_ERRORS}`,
    );
    for (const row of unknown.rows) {
      errors.add(row.line, `unknown code ${row.code}: load it with a securities file first`);
    }
  }
}

/** INSERT ... ON CONFLICT DO UPDATE only where the row differs; xmax = 0 marks fresh inserts. */
async function upsert(
  client: pg.ClientBase,
  format: CsvFormat,
  staging: string,
): Promise<{ inserted: number; updated: number }> {
  const columns = format.targetColumns.join(', ');
  const target = format.table;
  const set = format.updateColumns.map((c) => `${c} = EXCLUDED.${c}`);
  if (format.kind === 'securities') {
    set.push('updated_at = now()');
  }
  const current = format.updateColumns.map((c) => `t.${c}`).join(', ');
  const incoming = format.updateColumns.map((c) => `EXCLUDED.${c}`).join(', ');
  const res = await client.query<{ inserted: string; updated: string }>(
    `WITH written AS (
       INSERT INTO ${target} AS t (${columns})
       SELECT ${columns} FROM ${staging}
       ON CONFLICT (${format.key.join(', ')}) DO UPDATE SET ${set.join(', ')}
       WHERE (${current}) IS DISTINCT FROM (${incoming})
       RETURNING (xmax = 0) AS fresh
     )
     SELECT count(*) FILTER (WHERE fresh) AS inserted, count(*) FILTER (WHERE NOT fresh) AS updated FROM written`,
  );
  return { inserted: Number(res.rows[0]?.inserted ?? 0), updated: Number(res.rows[0]?.updated ?? 0) };
}
