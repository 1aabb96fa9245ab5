import type { Market, StockInfo } from '@stocklab/strategy-engine';
import type { ClientBase } from 'pg';
import { CodeIndex } from './copy-rows.js';
import { onlyAppendedSince } from './extend-market-data.js';
import { copyBars, currentDataVersion, FIELDS, type PriceArrays } from './load-market-data.js';
import type { MarketIncrement } from './snapshot-codec.js';

/** How the import job stored `version`'s snapshot: 0 whole, n an increment n above a whole one; undefined: it did not. */
export async function storedChainOf(client: Pick<ClientBase, 'query'>, version: string): Promise<number | undefined> {
  const { rows } = await client.query<{ chain: number | null }>(
    `SELECT stored_chain AS chain FROM market.data_version_log WHERE version = $1::bigint`,
    [version],
  );
  return rows[0]?.chain ?? undefined;
}

export async function recordStored(client: Pick<ClientBase, 'query'>, version: string, chain: number): Promise<void> {
  await client.query(`UPDATE market.data_version_log SET stored_chain = $2 WHERE version = $1::bigint`, [
    version,
    chain,
  ]);
}

/**
 * The current version as an increment on `base` (the days it appended, their bars), read in one
 * REPEATABLE READ transaction: only when it is `base` + 1 and appended days (the import's log
 * says so). Undefined otherwise: the caller stores the whole.
 */
export async function loadIncrement(
  client: ClientBase,
  base: string,
  chain: number,
): Promise<{ increment: MarketIncrement; stocks: StockInfo[] } | undefined> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    // as loadMarketSnapshot: a bulk import's table swap must not land inside this read
    await client.query('LOCK TABLE market.daily_bars IN ACCESS SHARE MODE');
    const version = await currentDataVersion(client);
    if (BigInt(version) - BigInt(base) !== 1n || !(await onlyAppendedSince(client, base, version))) {
      await client.query('COMMIT');
      return undefined;
    }
    const { rows: logged } = await client.query<{ after: string }>(
      `SELECT to_char(appended_after, 'YYYYMMDD') AS after FROM market.data_version_log WHERE version = $1::bigint`,
      [version],
    );
    const after = Number(logged[0]?.after);
    const days = Int32Array.from(
      (
        await client.query<{ d: string }>(
          `SELECT to_char(date, 'YYYYMMDD') AS d FROM market.trading_days WHERE date > to_date($1, 'YYYYMMDD') ORDER BY date`,
          [String(after)],
        )
      ).rows.map((r) => Number(r.d)),
    );
    const securities = (
      await client.query<{ code: string; market: Market; sector: string }>(
        `SELECT code, market, sector FROM market.securities ORDER BY code`,
      )
    ).rows;
    const codes = securities.map((s) => s.code);
    const S = codes.length;
    const columns = Object.fromEntries(
      FIELDS.map((f) => [f, new Float64Array(days.length * S).fill(Number.NaN)]),
    ) as PriceArrays;
    if (days.length > 0) {
      await copyBars(client, new CodeIndex(codes), new Map([...days].map((d, i) => [d, i])), S, columns, days[0]);
    }
    await client.query('COMMIT');
    return {
      increment: { version, base, chain, after, codes, dates: days, columns },
      stocks: securities.map((s) => ({ market: s.market, sector: s.sector })),
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
