import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DomainError } from '@stocklab/platform';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { CURSOR_TEXT } from '../backtests/cursor.js';
import { lastIngestRun } from '../ingest/daily-ingest.js';
import {
  MARKETS,
  type MarketStatusDto,
  type SecuritiesPageDto,
  type SecuritiesQueryDto,
  type SectorsDto,
  type SecurityDto,
} from './dto/market-lookup.dto.js';

interface SecurityRow {
  code: string;
  name: string;
  market: string;
  sector: string;
  listed_on: string;
  delisted_on: string | null;
}

/**
 * The securities with their market and sector as of the date in parameter `$n` (null: the current
 * ones), by the engine's rule (StockInfo.history): the latest classification from on or before the
 * date, before the first one the first one, and a stock without any its current values. So a
 * builder counts and filters a date's universe exactly as a backtest of that date does.
 */
const classifiedAsOf = (n: number): string => `(
  SELECT s.code, s.name, s.listed_on, s.delisted_on,
         coalesce(h.market, s.market) AS market, coalesce(h.sector, s.sector) AS sector
    FROM market.securities s
    LEFT JOIN LATERAL (
      SELECT c.market, c.sector FROM market.security_classifications c
       WHERE c.code = s.code AND $${n}::date IS NOT NULL
       ORDER BY c.valid_from <= $${n}::date DESC, abs(c.valid_from - $${n}::date)
       LIMIT 1
    ) h ON true
  ) AS s`;

const SECURITY_COLUMNS = `code, name, market, sector, to_char(listed_on, 'YYYY-MM-DD') AS listed_on,
  to_char(delisted_on, 'YYYY-MM-DD') AS delisted_on`;

/** A code as the securities table holds it (six digits or capitals): the only thing a cursor carries. */
const CODE = /^[0-9A-Z]{6}$/;

function validDay(iso: string, field: string): string {
  const d = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== iso || iso < '1956-01-01' || iso > '2100-12-31') {
    throw new DomainError(400, 'INVALID_DATE', `${field} is not a valid date`);
  }
  return iso;
}

/** The search text as a LIKE prefix: the user's % and _ are letters, not wildcards. */
function likePrefix(text: string): string {
  return `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function cursorOf(code: string): string {
  return Buffer.from(JSON.stringify([code])).toString('base64url');
}

function codeAfter(cursor: string | undefined): string | null {
  if (cursor === undefined) {
    return null;
  }
  try {
    if (CURSOR_TEXT.test(cursor)) {
      const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
      if (Array.isArray(parsed) && parsed.length === 1 && typeof parsed[0] === 'string' && CODE.test(parsed[0])) {
        return parsed[0];
      }
    }
  } catch {
    /* fall through */
  }
  throw new DomainError(400, 'INVALID_CURSOR', 'cursor is not a value returned as nextCursor');
}

const toSecurity = (r: SecurityRow): SecurityDto => ({
  code: r.code,
  name: r.name,
  market: r.market,
  sector: r.sector,
  listedOn: r.listed_on,
  delistedOn: r.delisted_on,
});

/**
 * What a strategy builder looks up in the market: securities by code or name, the markets and
 * sectors with how many securities each holds on a date, and how fresh the data is. Read-only
 * over the `market` schema (a few thousand securities: every query here is a scan of that table
 * or an index probe of the bars, milliseconds).
 */
@Injectable()
export class MarketLookupService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Code order; keyset pagination on the code. A name prefix matches case-insensitively, Hangul as
   * typed (NFC). With `listedOn`, the securities listed that day with their market and sector of
   * that day (filters included); without, every security with its current ones.
   */
  async securities(query: SecuritiesQueryDto): Promise<SecuritiesPageDto> {
    const after = codeAfter(query.cursor);
    const listedOn = query.listedOn === undefined ? null : validDay(query.listedOn, 'listedOn');
    const text = query.q?.normalize('NFC').trim();
    if (query.q !== undefined && !text) {
      throw new DomainError(400, 'VALIDATION_FAILED', 'q must not be blank');
    }
    const limit = query.limit ?? 20;
    const rows = await this.dataSource.query<SecurityRow[]>(
      `SELECT ${SECURITY_COLUMNS} FROM ${classifiedAsOf(4)}
        WHERE ($1::text IS NULL OR code LIKE upper($1) ESCAPE '\\' OR lower(name) LIKE lower($1) ESCAPE '\\')
          AND ($2::text IS NULL OR market = $2)
          AND ($3::text IS NULL OR sector = $3)
          AND ($4::date IS NULL OR (listed_on <= $4::date AND (delisted_on IS NULL OR delisted_on > $4::date)))
          AND ($5::text IS NULL OR code > $5)
        ORDER BY code LIMIT $6`,
      [
        text ? likePrefix(text) : null,
        query.market ?? null,
        query.sector?.normalize('NFC').trim() ?? null,
        listedOn,
        after,
        limit + 1,
      ],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toSecurity), nextCursor: rows.length > limit && last ? cursorOf(last.code) : null };
  }

  /**
   * Markets and sectors with the number of securities listed on `date` (default: the last trading
   * day), each counted in its market and sector of that date.
   */
  async sectors(date: string | undefined): Promise<SectorsDto> {
    const asOf = date === undefined ? await this.lastTradingDay() : validDay(date, 'date');
    if (asOf === null) {
      return { date: null, total: 0, markets: MARKETS.map((market) => ({ market, count: 0 })), sectors: [] };
    }
    const rows = await this.dataSource.query<{ market: string; sector: string; n: string }[]>(
      `SELECT market, sector, count(*) AS n FROM ${classifiedAsOf(1)}
        WHERE listed_on <= $1::date AND (delisted_on IS NULL OR delisted_on > $1::date)
        GROUP BY market, sector ORDER BY sector, market`,
      [asOf],
    );
    const perMarket = new Map<string, number>(MARKETS.map((m) => [m, 0]));
    const perSector = new Map<string, Record<string, number>>();
    for (const r of rows) {
      const n = Number(r.n);
      perMarket.set(r.market, (perMarket.get(r.market) ?? 0) + n);
      const byMarket = perSector.get(r.sector) ?? {};
      byMarket[r.market] = n;
      perSector.set(r.sector, byMarket);
    }
    const sectors = [...perSector].map(([sector, byMarket]) => ({
      sector,
      count: Object.values(byMarket).reduce((a, b) => a + b, 0),
      byMarket,
    }));
    return {
      date: asOf,
      total: [...perMarket.values()].reduce((a, b) => a + b, 0),
      markets: [...perMarket].map(([market, count]) => ({ market, count })),
      sectors,
    };
  }

  /** How fresh the market data is: its version, its trading days, the last bar per market, the last import. */
  async status(): Promise<MarketStatusDto> {
    const [version] = await this.dataSource.query<{ version: string; updated_at: Date }[]>(
      `SELECT version::text AS version, updated_at FROM market.data_version WHERE id = 1`,
    );
    const [days] = await this.dataSource.query<{ first: string | null; last: string | null; n: string }[]>(
      `SELECT to_char(min(date), 'YYYY-MM-DD') AS first, to_char(max(date), 'YYYY-MM-DD') AS last, count(*) AS n
         FROM market.trading_days`,
    );
    const last = days?.last ?? null;
    // per market, the bars' key (date, code) read backwards from the newest date: stops at its first row
    const markets = await this.dataSource.query<{ market: string; listed: string; latest: string | null }[]>(
      `SELECT m.market,
              (SELECT count(*) FROM ${classifiedAsOf(1)}
                WHERE s.market = m.market AND $1::date IS NOT NULL AND s.listed_on <= $1::date
                  AND (s.delisted_on IS NULL OR s.delisted_on > $1::date)) AS listed,
              (SELECT to_char(b.date, 'YYYY-MM-DD') FROM market.daily_bars b JOIN market.securities s USING (code)
                WHERE s.market = m.market ORDER BY b.date DESC LIMIT 1) AS latest
         FROM unnest($2::text[]) AS m(market)`,
      [last, [...MARKETS]],
    );
    const [lastImport] = await this.dataSource.query<
      { kind: string; status: string; created_at: Date; finished_at: Date | null }[]
    >(`SELECT kind, status, created_at, finished_at FROM backtest.datasets ORDER BY created_at DESC, id LIMIT 1`);
    const pool = (this.dataSource.driver as unknown as { master: pg.Pool }).master;
    const lastIngest = await lastIngestRun(pool);
    const [ingested] = await this.dataSource.query<{ last: string | null }[]>(
      `SELECT to_char(max(date), 'YYYY-MM-DD') AS last FROM market.ingest_runs WHERE status = 'succeeded'`,
    );
    return {
      dataVersion: version?.version ?? '0',
      dataUpdatedAt: (version?.updated_at ?? new Date(0)).toISOString(),
      firstTradingDay: days?.first ?? null,
      lastTradingDay: last,
      tradingDays: Number(days?.n ?? 0),
      markets: markets.map((m) => ({ market: m.market, listed: Number(m.listed), latestBarDate: m.latest })),
      lastImport: lastImport
        ? {
            kind: lastImport.kind,
            status: lastImport.status,
            createdAt: lastImport.created_at.toISOString(),
            finishedAt: lastImport.finished_at?.toISOString() ?? null,
          }
        : null,
      lastIngest,
      lastIngestedDate: ingested?.last ?? null,
    };
  }

  private async lastTradingDay(): Promise<string | null> {
    const [row] = await this.dataSource.query<{ last: string | null }[]>(
      `SELECT to_char(max(date), 'YYYY-MM-DD') AS last FROM market.trading_days`,
    );
    return row?.last ?? null;
  }
}
