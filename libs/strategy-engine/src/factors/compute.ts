import type { FundamentalStatement, MarketData, OptionalStatementField, PriceColumn } from '../data/market-data.js';
import { adjustedForFactors } from '../data/corporate-actions.js';
import { MACD_LINE_DAYS, MACD_SIGNAL_DAYS, type FactorId } from './catalog.js';

/**
 * Factor values for some days, row-major by day like MarketData: the value of stock s on day d
 * is `values[rowOf[d] * stocks + s]`, and `rowOf[d] === -1` when day d was not computed.
 * Computing only the rebalance days keeps a monthly backtest from touching every bar.
 * NaN means "not available" (missing bars, not enough history, meaningless ratio).
 */
export interface FactorMatrix {
  id: FactorId;
  stocks: number;
  rowOf: Int32Array;
  /** The price column itself for the raw fields (close, market cap, trading value). */
  values: PriceColumn;
}

const ANNUALIZE = Math.sqrt(252);

/**
 * Computes the given factors for the given days (ascending day indices; all days when omitted).
 * Each indicator is O(days x stocks) in a rolling form when all days are wanted, and a direct
 * window per requested day when that is cheaper (few rebalance days, short windows).
 */
export function computeFactors(
  data: MarketData,
  ids: Iterable<FactorId>,
  days?: ArrayLike<number>,
): Partial<Record<FactorId, FactorMatrix>> {
  const out: Partial<Record<FactorId, FactorMatrix>> = {};
  for (const id of ids) {
    out[id] ??= computeFactor(data, id, days);
  }
  return out;
}

export function computeFactor(raw: MarketData, id: FactorId, days?: ArrayLike<number>): FactorMatrix {
  // factors read back-adjusted prices and volumes (the data itself when it has no events)
  const data = adjustedForFactors(raw);
  const D = data.dates.length;
  const rows = days ?? null;
  switch (id) {
    case 'close':
      return rows ? gather(data, id, data.close, rows) : identity(data, id, data.close);
    case 'market_cap':
      return rows ? gather(data, id, data.marketCap, rows) : identity(data, id, data.marketCap);
    case 'mom_1m':
      return momentum(data, id, 21, rows);
    case 'mom_3m':
      return momentum(data, id, 63, rows);
    case 'mom_6m':
      return momentum(data, id, 126, rows);
    case 'mom_12m':
      return momentum(data, id, 252, rows);
    case 'sma_ratio_5':
      return movingAverage(data, id, data.close, 5, true, rows);
    case 'sma_ratio_20':
      return movingAverage(data, id, data.close, 20, true, rows);
    case 'sma_ratio_60':
      return movingAverage(data, id, data.close, 60, true, rows);
    case 'sma_ratio_120':
      return movingAverage(data, id, data.close, 120, true, rows);
    case 'avg_trading_value_20d':
      return movingAverage(data, id, data.tradingValue, 20, false, rows);
    case 'volatility_20d':
      return volatility(data, id, 20, rows);
    case 'volatility_60d':
      return volatility(data, id, 60, rows);
    case 'rsi_14':
      return rsi(data, id, 14, rows);
    case 'per':
      return fundamental(data, id, rows, (f) => (f.netIncome > 0 ? f.netIncome : NaN), OVER_MARKET_CAP);
    case 'pbr':
      return fundamental(data, id, rows, (f) => (f.equity > 0 ? f.equity : NaN), OVER_MARKET_CAP);
    case 'psr':
      return fundamental(data, id, rows, (f) => (f.revenue > 0 ? f.revenue : NaN), OVER_MARKET_CAP);
    case 'por':
      return fundamental(data, id, rows, (f) => (f.operatingIncome > 0 ? f.operatingIncome : NaN), OVER_MARKET_CAP);
    case 'earnings_yield':
      return fundamental(data, id, rows, (f) => f.netIncome, 100);
    case 'book_to_market':
      return fundamental(data, id, rows, (f) => f.equity, 1);
    case 'roe':
      return fundamental(data, id, rows, (f) => (f.equity > 0 ? (f.netIncome / f.equity) * 100 : NaN), FIGURE);
    case 'debt_ratio':
      return fundamental(data, id, rows, (f) => (f.equity > 0 ? (f.liabilities / f.equity) * 100 : NaN), FIGURE);
    case 'operating_margin':
      return fundamental(data, id, rows, (f) => (f.revenue > 0 ? (f.operatingIncome / f.revenue) * 100 : NaN), FIGURE);
    case 'net_margin':
      return fundamental(data, id, rows, (f) => (f.revenue > 0 ? (f.netIncome / f.revenue) * 100 : NaN), FIGURE);
    case 'roa':
      return fundamental(data, id, rows, (f) => perAsset(f, f.netIncome, 100), FIGURE);
    case 'operating_roa':
      return fundamental(data, id, rows, (f) => perAsset(f, f.operatingIncome, 100), FIGURE);
    case 'equity_ratio':
      return fundamental(data, id, rows, (f) => perAsset(f, f.equity, 100), FIGURE);
    case 'asset_turnover':
      return fundamental(data, id, rows, (f) => perAsset(f, f.revenue, 1), FIGURE);
    case 'revenue_growth':
      return fundamental(data, id, rows, (f) => growth(f.revenue, f.revenuePrevYear), FIGURE);
    case 'pcr':
      return fundamental(data, id, rows, (f) => positive(opt(f, 'operatingCashFlow')), OVER_MARKET_CAP);
    case 'ev_ebitda':
      return fundamental(
        data,
        id,
        rows,
        (f) => positive(f.operatingIncome + opt(f, 'depreciationAmortization')),
        OVER_MARKET_CAP,
        (f) => opt(f, 'borrowings') - opt(f, 'cash'),
      );
    case 'dividend_yield':
      return fundamental(data, id, rows, (f) => opt(f, 'dividendsPaid'), 100);
    case 'gp_a':
      return fundamental(data, id, rows, (f) => perAsset(f, opt(f, 'grossProfit'), 100), FIGURE);
    case 'accruals':
      return fundamental(data, id, rows, (f) => perAsset(f, f.netIncome - opt(f, 'operatingCashFlow'), 100), FIGURE);
    case 'current_ratio':
      return fundamental(
        data,
        id,
        rows,
        (f) => (opt(f, 'currentAssets') / positive(opt(f, 'currentLiabilities'))) * 100,
        FIGURE,
      );
    case 'interest_coverage':
      return fundamental(data, id, rows, (f) => f.operatingIncome / positive(opt(f, 'interestExpense')), FIGURE);
    case 'revenue_growth_qoq':
      return fundamental(data, id, rows, (f) => growth(opt(f, 'revenueQuarter'), opt(f, 'revenuePrevQuarter')), FIGURE);
    case 'operating_income_growth_yoy':
      return fundamental(data, id, rows, (f) => growth(f.operatingIncome, opt(f, 'operatingIncomePrevYear')), FIGURE);
    case 'operating_income_growth_qoq':
      return fundamental(
        data,
        id,
        rows,
        (f) => growth(opt(f, 'operatingIncomeQuarter'), opt(f, 'operatingIncomePrevQuarter')),
        FIGURE,
      );
    case 'net_income_growth_yoy':
      return fundamental(data, id, rows, (f) => growth(f.netIncome, opt(f, 'netIncomePrevYear')), FIGURE);
    case 'net_income_growth_qoq':
      return fundamental(
        data,
        id,
        rows,
        (f) => growth(opt(f, 'netIncomeQuarter'), opt(f, 'netIncomePrevQuarter')),
        FIGURE,
      );
    case 'eps_growth_yoy':
      return fundamental(data, id, rows, (f) => growth(opt(f, 'eps'), opt(f, 'epsPrevYear')), FIGURE);
    case 'eps_growth_qoq':
      return fundamental(data, id, rows, (f) => growth(opt(f, 'epsQuarter'), opt(f, 'epsPrevQuarter')), FIGURE);
    case 'trading_value':
      return rows ? gather(data, id, data.tradingValue, rows) : identity(data, id, data.tradingValue);
    case 'mom_1w':
      return momentum(data, id, 5, rows);
    case 'mom_12_1':
      return momentum(data, id, 252, rows, 21);
    case 'high_52w_distance':
      return extremeDistance(data, id, data.high, 252, 1, rows);
    case 'low_52w_distance':
      return extremeDistance(data, id, data.low, 252, -1, rows);
    case 'volatility_120d':
      return volatility(data, id, 120, rows);
    case 'volatility_252d':
      return volatility(data, id, 252, rows);
    case 'beta_60d':
      return beta(data, id, 60, rows);
    case 'beta_252d':
      return beta(data, id, 252, rows);
    case 'max_drawdown_60d':
      return maxDrawdown(data, id, 60, rows);
    case 'max_drawdown_252d':
      return maxDrawdown(data, id, 252, rows);
    case 'sma_ratio_10':
      return movingAverage(data, id, data.close, 10, true, rows);
    case 'sma_ratio_240':
      return movingAverage(data, id, data.close, 240, true, rows);
    case 'ma_cross_5_20':
      return divide(
        id,
        movingAverage(data, id, data.close, 5, false, rows),
        movingAverage(data, id, data.close, 20, false, rows),
        1,
      );
    case 'ma_cross_20_60':
      return divide(
        id,
        movingAverage(data, id, data.close, 20, false, rows),
        movingAverage(data, id, data.close, 60, false, rows),
        1,
      );
    case 'volume_ratio_1_20':
      return divide(id, field(data, id, data.volume, rows), movingAverage(data, id, data.volume, 20, false, rows), 1);
    case 'volume_ratio_5_20':
      return divide(
        id,
        movingAverage(data, id, data.volume, 5, false, rows),
        movingAverage(data, id, data.volume, 20, false, rows),
        1,
      );
    case 'volume_ratio_20_60':
      return divide(
        id,
        movingAverage(data, id, data.volume, 20, false, rows),
        movingAverage(data, id, data.volume, 60, false, rows),
        1,
      );
    case 'avg_trading_value_5d':
      return movingAverage(data, id, data.tradingValue, 5, false, rows);
    case 'avg_trading_value_60d':
      return movingAverage(data, id, data.tradingValue, 60, false, rows);
    case 'avg_trading_value_120d':
      return movingAverage(data, id, data.tradingValue, 120, false, rows);
    case 'turnover_20d':
      return divide(
        id,
        movingAverage(data, id, data.tradingValue, 20, false, rows),
        field(data, id, data.marketCap, rows),
        100,
      );
    case 'turnover_60d':
      return divide(
        id,
        movingAverage(data, id, data.tradingValue, 60, false, rows),
        field(data, id, data.marketCap, rows),
        100,
      );
    case 'macd':
    case 'macd_signal':
    case 'macd_hist':
      return macd(data, id, rows);
    case 'bollinger_pct_b':
    case 'bollinger_width':
      return bollinger(data, id, 20, 2, rows);
    case 'stoch_k_14':
      return stochastic(data, id, 14, 1, rows);
    case 'stoch_d_14':
      return stochastic(data, id, 14, 3, rows);
    case 'cci_20':
      return cci(data, id, 20, rows);
    default: {
      const never: never = id;
      throw new Error(`unknown factor ${String(never)} (D=${D})`);
    }
  }
}

/** A matrix whose values are computed (written), not a price column. */
type ComputedMatrix = FactorMatrix & { values: Float64Array };

function allocate(data: MarketData, id: FactorId, rows: ArrayLike<number> | null): ComputedMatrix {
  const D = data.dates.length;
  const S = data.codes.length;
  const rowOf = new Int32Array(D);
  if (rows) {
    rowOf.fill(-1);
    for (let k = 0; k < rows.length; k++) {
      const d = rows[k];
      if (d < 0 || d >= D || (k > 0 && d <= rows[k - 1])) {
        throw new RangeError('factor days must be ascending, unique day indices');
      }
      rowOf[d] = k;
    }
  } else {
    for (let d = 0; d < D; d++) {
      rowOf[d] = d;
    }
  }
  return { id, stocks: S, rowOf, values: new Float64Array((rows ? rows.length : D) * S) };
}

function identity(data: MarketData, id: FactorId, source: PriceColumn): FactorMatrix {
  const m = allocate(data, id, []);
  for (let d = 0; d < m.rowOf.length; d++) {
    m.rowOf[d] = d;
  }
  return { ...m, values: source };
}

function gather(data: MarketData, id: FactorId, source: PriceColumn, rows: ArrayLike<number>): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  for (let k = 0; k < rows.length; k++) {
    m.values.set(source.subarray(rows[k] * S, rows[k] * S + S), k * S);
  }
  return m;
}

/**
 * close(t - skip) / close(t - lag) - 1 in percent; NaN when either close is missing. skip = 0 is
 * plain momentum (MomentumRows' arithmetic), skip = 21 the 12-1 month form.
 */
function momentum(data: MarketData, id: FactorId, lag: number, rows: ArrayLike<number> | null, skip = 0): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const c = data.close;
  const n = rows ? rows.length : data.dates.length;
  for (let k = 0; k < n; k++) {
    const d = rows ? rows[k] : k;
    const o = k * S;
    if (d < lag) {
      m.values.fill(NaN, o, o + S);
      continue;
    }
    const b = (d - skip) * S;
    const a = (d - lag) * S;
    for (let s = 0; s < S; s++) {
      m.values[o + s] = (c[b + s] / c[a + s]) * 100 - 100;
    }
  }
  return m;
}

/**
 * Simple moving average over `len` days of `source` (all must be present). With `ratio`, the
 * value is close / SMA(close); otherwise the SMA itself. The rolling form keeps a per-stock sum
 * and count of present values, so a missing bar makes the next `len` days NaN and nothing else.
 */
function movingAverage(
  data: MarketData,
  id: FactorId,
  source: PriceColumn,
  len: number,
  ratio: boolean,
  rows: ArrayLike<number> | null,
): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const D = data.dates.length;
  const c = data.close;
  const v = m.values;
  if (rows && rows.length * len <= 2 * D) {
    for (let k = 0; k < rows.length; k++) {
      const d = rows[k];
      const o = k * S;
      if (d < len - 1) {
        v.fill(NaN, o, o + S);
        continue;
      }
      for (let s = 0; s < S; s++) {
        let sum = 0;
        for (let j = d - len + 1; j <= d; j++) {
          sum += source[j * S + s]; // NaN propagates: any missing day gives NaN
        }
        const avg = sum / len;
        v[o + s] = ratio ? c[d * S + s] / avg : avg;
      }
    }
    return m;
  }
  const sum = new Float64Array(S);
  const cnt = new Int32Array(S);
  const last = rows ? (rows[rows.length - 1] ?? -1) : D - 1;
  for (let d = 0; d <= last; d++) {
    const b = d * S;
    const old = (d - len) * S;
    for (let s = 0; s < S; s++) {
      const x = source[b + s];
      if (x === x) {
        sum[s] = sum[s] + x;
        cnt[s] = cnt[s] + 1;
      }
      if (d >= len) {
        const y = source[old + s];
        if (y === y) {
          sum[s] = sum[s] - y;
          cnt[s] = cnt[s] - 1;
          if (cnt[s] === 0) {
            sum[s] = 0; // drop accumulated rounding when the window empties
          }
        }
      }
    }
    const k = m.rowOf[d];
    if (k < 0) {
      continue;
    }
    const o = k * S;
    for (let s = 0; s < S; s++) {
      if (cnt[s] === len) {
        const avg = sum[s] / len;
        v[o + s] = ratio ? c[b + s] / avg : avg;
      } else {
        v[o + s] = NaN;
      }
    }
  }
  return m;
}

/**
 * Annualized volatility in percent: population standard deviation of the last `len` simple
 * daily returns (close/prev close - 1) x sqrt(252). Simple rather than log returns, and the
 * population (1/n) form, to match the common TA definition (Tulip/`@ixjb94/indicators`
 * `volatility`), so values can be checked against it. NaN unless all len+1 closes are present.
 */
function volatility(data: MarketData, id: FactorId, len: number, rows: ArrayLike<number> | null): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const D = data.dates.length;
  const c = data.close;
  const v = m.values;
  const ret = (d: number, s: number): number => c[d * S + s] / c[(d - 1) * S + s] - 1;
  if (rows && rows.length * len <= 2 * D) {
    for (let k = 0; k < rows.length; k++) {
      const d = rows[k];
      const o = k * S;
      if (d < len) {
        v.fill(NaN, o, o + S);
        continue;
      }
      for (let s = 0; s < S; s++) {
        let sum = 0;
        let sum2 = 0;
        for (let j = d - len + 1; j <= d; j++) {
          const r = ret(j, s);
          sum += r;
          sum2 += r * r;
        }
        const mean = sum / len;
        v[o + s] = Math.sqrt(Math.max(0, sum2 / len - mean * mean)) * ANNUALIZE * 100;
      }
    }
    return m;
  }
  const sum = new Float64Array(S);
  const sum2 = new Float64Array(S);
  const cnt = new Int32Array(S);
  const last = rows ? (rows[rows.length - 1] ?? -1) : D - 1;
  for (let d = 0; d <= last; d++) {
    if (d >= 1) {
      for (let s = 0; s < S; s++) {
        const r = ret(d, s);
        if (r === r) {
          sum[s] = sum[s] + r;
          sum2[s] = sum2[s] + r * r;
          cnt[s] = cnt[s] + 1;
        }
        if (d - len >= 1) {
          const y = ret(d - len, s);
          if (y === y) {
            sum[s] = sum[s] - y;
            sum2[s] = sum2[s] - y * y;
            cnt[s] = cnt[s] - 1;
            if (cnt[s] === 0) {
              sum[s] = 0;
              sum2[s] = 0;
            }
          }
        }
      }
    }
    const k = m.rowOf[d];
    if (k < 0) {
      continue;
    }
    const o = k * S;
    for (let s = 0; s < S; s++) {
      if (cnt[s] === len) {
        const mean = sum[s] / len;
        v[o + s] = Math.sqrt(Math.max(0, sum2[s] / len - mean * mean)) * ANNUALIZE * 100;
      } else {
        v[o + s] = NaN;
      }
    }
  }
  return m;
}

/**
 * Wilder RSI's running state per stock after some days: the previous present close, how many
 * changes were seen, and the average gain and loss. A window of the latest days carries the
 * state of the days before it (MarketData.seeds), so that its RSI is the whole history's.
 */
export interface RsiState {
  prev: Float64Array;
  count: Int32Array;
  up: Float64Array;
  down: Float64Array;
}

export const RSI_LENGTH = 14;

export function newRsiState(stocks: number): RsiState {
  return {
    prev: new Float64Array(stocks).fill(NaN),
    count: new Int32Array(stocks),
    up: new Float64Array(stocks),
    down: new Float64Array(stocks),
  };
}

function copyRsiState(state: RsiState): RsiState {
  return { prev: state.prev.slice(), count: state.count.slice(), up: state.up.slice(), down: state.down.slice() };
}

/**
 * Runs the RSI recursion over days [0, days) of time-major `close` (days x stocks), updating
 * `state`; with `rowOf`/`values`, writes each day's RSI where rowOf[d] >= 0. The one
 * implementation of the recursion: the loader's seeds and the factor take the same steps.
 */
export function advanceRsi(
  state: RsiState,
  close: PriceColumn,
  days: number,
  len: number = RSI_LENGTH,
  rowOf?: Int32Array,
  values?: Float64Array,
): void {
  const S = state.prev.length;
  const per = 1 / len;
  const { prev, count: n, up, down } = state;
  for (let d = 0; d < days; d++) {
    const b = d * S;
    const k = rowOf ? rowOf[d] : -1;
    const o = k * S;
    for (let s = 0; s < S; s++) {
      const x = close[b + s];
      let out = NaN;
      if (x === x) {
        const p = prev[s];
        if (p === p) {
          const ch = x - p;
          const g = ch > 0 ? ch : 0;
          const l = ch < 0 ? -ch : 0;
          const cnt = n[s] + 1;
          n[s] = cnt;
          if (cnt < len) {
            up[s] = up[s] + g;
            down[s] = down[s] + l;
          } else if (cnt === len) {
            up[s] = (up[s] + g) / len;
            down[s] = (down[s] + l) / len;
          } else {
            up[s] = (g - up[s]) * per + up[s];
            down[s] = (l - down[s]) * per + down[s];
          }
          if (cnt >= len) {
            const u = up[s];
            const t = u + down[s];
            out = t > 0 ? (100 * u) / t : 50;
          }
        }
        prev[s] = x;
      }
      if (k >= 0 && values) {
        values[o + s] = out;
      }
    }
  }
}

/**
 * RSI with Wilder's smoothing: the first average gain/loss is the mean of the first `len`
 * changes, then avg = avg + (x - avg) / len. Changes are between consecutive present closes
 * (a suspension does not reset the indicator); NaN on a day without a bar and during warm-up.
 * 50 when there was neither gain nor loss. Recursive, so always a full pass up to the last day,
 * from the state the data carries for the days before it (a window), else from the first bar.
 */
function rsi(data: MarketData, id: FactorId, len: number, rows: ArrayLike<number> | null): FactorMatrix {
  const m = allocate(data, id, rows);
  const seed = data.seeds?.rsi_14;
  const state = seed ? copyRsiState(seed) : newRsiState(m.stocks);
  const last = rows ? (rows[rows.length - 1] ?? -1) : data.dates.length - 1;
  advanceRsi(state, data.close, last + 1, len, m.rowOf, m.values);
  return m;
}

/** fundamental()'s `relation`: the figure itself, or market cap / figure (PER-like). */
const FIGURE = 0;
const OVER_MARKET_CAP = -1;

/** figure / total assets x scale, total assets = equity + liabilities; NaN when not positive. */
function perAsset(f: FundamentalStatement, figure: number, scale: number): number {
  const assets = f.equity + f.liabilities;
  return assets > 0 ? (figure / assets) * scale : NaN;
}

/** An optional statement figure, NaN when the statement lacks it. */
function opt(f: FundamentalStatement, field: OptionalStatementField): number {
  return f[field] ?? NaN;
}

/** The value when it is > 0, else NaN (a multiple's denominator). */
function positive(x: number): number {
  return x > 0 ? x : NaN;
}

/** now / before - 1 in percent; NaN when `before` is not positive (no growth rate from a loss). */
function growth(now: number, before: number): number {
  return before > 0 ? (now / before - 1) * 100 : NaN;
}

/**
 * Point-in-time fundamentals: on day d a stock's latest statement is the last one with
 * reportDate <= date(d); statements reported later are invisible (no look-ahead). `figure`
 * extracts the statement's number; `relation` says what the value is: FIGURE, the figure itself;
 * OVER_MARKET_CAP, marketCap(d) / figure (valuation multiples move with the price every day);
 * a positive k, figure / marketCap(d) x k (yields: earnings yield, book to market). With
 * `addToMarketCap` (OVER_MARKET_CAP only), (marketCap(d) + that figure) / figure: enterprise
 * value multiples, EV = market cap + net debt.
 */
function fundamental(
  data: MarketData,
  id: FactorId,
  rows: ArrayLike<number> | null,
  figure: (f: FundamentalStatement) => number,
  relation: number,
  addToMarketCap?: (f: FundamentalStatement) => number,
): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const mc = data.marketCap;
  const v = m.values;
  const ptr = new Int32Array(S);
  const cur = new Float64Array(S).fill(NaN);
  const add = new Float64Array(S);
  const n = rows ? rows.length : data.dates.length;
  for (let k = 0; k < n; k++) {
    const d = rows ? rows[k] : k;
    const date = data.dates[d];
    const o = k * S;
    const b = d * S;
    for (let s = 0; s < S; s++) {
      const list = data.fundamentals[s];
      let p = ptr[s];
      if (p < list.length && list[p].reportDate <= date) {
        while (p < list.length && list[p].reportDate <= date) {
          p++;
        }
        ptr[s] = p;
        cur[s] = figure(list[p - 1]);
        if (addToMarketCap) {
          add[s] = addToMarketCap(list[p - 1]);
        }
      }
      v[o + s] =
        relation === FIGURE
          ? cur[s]
          : relation === OVER_MARKET_CAP
            ? (mc[b + s] + add[s]) / cur[s]
            : mc[b + s] > 0
              ? (cur[s] / mc[b + s]) * relation
              : NaN;
    }
  }
  return m;
}

/** A raw field (volume, market cap) on the rows of a factor: the array itself for all days. */
function field(data: MarketData, id: FactorId, source: PriceColumn, rows: ArrayLike<number> | null): FactorMatrix {
  return rows ? gather(data, id, source, rows) : identity(data, id, source);
}

/** num / den x scale element-wise (same rows); NaN when den is not positive. */
function divide(id: FactorId, num: FactorMatrix, den: FactorMatrix, scale: number): FactorMatrix {
  const a = num.values;
  const b = den.values;
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const y = b[i];
    out[i] = y > 0 ? (scale === 1 ? a[i] / y : (a[i] / y) * scale) : NaN;
  }
  return { id, stocks: num.stocks, rowOf: num.rowOf, values: out };
}

/** Calls fn(k, d) for every wanted day: each requested row, or every day. */
function eachRow(data: MarketData, rows: ArrayLike<number> | null, fn: (k: number, d: number) => void): void {
  const n = rows ? rows.length : data.dates.length;
  for (let k = 0; k < n; k++) {
    fn(k, rows ? rows[k] : k);
  }
}

/**
 * close(t) / extreme - 1 in percent, extreme = the highest `source` (sign 1: highs) or lowest
 * (sign -1: lows) of the bars present in days t-len+1 .. t. NaN unless the stock has a close on
 * t and on t-len+1. Exact either way (no arithmetic on the extreme): a direct scan per requested
 * day, or for many days a monotonic deque per stock (O(1) amortized per bar).
 */
function extremeDistance(
  data: MarketData,
  id: FactorId,
  source: PriceColumn,
  len: number,
  sign: number,
  rows: ArrayLike<number> | null,
): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const D = data.dates.length;
  const c = data.close;
  const v = m.values;
  const write = (o: number, b: number, a: number, s: number, ext: number): void => {
    const x = c[b + s];
    v[o + s] = x === x && c[a + s] === c[a + s] ? (x / ext) * 100 - 100 : NaN;
  };
  if (rows && rows.length * len <= 2 * D) {
    const ext = new Float64Array(S);
    for (let k = 0; k < rows.length; k++) {
      const d = rows[k];
      const o = k * S;
      if (d < len - 1) {
        v.fill(NaN, o, o + S);
        continue;
      }
      ext.fill(sign > 0 ? -Infinity : Infinity);
      for (let j = d - len + 1; j <= d; j++) {
        const b = j * S;
        for (let s = 0; s < S; s++) {
          const x = source[b + s];
          if (sign > 0 ? x > ext[s] : x < ext[s]) {
            ext[s] = x;
          }
        }
      }
      const a = (d - len + 1) * S;
      for (let s = 0; s < S; s++) {
        write(o, d * S, a, s, ext[s]);
      }
    }
    return m;
  }
  // ring buffer of day indices per stock, values monotonic from the front (the extreme)
  const buf = new Int32Array(S * len);
  const head = new Int32Array(S);
  const size = new Int32Array(S);
  const last = rows ? (rows[rows.length - 1] ?? -1) : D - 1;
  for (let d = 0; d <= last; d++) {
    const b = d * S;
    const k = m.rowOf[d];
    for (let s = 0; s < S; s++) {
      const base = s * len;
      if (size[s] > 0 && buf[base + head[s]] <= d - len) {
        head[s] = head[s] + 1 === len ? 0 : head[s] + 1;
        size[s]--;
      }
      const x = source[b + s];
      if (x === x) {
        while (size[s] > 0) {
          const back = buf[base + ((head[s] + size[s] - 1) % len)];
          const y = source[back * S + s];
          if (sign > 0 ? y <= x : y >= x) {
            size[s]--;
          } else {
            break;
          }
        }
        buf[base + ((head[s] + size[s]) % len)] = d;
        size[s]++;
      }
      if (k >= 0) {
        if (d < len - 1 || size[s] === 0) {
          v[k * S + s] = NaN;
        } else {
          write(k * S, b, (d - len + 1) * S, s, source[buf[base + head[s]] * S + s]);
        }
      }
    }
  }
  return m;
}

/**
 * Maximum drawdown over the closes of days t-len .. t, in percent (positive): 1 - the smallest
 * close(j) / close(i) over i <= j in the window, x 100; missing closes skipped; NaN unless both
 * ends have a close. For a few requested days, a scan of each window: the smallest close(j) /
 * max(close(i), i <= j). For many days, blocks of len + 1 days: a window ending in block k is a
 * suffix of block k-1 and a prefix of block k, so its smallest ratio is the least of the
 * suffix's (a backward scan of block k-1), the prefix's (a running state through block k) and
 * the prefix's lowest close / the suffix's highest: O(1) per bar. Every candidate is one division
 * of two closes and correctly rounded division is monotonic, so both ways find the same smallest
 * ratio, to the bit.
 */
function maxDrawdown(data: MarketData, id: FactorId, len: number, rows: ArrayLike<number> | null): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const D = data.dates.length;
  const c = data.close;
  const v = m.values;
  const finish = (o: number, a: number, b: number, s: number, ratio: number): void => {
    v[o + s] = c[a + s] === c[a + s] && c[b + s] === c[b + s] ? (1 - ratio) * 100 : NaN;
  };
  if (rows && rows.length * len <= 2 * D) {
    const peak = new Float64Array(S);
    const low = new Float64Array(S);
    for (let k = 0; k < rows.length; k++) {
      const d = rows[k];
      const o = k * S;
      if (d < len) {
        v.fill(NaN, o, o + S);
        continue;
      }
      peak.fill(-Infinity);
      low.fill(1);
      for (let j = d - len; j <= d; j++) {
        const b = j * S;
        for (let s = 0; s < S; s++) {
          const x = c[b + s];
          if (x === x) {
            if (x > peak[s]) {
              peak[s] = x;
            }
            const r = x / peak[s];
            if (r < low[s]) {
              low[s] = r;
            }
          }
        }
      }
      for (let s = 0; s < S; s++) {
        finish(o, (d - len) * S, d * S, s, low[s]);
      }
    }
    return m;
  }
  const B = len + 1;
  const last = rows ? (rows[rows.length - 1] ?? -1) : D - 1;
  const sufMax = new Float64Array(B * S); // previous block, from day i to its end: highest close
  const sufLow = new Float64Array(B * S); // ... and smallest ratio
  const runMin = new Float64Array(S);
  const runMax = new Float64Array(S);
  const runLow = new Float64Array(S);
  const preMax = new Float64Array(S); // current block, from its start to day d
  const preMin = new Float64Array(S);
  const preLow = new Float64Array(S);
  for (let start = 0; start <= last; start += B) {
    const prev = start - B;
    if (start > 0) {
      runMin.fill(Infinity);
      runMax.fill(-Infinity);
      runLow.fill(1);
      for (let i = start - 1; i >= prev; i--) {
        const b = i * S;
        const o = (i - prev) * S;
        for (let s = 0; s < S; s++) {
          const x = c[b + s];
          if (x === x) {
            const r = runMin[s] / x; // x as the peak of the later closes (Infinity: none)
            if (r < runLow[s]) {
              runLow[s] = r;
            }
            if (x < runMin[s]) {
              runMin[s] = x;
            }
            if (x > runMax[s]) {
              runMax[s] = x;
            }
          }
          sufMax[o + s] = runMax[s];
          sufLow[o + s] = runLow[s];
        }
      }
    }
    preMax.fill(-Infinity);
    preMin.fill(Infinity);
    preLow.fill(1);
    const end = Math.min(last, start + B - 1);
    for (let d = start; d <= end; d++) {
      const b = d * S;
      for (let s = 0; s < S; s++) {
        const x = c[b + s];
        if (x === x) {
          if (x > preMax[s]) {
            preMax[s] = x;
          }
          const r = x / preMax[s];
          if (r < preLow[s]) {
            preLow[s] = r;
          }
          if (x < preMin[s]) {
            preMin[s] = x;
          }
        }
      }
      const k = m.rowOf[d];
      if (k < 0) {
        continue;
      }
      const o = k * S;
      if (d < len) {
        v.fill(NaN, o, o + S);
        continue;
      }
      const a = d - len;
      if (a === start) {
        for (let s = 0; s < S; s++) {
          finish(o, a * S, b, s, preLow[s]);
        }
        continue;
      }
      const so = (a - prev) * S;
      for (let s = 0; s < S; s++) {
        let r = preLow[s];
        const l = sufLow[so + s];
        if (l < r) {
          r = l;
        }
        const q = preMin[s] / sufMax[so + s]; // NaN or -0 when a side has no close: no candidate
        if (q < r && q > 0) {
          r = q;
        }
        finish(o, a * S, b, s, r);
      }
    }
  }
  return m;
}

/**
 * The daily return of the MARKET benchmark (libs/market-data's capWeightedIndex over every
 * stock): the mean of close(d) / close(d-1) - 1 over the stocks with both closes and a positive
 * market cap on d-1, weighted by that market cap; 0 when there is none (the index stays), NaN on
 * day 0. Only the days with `need[d]` set are computed (all when null).
 */
export function marketReturns(data: MarketData, last: number, need: Uint8Array | null): Float64Array {
  const S = data.codes.length;
  const out = new Float64Array(data.dates.length).fill(NaN);
  const mc = data.marketCap;
  const c = data.close;
  for (let d = 1; d <= last; d++) {
    if (need && need[d] === 0) {
      continue;
    }
    let weighted = 0;
    let weights = 0;
    const prev = (d - 1) * S;
    const cur = d * S;
    for (let s = 0; s < S; s++) {
      const w = mc[prev + s];
      const c0 = c[prev + s];
      const c1 = c[cur + s];
      if (w > 0 && c0 > 0 && c1 > 0) {
        weighted += w * (c1 / c0 - 1);
        weights += w;
      }
    }
    out[d] = weights > 0 ? weighted / weights : 0;
  }
  return out;
}

/**
 * Beta to the MARKET benchmark over the last `len` daily returns: cov(r, m) / var(m), population
 * form (sums / len). NaN unless all len + 1 closes of the stock are present, or var(m) = 0.
 * Rolling sums for many days (as volatility), a direct window per requested day otherwise.
 */
function beta(data: MarketData, id: FactorId, len: number, rows: ArrayLike<number> | null): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const D = data.dates.length;
  const c = data.close;
  const v = m.values;
  const last = rows ? (rows[rows.length - 1] ?? -1) : D - 1;
  const direct = rows !== null && rows.length * len <= 2 * D;
  let need: Uint8Array | null = null;
  if (direct && rows) {
    need = new Uint8Array(D);
    for (let k = 0; k < rows.length; k++) {
      need.fill(1, Math.max(1, rows[k] - len + 1), rows[k] + 1);
    }
  }
  const rm = marketReturns(data, last, need);
  const finish = (o: number, s: number, sr: number, srm: number, sm: number, smm: number): void => {
    const mr = sr / len;
    const mm = sm / len;
    const varM = smm / len - mm * mm;
    v[o + s] = varM > 0 ? (srm / len - mr * mm) / varM : NaN;
  };
  if (direct && rows) {
    const sr = new Float64Array(S);
    const srm = new Float64Array(S);
    for (let k = 0; k < rows.length; k++) {
      const d = rows[k];
      const o = k * S;
      if (d < len) {
        v.fill(NaN, o, o + S);
        continue;
      }
      sr.fill(0);
      srm.fill(0);
      let sm = 0;
      let smm = 0;
      for (let j = d - len + 1; j <= d; j++) {
        const x = rm[j];
        sm += x;
        smm += x * x;
        const b = j * S;
        const a = b - S;
        for (let s = 0; s < S; s++) {
          const r = c[b + s] / c[a + s] - 1; // NaN (missing close) propagates
          sr[s] = sr[s] + r;
          srm[s] = srm[s] + r * x;
        }
      }
      for (let s = 0; s < S; s++) {
        finish(o, s, sr[s], srm[s], sm, smm);
      }
    }
    return m;
  }
  const sr = new Float64Array(S);
  const srm = new Float64Array(S);
  const cnt = new Int32Array(S);
  let sm = 0;
  let smm = 0;
  for (let d = 1; d <= last; d++) {
    const x = rm[d];
    sm += x;
    smm += x * x;
    const old = d - len;
    const y = old >= 1 ? rm[old] : 0;
    if (old >= 1) {
      sm -= y;
      smm -= y * y;
    }
    const b = d * S;
    for (let s = 0; s < S; s++) {
      const r = c[b + s] / c[b - S + s] - 1;
      if (r === r) {
        sr[s] = sr[s] + r;
        srm[s] = srm[s] + r * x;
        cnt[s] = cnt[s] + 1;
      }
      if (old >= 1) {
        const q = c[old * S + s] / c[(old - 1) * S + s] - 1;
        if (q === q) {
          sr[s] = sr[s] - q;
          srm[s] = srm[s] - q * y;
          cnt[s] = cnt[s] - 1;
          if (cnt[s] === 0) {
            sr[s] = 0;
            srm[s] = 0;
          }
        }
      }
    }
    const k = m.rowOf[d];
    if (k < 0) {
      continue;
    }
    const o = k * S;
    for (let s = 0; s < S; s++) {
      if (cnt[s] === len) {
        finish(o, s, sr[s], srm[s], sm, smm);
      } else {
        v[o + s] = NaN;
      }
    }
  }
  if (m.rowOf[0] >= 0) {
    v.fill(NaN, m.rowOf[0] * S, m.rowOf[0] * S + S);
  }
  return m;
}

/**
 * An EMA restarted at the start of a finite window is a fixed linear filter of the window:
 * EMA(t) over the last n values = G(t) + p x(t-n+1), G(t) = sum_{j<n-1} a (1-a)^j x(t-j),
 * p = (1-a)^(n-1), and G slides: G(t) = (1-a) G(t-1) + a x(t) - a p x(t-n+1).
 */
interface WindowedEma {
  a: number;
  n: number;
  /** a (1-a)^j, j = 0 .. n-2 */
  w: Float64Array;
  p: number;
}

function windowedEma(period: number, n: number): WindowedEma {
  const a = 2 / (period + 1);
  const w = new Float64Array(n - 1);
  let q = 1;
  for (let j = 0; j < n - 1; j++) {
    w[j] = a * q;
    q *= 1 - a;
  }
  return { a, n, w, p: q };
}

const EMA12 = windowedEma(12, MACD_LINE_DAYS);
const EMA26 = windowedEma(26, MACD_LINE_DAYS);
const EMA9 = windowedEma(9, MACD_SIGNAL_DAYS);

/**
 * MACD (12, 26, 9) over finite windows (see the catalog): line(t) = EMA12 - EMA26 of the last
 * MACD_LINE_DAYS closes, each EMA started at the window's first close; signal(t) = EMA9 of the
 * last MACD_SIGNAL_DAYS lines started at the first of them. Per requested day: G of the first
 * line day summed directly, slid to t; for many days the sliding form from day 0 with a count of
 * present closes (a missing close counts as 0 in G and makes the value NaN while in the window).
 */
function macd(data: MarketData, id: FactorId, rows: ArrayLike<number> | null): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const D = data.dates.length;
  const c = data.close;
  const v = m.values;
  const N = MACD_LINE_DAYS;
  const M = MACD_SIGNAL_DAYS;
  const out = id === 'macd' ? 0 : id === 'macd_signal' ? 1 : 2;
  const a12 = EMA12.a;
  const a26 = EMA26.a;
  const a9 = EMA9.a;
  const ap12 = EMA12.a * EMA12.p;
  const ap26 = EMA26.a * EMA26.p;
  const ap9 = EMA9.a * EMA9.p;
  // the line alone reads its own N closes; the signal the lines of the last M days
  const span = out === 0 ? 1 : M;
  if (rows && rows.length * (N + 3 * span) <= 16 * D) {
    const g12 = new Float64Array(S);
    const g26 = new Float64Array(S);
    const sig = new Float64Array(S);
    for (let k = 0; k < rows.length; k++) {
      const d = rows[k];
      const o = k * S;
      const u0 = d - span + 1;
      if (u0 - N + 1 < 0) {
        v.fill(NaN, o, o + S);
        continue;
      }
      g12.fill(0);
      g26.fill(0);
      for (let j = 0; j < N - 1; j++) {
        const b = (u0 - j) * S;
        const w12 = EMA12.w[j];
        const w26 = EMA26.w[j];
        for (let s = 0; s < S; s++) {
          const x = c[b + s]; // NaN propagates: any missing close of the window gives NaN
          g12[s] = g12[s] + w12 * x;
          g26[s] = g26[s] + w26 * x;
        }
      }
      for (let u = u0; u <= d; u++) {
        const first = (u - N + 1) * S; // the EMA window's first close, x(u - N + 1)
        if (u > u0) {
          const b = u * S;
          for (let s = 0; s < S; s++) {
            const x = c[b + s];
            const y = c[first + s]; // x(u - N + 1) leaves G(u)'s window (and weighs p as the first)
            g12[s] = (1 - a12) * g12[s] + a12 * x - ap12 * y;
            g26[s] = (1 - a26) * g26[s] + a26 * x - ap26 * y;
          }
        }
        for (let s = 0; s < S; s++) {
          const y = c[first + s];
          const line = g12[s] + EMA12.p * y - (g26[s] + EMA26.p * y);
          sig[s] = u === u0 ? line : sig[s] + a9 * (line - sig[s]);
          if (u === d) {
            v[o + s] = out === 0 ? line : out === 1 ? sig[s] : line - sig[s];
          }
        }
      }
    }
    return m;
  }
  // The sliding form from day 0. G(d) holds x(d-N+2 .. d), the EMA's first close x(d-N+1) weighs
  // p; Gs(d) holds the lines of d-M+2 .. d, the signal's first line is that of d-M+1. A missing
  // value counts as 0 in the sums and is counted out: the value is NaN while it is in a window.
  const g12 = new Float64Array(S);
  const g26 = new Float64Array(S);
  const gs = new Float64Array(S);
  const cntG = new Int32Array(S);
  const cntS = new Int32Array(S);
  const lines = new Float64Array(S * M); // line(u) at slot u % M, 0 when NaN
  const valid = new Uint8Array(S * M);
  const last = rows ? (rows[rows.length - 1] ?? -1) : D - 1;
  for (let d = 0; d <= last; d++) {
    const b = d * S;
    const f = d - N + 1;
    const h = d - M + 1;
    const slot = (d % M) * S;
    const firstSlot = ((d + 1) % M) * S; // line(d - M + 1), written M - 1 days ago
    const k = m.rowOf[d];
    for (let s = 0; s < S; s++) {
      const x0 = c[b + s];
      const x = x0 === x0 ? x0 : 0;
      // x(d - N + 1) leaves G's window (it was in G(d - 1)) and is the EMA's first close
      const y0 = f >= 0 ? c[f * S + s] : 0;
      const y = y0 === y0 ? y0 : 0;
      g12[s] = (1 - a12) * g12[s] + a12 * x - ap12 * y;
      g26[s] = (1 - a26) * g26[s] + a26 * x - ap26 * y;
      cntG[s] = cntG[s] + (x0 === x0 ? 1 : 0) - (f >= 0 && y0 === y0 ? 1 : 0);
      let line = NaN;
      if (f >= 0 && cntG[s] === N - 1 && y0 === y0) {
        line = g12[s] + EMA12.p * y - (g26[s] + EMA26.p * y);
      }
      const ok = line === line;
      const l = ok ? line : 0;
      // line(d - M + 1) leaves Gs's window and is the signal's first line
      const z = h >= 0 ? lines[firstSlot + s] : 0;
      const zOk = h >= 0 && valid[firstSlot + s] === 1;
      gs[s] = (1 - a9) * gs[s] + a9 * l - ap9 * z;
      cntS[s] = cntS[s] + (ok ? 1 : 0) - (zOk ? 1 : 0);
      lines[slot + s] = l;
      valid[slot + s] = ok ? 1 : 0;
      if (k >= 0) {
        let value = line;
        if (out !== 0) {
          value = NaN;
          if (h >= 0 && cntS[s] === M - 1 && valid[firstSlot + s] === 1) {
            const sig = gs[s] + EMA9.p * lines[firstSlot + s];
            value = out === 1 ? sig : line - sig;
          }
        }
        v[k * S + s] = value;
      }
    }
  }
  return m;
}

/**
 * Bollinger bands of the last `len` closes (all present): middle = their mean, sd = population
 * standard deviation (two passes: mean, then mean squared deviation). bollinger_pct_b =
 * (close - (middle - k sd)) / (2 k sd), NaN when sd = 0; bollinger_width = 2 k sd / middle x 100.
 * A direct window per day (len is short).
 */
function bollinger(
  data: MarketData,
  id: FactorId,
  len: number,
  k: number,
  rows: ArrayLike<number> | null,
): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const c = data.close;
  const v = m.values;
  const sum = new Float64Array(S);
  const dev = new Float64Array(S);
  const pctB = id === 'bollinger_pct_b';
  eachRow(data, rows, (row, d) => {
    const o = row * S;
    if (d < len - 1) {
      v.fill(NaN, o, o + S);
      return;
    }
    sum.fill(0);
    dev.fill(0);
    for (let j = d - len + 1; j <= d; j++) {
      const b = j * S;
      for (let s = 0; s < S; s++) {
        sum[s] = sum[s] + c[b + s]; // NaN propagates
      }
    }
    for (let j = d - len + 1; j <= d; j++) {
      const b = j * S;
      for (let s = 0; s < S; s++) {
        const e = c[b + s] - sum[s] / len;
        dev[s] = dev[s] + e * e;
      }
    }
    const b = d * S;
    for (let s = 0; s < S; s++) {
      const mid = sum[s] / len;
      const sd = Math.sqrt(dev[s] / len);
      v[o + s] = pctB ? (sd > 0 ? (c[b + s] - (mid - k * sd)) / (2 * k * sd) : NaN) : ((2 * k * sd) / mid) * 100;
    }
  });
  return m;
}

/**
 * Fast stochastic %K over the last `len` bars (all of high, low and close present):
 * (close - lowest low) / (highest high - lowest low) x 100, NaN when the two are equal. With
 * `smooth` > 1, the mean of the last `smooth` %K values (%D), NaN unless all are.
 */
function stochastic(
  data: MarketData,
  id: FactorId,
  len: number,
  smooth: number,
  rows: ArrayLike<number> | null,
): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const { high, low, close } = data;
  const v = m.values;
  const hh = new Float64Array(S);
  const ll = new Float64Array(S);
  const bad = new Uint8Array(S);
  const acc = new Float64Array(S);
  const percentK = (d: number): void => {
    hh.fill(-Infinity);
    ll.fill(Infinity);
    bad.fill(0);
    for (let j = d - len + 1; j <= d; j++) {
      const b = j * S;
      for (let s = 0; s < S; s++) {
        const h = high[b + s];
        const l = low[b + s];
        bad[s] |= +(h !== h) | +(l !== l) | +(close[b + s] !== close[b + s]);
        if (h > hh[s]) {
          hh[s] = h;
        }
        if (l < ll[s]) {
          ll[s] = l;
        }
      }
    }
  };
  eachRow(data, rows, (row, d) => {
    const o = row * S;
    if (d < len - 1 + smooth - 1) {
      v.fill(NaN, o, o + S);
      return;
    }
    acc.fill(0);
    for (let i = smooth - 1; i >= 0; i--) {
      const e = d - i;
      percentK(e);
      const b = e * S;
      for (let s = 0; s < S; s++) {
        const range = hh[s] - ll[s];
        acc[s] = acc[s] + (bad[s] === 0 && range > 0 ? ((close[b + s] - ll[s]) / range) * 100 : NaN);
      }
    }
    for (let s = 0; s < S; s++) {
      v[o + s] = smooth === 1 ? acc[s] : acc[s] / smooth;
    }
  });
  return m;
}

/**
 * Commodity channel index over `len` bars (all present): TP = (high + low + close) / 3,
 * (TP(t) - mean TP) / (0.015 x mean |TP - mean TP|); NaN when that deviation is 0.
 */
function cci(data: MarketData, id: FactorId, len: number, rows: ArrayLike<number> | null): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const { high, low, close } = data;
  const v = m.values;
  const sum = new Float64Array(S);
  const dev = new Float64Array(S);
  const tp = (i: number): number => (high[i] + low[i] + close[i]) / 3;
  eachRow(data, rows, (row, d) => {
    const o = row * S;
    if (d < len - 1) {
      v.fill(NaN, o, o + S);
      return;
    }
    sum.fill(0);
    dev.fill(0);
    for (let j = d - len + 1; j <= d; j++) {
      const b = j * S;
      for (let s = 0; s < S; s++) {
        sum[s] = sum[s] + tp(b + s);
      }
    }
    for (let j = d - len + 1; j <= d; j++) {
      const b = j * S;
      for (let s = 0; s < S; s++) {
        dev[s] = dev[s] + Math.abs(tp(b + s) - sum[s] / len);
      }
    }
    const b = d * S;
    for (let s = 0; s < S; s++) {
      const md = dev[s] / len;
      v[o + s] = md > 0 ? (tp(b + s) - sum[s] / len) / (0.015 * md) : NaN;
    }
  });
  return m;
}
