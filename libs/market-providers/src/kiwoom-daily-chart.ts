import { KiwoomClient, KiwoomError, type KiwoomClientOptions } from '@stocklab/kiwoom';
import {
  ProviderAuthFailed,
  ProviderDataInvalid,
  ProviderRequestRefused,
  ProviderUnavailable,
  type ProviderError,
} from './errors.js';
import { isYmd, parseProviderNumber } from './http.js';
import { withRetries, type RetryPolicy } from './retry.js';
import type { DailyBar, Market, MarketDay, StockBar, StockHistoryProvider } from './types.js';

const PROVIDER = 'kiwoom-chart';
/** 주식일봉차트조회요청 (REFERENCE.md §3) */
export const KIWOOM_DAILY_CHART_API = 'ka10081';
export const KIWOOM_CHART_PATH = '/api/dostk/chart';
export const KIWOOM_DAILY_CHART_LIST = 'stk_dt_pole_chart_qry';

/** Detail codes that mean the app key or its token is not accepted (kiwoom-rest.md §1). */
const AUTH_CODES = new Set(['8001', '8002', '8005', '8010', '8030', '8031', '8040', '8050', '8103']);

export interface KiwoomDailyChartOptions {
  /**
   * A Kiwoom client of the app key to use; the token and the 5-per-second query limit of that key
   * are shared (through Redis) with every other client of the same key, trading's included.
   */
  client?: KiwoomClient;
  /** or what to build one from */
  clientOptions?: KiwoomClientOptions;
  retry?: RetryPolicy;
  /** pages of one stock's chart at most (each ~600 days at the real broker); default 20 */
  maxPages?: number;
}

/** A Kiwoom error as a provider error: what a caller can do about it. */
export function providerErrorOfKiwoom(error: KiwoomError): ProviderError {
  const code = error.code ?? '';
  if (error.category === 'reauth' || AUTH_CODES.has(code) || code === '401') {
    return new ProviderAuthFailed(PROVIDER, error.message, code);
  }
  if (error.category === 'retry') {
    return new ProviderUnavailable(PROVIDER, error.message, code, true);
  }
  if (error.category === 'ambiguous') {
    // a query that may have been answered unseen is harmless to send again
    return new ProviderUnavailable(PROVIDER, error.message, code);
  }
  return new ProviderRequestRefused(PROVIDER, error.message, code);
}

/**
 * Kiwoom's daily chart (ka10081) as the per-stock fallback when KRX's daily data is unavailable:
 * one stock at a time, paced by the app key's shared query limit, so a whole market takes minutes
 * (about 2,700 stocks at 4 per second). It has no names, market caps or listed shares, and its
 * trading value is in millions of KRW.
 */
export class KiwoomDailyChartProvider implements StockHistoryProvider {
  readonly name = PROVIDER;
  private readonly client: KiwoomClient;

  constructor(private readonly options: KiwoomDailyChartOptions) {
    if (options.client) {
      this.client = options.client;
    } else if (options.clientOptions) {
      this.client = new KiwoomClient(options.clientOptions);
    } else {
      throw new Error('KiwoomDailyChartProvider needs a client or client options');
    }
  }

  async stockBars(
    code: string,
    from: string,
    to: string,
    options: { adjusted?: boolean; signal?: AbortSignal } = {},
  ): Promise<StockBar[]> {
    if (!/^[0-9A-Z]{6}$/.test(code) || !isYmd(from) || !isYmd(to) || from > to) {
      throw new ProviderRequestRefused(PROVIDER, `no chart to ask for: ${code} ${from}..${to}`);
    }
    const body = { stk_cd: code, base_dt: to, upd_stkpc_tp: options.adjusted ? '1' : '0' };
    const bars: StockBar[] = [];
    let nextKey: string | undefined;
    let previous = '99999999';
    for (let page = 0; page < (this.options.maxPages ?? 20); page += 1) {
      const answer = await withRetries(
        async () => {
          try {
            return await this.client.call<Record<string, unknown>>(
              KIWOOM_DAILY_CHART_API,
              KIWOOM_CHART_PATH,
              body,
              'query',
              { nextKey },
            );
          } catch (error) {
            throw error instanceof KiwoomError ? providerErrorOfKiwoom(error) : error;
          }
        },
        this.options.retry,
        options.signal,
      );
      const list = answer.body[KIWOOM_DAILY_CHART_LIST];
      if (!Array.isArray(list)) {
        throw new ProviderDataInvalid(PROVIDER, `${code}: the answer has no ${KIWOOM_DAILY_CHART_LIST} list`);
      }
      for (const raw of list as unknown[]) {
        const bar = parseChartRow(code, raw);
        // newest first, strictly descending, and never after the base date
        if (bar.date >= previous || bar.date > to) {
          throw new ProviderDataInvalid(PROVIDER, `${code}: row ${bar.date} out of order (after ${previous})`);
        }
        previous = bar.date;
        if (bar.date < from) {
          return bars.reverse();
        }
        bars.push(bar);
      }
      if (!answer.nextKey || list.length === 0) {
        return bars.reverse();
      }
      nextKey = answer.nextKey;
    }
    throw new ProviderDataInvalid(
      PROVIDER,
      `${code}: more than ${this.options.maxPages ?? 20} pages for ${from}..${to}`,
    );
  }

  /**
   * The bars of `universe` on `date`, one request per stock. No stock with a bar is no trading
   * that day; stocks without a bar on a day others traded are listed in `absent` (a halt, a
   * delisting: the chart does not say which).
   */
  async dailyBarsOf(
    date: string,
    universe: ReadonlyArray<{ code: string; market: Market }>,
    options: { signal?: AbortSignal } = {},
  ): Promise<MarketDay> {
    const bars: DailyBar[] = [];
    const absent: string[] = [];
    const counts: Partial<Record<Market, number>> = {};
    for (const { code, market } of universe) {
      const [bar] = await this.stockBars(code, date, date, options);
      if (!bar) {
        absent.push(code);
        continue;
      }
      counts[market] = (counts[market] ?? 0) + 1;
      bars.push({ ...bar, name: null, market, marketCap: null, listedShares: null, traded: bar.volume > 0 });
    }
    const markets = [...new Set(universe.map((u) => u.market))];
    if (bars.length === 0) {
      return { date, trading: false, markets, bars: [], counts: {}, absent: [], provider: PROVIDER };
    }
    return { date, trading: true, markets, bars, counts, absent, provider: PROVIDER };
  }
}

/** One ka10081 row: prices carry the day's direction sign (abs), trading value is in millions, pred_pre gives the base price. */
export function parseChartRow(code: string, raw: unknown): StockBar {
  const row = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const date = typeof row.dt === 'string' ? row.dt : '';
  if (!isYmd(date)) {
    throw new ProviderDataInvalid(PROVIDER, `${code}: a row dated ${JSON.stringify(row.dt)}`);
  }
  const n = (field: string): number => {
    const value = parseProviderNumber(row[field], true);
    if (value === undefined || value === null) {
      throw new ProviderDataInvalid(PROVIDER, `${code} ${date}: ${field} is ${JSON.stringify(row[field])}`);
    }
    return value;
  };
  const [open, high, low, close, volume, millions] = [
    n('open_pric'),
    n('high_pric'),
    n('low_pric'),
    n('cur_prc'),
    n('trde_qty'),
    n('trde_prica'),
  ];
  if (close <= 0 || (volume > 0 && (low <= 0 || low > Math.min(open, close) || high < Math.max(open, close)))) {
    throw new ProviderDataInvalid(
      PROVIDER,
      `${code} ${date}: an impossible bar ${open}/${high}/${low}/${close} x ${volume}`,
    );
  }
  // pred_pre, signed, is the change against the day's base price (REFERENCE.md §3): the base price
  // as KRX's CMPPREVDD_PRC gives it, so the ingest can tell an ex-date from an ordinary day
  const change = parseProviderNumber(row.pred_pre);
  const basePrice = typeof change === 'number' && close - change > 0 ? close - change : null;
  return { date, code, open, high, low, close, volume, tradingValue: millions * 1_000_000, basePrice };
}
