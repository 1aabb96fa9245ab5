import type { MarketData, PriceColumn } from '@stocklab/strategy-engine';
import type { ClientBase } from 'pg';
import { CodeIndex } from './copy-rows.js';
import {
  benchmarksOf,
  copyBars,
  currentDataVersion,
  FIELDS,
  type LoadMarketOptions,
  type MarketSnapshot,
  type PriceArrays,
} from './load-market-data.js';
import { exactlyFloat32, extendPriceColumn, widenPriceColumn } from './price-columns.js';
import { SnapshotCorruptError, type MarketIncrement } from './snapshot-codec.js';

/**
 * Whether every version after `from` up to `to` only appended trading days after the market's
 * last one (market.data_version_log, written by the import): then `from`'s securities,
 * statements and bars are all still true, and only the days after its last are new.
 */
export async function onlyAppendedSince(client: Pick<ClientBase, 'query'>, from: string, to: string): Promise<boolean> {
  const gap = BigInt(to) - BigInt(from);
  if (gap < 0n) {
    return false;
  }
  if (gap === 0n) {
    return true;
  }
  const { rows } = await client.query<{ versions: string; appends: string }>(
    `SELECT count(*) AS versions, count(appended_after) AS appends FROM market.data_version_log
      WHERE version > $1::bigint AND version <= $2::bigint`,
    [from, to],
  );
  const row = rows[0];
  return row !== undefined && BigInt(row.versions) === gap && BigInt(row.appends) === gap;
}

/**
 * The current version as `base` plus the trading days after its last day (before
 * `options.before` for a job's window), read from PostgreSQL in one REPEATABLE READ transaction:
 * only those days' bars, however long the history. Undefined when a version since `base` changed
 * more than that (the caller loads the whole). The price columns grow in place where they can
 * (see price-columns.ts): `base` stays valid and unchanged for the jobs still using it.
 */
export async function extendMarketSnapshot(
  client: ClientBase,
  base: MarketSnapshot,
  options: LoadMarketOptions = {},
): Promise<MarketSnapshot | undefined> {
  const started = performance.now();
  const D0 = base.data.dates.length;
  const last = base.data.dates[D0 - 1];
  if (last === undefined || (options.before !== undefined && last >= options.before)) {
    return undefined; // nothing to extend, or a window that must end earlier than base does
  }
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    // as loadMarketSnapshot: a bulk import's table swap must not land inside this snapshot
    await client.query('LOCK TABLE market.daily_bars IN ACCESS SHARE MODE');
    const version = await currentDataVersion(client);
    if (!(await onlyAppendedSince(client, base.version, version))) {
      await client.query('COMMIT');
      return undefined;
    }
    const days = (
      await client.query<{ d: string }>(
        `SELECT to_char(date, 'YYYYMMDD') AS d FROM market.trading_days
          WHERE date > to_date($1, 'YYYYMMDD') AND ($2::text IS NULL OR date < to_date($2, 'YYYYMMDD'))
          ORDER BY date`,
        [String(last), options.before === undefined ? null : String(options.before)],
      )
    ).rows.map((r) => Number(r.d));
    const S = base.data.codes.length;
    const k = days.length;
    // the new days' bars first, into a small buffer: nothing is grown before the reading succeeded
    const tail = Object.fromEntries(FIELDS.map((f) => [f, new Float64Array(k * S).fill(Number.NaN)])) as PriceArrays;
    if (k > 0) {
      await copyBars(client, new CodeIndex(base.data.codes), new Map(days.map((d, i) => [d, i])), S, tail, days[0]);
    }
    await client.query('COMMIT');
    return {
      ...appendDays(base, version, Int32Array.from(days), tail),
      loadedInMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * `base` followed by `days` (after its last day) whose bars are `tail` (day-major, days x the
 * same codes): the price columns grown in place where they can (see price-columns.ts), the
 * benchmarks continued from their last level, the rest shared with `base`.
 */
export function appendDays(base: MarketSnapshot, version: string, days: Int32Array, tail: PriceArrays): MarketSnapshot {
  const D0 = base.data.dates.length;
  const S = base.data.codes.length;
  const k = days.length;
  const D = D0 + k;
  const columns = Object.fromEntries(
    FIELDS.map((f) => {
      const held = base.data[f];
      // a float32 column takes a value no float32 holds exactly as float64s from then on
      const column =
        held instanceof Float32Array && !exactlyFloat32(tail[f])
          ? widenPriceColumn(held, D, S)
          : k > 0
            ? extendPriceColumn(held, D, S)
            : held;
      column.set(tail[f], D0 * S);
      return [f, column];
    }),
  ) as Record<(typeof FIELDS)[number], PriceColumn>;
  const dates = new Int32Array(D);
  dates.set(base.data.dates);
  dates.set(days, D0);
  const data: MarketData = { ...base.data, dates, ...columns };
  return {
    version,
    data,
    benchmarks: benchmarksOf(data, base.benchmarks),
    loadedInMs: 0,
    precedingDates: base.precedingDates,
  };
}

/**
 * The version an increment holds, from the snapshot of its base: throws SnapshotCorruptError when
 * they do not fit (another base, other securities, days that do not follow the base's last).
 */
export function applyMarketIncrement(base: MarketSnapshot, increment: MarketIncrement): MarketSnapshot {
  const last = base.data.dates.at(-1);
  const codes = base.data.codes;
  if (increment.base !== base.version) {
    throw new SnapshotCorruptError(
      `increment ${increment.version} is on version ${increment.base}, not ${base.version}`,
    );
  }
  if (increment.after !== last || (increment.dates[0] ?? Number.POSITIVE_INFINITY) <= (last ?? 0)) {
    throw new SnapshotCorruptError(
      `increment ${increment.version} does not follow the last day of version ${base.version}`,
    );
  }
  if (increment.codes.length !== codes.length || increment.codes.some((c, i) => c !== codes[i])) {
    throw new SnapshotCorruptError(
      `increment ${increment.version} holds other securities than version ${base.version}`,
    );
  }
  return appendDays(base, increment.version, increment.dates, increment.columns);
}
