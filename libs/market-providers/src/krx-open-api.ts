import type { Redis } from 'ioredis';
import { ProviderAuthFailed, ProviderDataInvalid, ProviderRequestRefused, ProviderUnavailable } from './errors.js';
import { httpRequest, isYmd, parseJson, parseProviderNumber, providerPacer } from './http.js';
import { withRetries, type RetryPolicy } from './retry.js';
import {
  MARKETS,
  type DailyBar,
  type DailyBarsOptions,
  type Market,
  type MarketDataProvider,
  type MarketDay,
} from './types.js';

/** The KRX Open API's data host (REFERENCE.md §1). */
export const KRX_OPEN_API_HOST = 'https://data-dbg.krx.co.kr';

/** 유가증권/코스닥/코넥스 일별매매정보: one GET per market and date. */
export const KRX_DAILY_TRADE_PATHS: Readonly<Record<Market, string>> = {
  KOSPI: '/svc/apis/sto/stk_bydd_trd',
  KOSDAQ: '/svc/apis/sto/ksq_bydd_trd',
  KONEX: '/svc/apis/sto/knx_bydd_trd',
};

const PROVIDER = 'krx-open-api';

export interface KrxOpenApiOptions {
  /** the AUTH_KEY issued by openapi.krx.co.kr (from a Secret); each API must be approved for it */
  authKey: string;
  /** the services' Redis: the pace is shared by every replica using the same key */
  redis: Redis;
  host?: string;
  /** requests per second for the key, all replicas together; default 2 (REFERENCE.md §1) */
  perSecond?: number;
  /** requests per Korean day for the key, all replicas together (its quota); unset: not counted */
  perDay?: number;
  timeoutMs?: number;
  retry?: RetryPolicy;
}

/** One row of `OutBlock_1` as KRX sends it: every value a string. */
export interface KrxDailyTradeRow {
  BAS_DD: string;
  ISU_CD: string;
  ISU_NM: string;
  MKT_NM: string;
  SECT_TP_NM: string;
  TDD_CLSPRC: string;
  CMPPREVDD_PRC: string;
  FLUC_RT: string;
  TDD_OPNPRC: string;
  TDD_HGPRC: string;
  TDD_LWPRC: string;
  ACC_TRDVOL: string;
  ACC_TRDVAL: string;
  MKTCAP: string;
  LIST_SHRS: string;
}

const NUMBER_FIELDS = [
  'TDD_OPNPRC',
  'TDD_HGPRC',
  'TDD_LWPRC',
  'TDD_CLSPRC',
  'ACC_TRDVOL',
  'ACC_TRDVAL',
  'MKTCAP',
  'LIST_SHRS',
] as const;

/**
 * KRX's daily trading data of every stock of KOSPI, KOSDAQ and KONEX through the official Open API
 * (REFERENCE.md §1). A day is answered whole or not at all: each market's answer is checked row by
 * row (date, market, code, every number), and a day on which some markets answer rows while
 * another answers none is a partial answer (ProviderDataInvalid), as is a market shrinking far
 * below the previous day's count. All markets empty is KRX saying there was no trading.
 */
export class KrxOpenApiProvider implements MarketDataProvider {
  readonly name = PROVIDER;
  private readonly host: string;
  private readonly pacer;

  constructor(private readonly options: KrxOpenApiOptions) {
    if (!options.authKey) {
      throw new ProviderAuthFailed(PROVIDER, 'no AUTH_KEY configured');
    }
    this.host = options.host ?? KRX_OPEN_API_HOST;
    this.pacer = providerPacer(options.redis, PROVIDER, options.authKey, options.perSecond ?? 2, options.perDay);
  }

  async dailyBars(date: string, options: DailyBarsOptions = {}): Promise<MarketDay> {
    if (!isYmd(date)) {
      throw new ProviderRequestRefused(PROVIDER, `not a yyyymmdd date: ${JSON.stringify(date)}`);
    }
    const markets = options.markets ?? MARKETS;
    const perMarket: Array<[Market, DailyBar[]]> = [];
    // one market after the other: three requests a day, and a failure stops before the next
    for (const market of markets) {
      const bars = await withRetries(
        () => this.fetchMarket(date, market, options.signal),
        this.options.retry,
        options.signal,
      );
      perMarket.push([market, bars]);
    }
    const counts: Partial<Record<Market, number>> = {};
    for (const [market, bars] of perMarket) {
      counts[market] = bars.length;
    }
    const empty = perMarket.filter(([, bars]) => bars.length === 0).map(([m]) => m);
    if (empty.length === perMarket.length) {
      if (options.tradingDay) {
        throw new ProviderUnavailable(
          PROVIDER,
          `${date}: no rows yet for a trading day (not published)`,
          'not-published',
        );
      }
      return { date, trading: false, markets, bars: [], counts, absent: [], provider: PROVIDER };
    }
    if (empty.length > 0) {
      throw new ProviderDataInvalid(
        PROVIDER,
        `${date}: ${empty.join(', ')} answered no rows while ${perMarket
          .filter(([, b]) => b.length > 0)
          .map(([m]) => m)
          .join(', ')} traded: a partial day`,
      );
    }
    const tolerance = options.shrinkTolerance ?? 0.02;
    for (const [market, bars] of perMarket) {
      const expected = options.expectedRows?.[market];
      if (expected !== undefined && bars.length < expected - Math.max(5, Math.ceil(expected * tolerance))) {
        throw new ProviderDataInvalid(
          PROVIDER,
          `${date}: ${market} answered ${bars.length} rows, the previous day had ${expected}: a partial answer`,
        );
      }
    }
    return {
      date,
      trading: true,
      markets,
      bars: perMarket.flatMap(([, b]) => b),
      counts,
      absent: [],
      provider: PROVIDER,
    };
  }

  private async fetchMarket(date: string, market: Market, signal?: AbortSignal): Promise<DailyBar[]> {
    await this.pacer.acquire(signal);
    const url = new URL(KRX_DAILY_TRADE_PATHS[market], this.host);
    url.searchParams.set('basDd', date);
    const answer = await httpRequest(PROVIDER, url, {
      headers: { AUTH_KEY: this.options.authKey, Accept: 'application/json' },
      timeoutMs: this.options.timeoutMs ?? 30_000,
      ...(signal ? { signal } : {}),
    });
    if (answer.status === 401 || answer.status === 403) {
      // {"respMsg":"Unauthorized API Call","respCode":"401"}: an unknown key, or a key whose use of
      // this API has not been approved (each API is applied for separately)
      throw new ProviderAuthFailed(
        PROVIDER,
        `${market} ${date}: HTTP ${answer.status} ${answer.text().slice(0, 200)}`,
        String(answer.status),
      );
    }
    if (answer.status !== 200) {
      throw new ProviderRequestRefused(
        PROVIDER,
        `${market} ${date}: HTTP ${answer.status} ${answer.text().slice(0, 200)}`,
        String(answer.status),
      );
    }
    const body = parseJson(PROVIDER, `${market} ${date}`, answer);
    return parseDailyTrade(date, market, body);
  }
}

/** The rows of one market's answer, every one checked; ProviderDataInvalid on the first fault. */
export function parseDailyTrade(date: string, market: Market, body: unknown): DailyBar[] {
  const where = `${market} ${date}`;
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { OutBlock_1?: unknown }).OutBlock_1)) {
    const resp = body as { respCode?: unknown; respMsg?: unknown } | null;
    if (resp && typeof resp === 'object' && resp.respCode !== undefined) {
      // an error body that came with HTTP 200
      const code = typeof resp.respCode === 'string' ? resp.respCode : JSON.stringify(resp.respCode);
      throw new ProviderUnavailable(PROVIDER, `${where}: ${code} ${JSON.stringify(resp.respMsg)}`, code);
    }
    throw new ProviderDataInvalid(PROVIDER, `${where}: the answer has no OutBlock_1 list`);
  }
  const rows = (body as { OutBlock_1: unknown[] }).OutBlock_1;
  const seen = new Set<string>();
  return rows.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null) {
      throw new ProviderDataInvalid(PROVIDER, `${where}: row ${i} is not an object`);
    }
    const row = raw as Partial<Record<keyof KrxDailyTradeRow, unknown>>;
    if (row.BAS_DD !== date) {
      throw new ProviderDataInvalid(PROVIDER, `${where}: row ${i} is of ${JSON.stringify(row.BAS_DD)}`);
    }
    if (row.MKT_NM !== market) {
      throw new ProviderDataInvalid(PROVIDER, `${where}: row ${i} is of market ${JSON.stringify(row.MKT_NM)}`);
    }
    const code = row.ISU_CD;
    if (typeof code !== 'string' || !/^[0-9A-Z]{6}$/.test(code)) {
      throw new ProviderDataInvalid(PROVIDER, `${where}: row ${i} has code ${JSON.stringify(code)}`);
    }
    if (seen.has(code)) {
      throw new ProviderDataInvalid(PROVIDER, `${where}: ${code} appears twice`);
    }
    seen.add(code);
    const n: Partial<Record<(typeof NUMBER_FIELDS)[number], number>> = {};
    for (const field of NUMBER_FIELDS) {
      const value = parseProviderNumber(row[field]);
      if (value === undefined || value === null || value < 0) {
        throw new ProviderDataInvalid(PROVIDER, `${where}: ${code} ${field} is ${JSON.stringify(row[field])}`);
      }
      n[field] = value;
    }
    const [open, high, low, close, volume, value, cap, shares] = NUMBER_FIELDS.map((f) => n[f] as number);
    // signed ("-80", "+2,500" on the portal); "" or "-" when KRX has no change to give
    const change = parseProviderNumber(row.CMPPREVDD_PRC);
    if (change === undefined) {
      throw new ProviderDataInvalid(
        PROVIDER,
        `${where}: ${code} CMPPREVDD_PRC is ${JSON.stringify(row.CMPPREVDD_PRC)}`,
      );
    }
    const traded = volume > 0;
    // a session bar (open/high/low all set) must contain its open and close; a row with volume but
    // no session prices (trades outside the regular session only: not seen in the samples, not
    // ruled out) is kept as reported rather than failing the whole day
    const sessionBar = open > 0 && high > 0 && low > 0;
    const partialBar = !sessionBar && (open > 0 || high > 0 || low > 0);
    if (
      close <= 0 ||
      shares <= 0 ||
      partialBar ||
      (sessionBar && (low > Math.min(open, close) || high < Math.max(open, close)))
    ) {
      throw new ProviderDataInvalid(
        PROVIDER,
        `${where}: ${code} has an impossible bar ${open}/${high}/${low}/${close} x ${volume}`,
      );
    }
    return {
      date,
      code,
      name: typeof row.ISU_NM === 'string' ? row.ISU_NM : null,
      market,
      open,
      high,
      low,
      close,
      volume,
      tradingValue: value,
      marketCap: cap,
      listedShares: shares,
      basePrice: change === null || !(close - change > 0) ? null : close - change,
      traded,
    };
  });
}
