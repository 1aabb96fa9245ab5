import type { FundamentalStatement, MarketData } from '../data/market-data.js';
import type { FactorId } from './catalog.js';

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
  values: Float64Array;
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

export function computeFactor(data: MarketData, id: FactorId, days?: ArrayLike<number>): FactorMatrix {
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
      return fundamental(data, id, rows, (f) => (f.netIncome > 0 ? f.netIncome : NaN), true);
    case 'pbr':
      return fundamental(data, id, rows, (f) => (f.equity > 0 ? f.equity : NaN), true);
    case 'psr':
      return fundamental(data, id, rows, (f) => (f.revenue > 0 ? f.revenue : NaN), true);
    case 'roe':
      return fundamental(data, id, rows, (f) => (f.equity > 0 ? (f.netIncome / f.equity) * 100 : NaN), false);
    case 'debt_ratio':
      return fundamental(data, id, rows, (f) => (f.equity > 0 ? (f.liabilities / f.equity) * 100 : NaN), false);
    case 'operating_margin':
      return fundamental(data, id, rows, (f) => (f.revenue > 0 ? (f.operatingIncome / f.revenue) * 100 : NaN), false);
    case 'revenue_growth':
      return fundamental(
        data,
        id,
        rows,
        (f) => (f.revenuePrevYear > 0 ? (f.revenue / f.revenuePrevYear - 1) * 100 : NaN),
        false,
      );
    default: {
      const never: never = id;
      throw new Error(`unknown factor ${String(never)} (D=${D})`);
    }
  }
}

function allocate(data: MarketData, id: FactorId, rows: ArrayLike<number> | null): FactorMatrix {
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

function identity(data: MarketData, id: FactorId, source: Float64Array): FactorMatrix {
  const m = allocate(data, id, []);
  for (let d = 0; d < m.rowOf.length; d++) {
    m.rowOf[d] = d;
  }
  return { ...m, values: source };
}

function gather(data: MarketData, id: FactorId, source: Float64Array, rows: ArrayLike<number>): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  for (let k = 0; k < rows.length; k++) {
    m.values.set(source.subarray(rows[k] * S, rows[k] * S + S), k * S);
  }
  return m;
}

/** close(t) / close(t-L) - 1 in percent; NaN when either close is missing. */
function momentum(data: MarketData, id: FactorId, lag: number, rows: ArrayLike<number> | null): FactorMatrix {
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
    const b = d * S;
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
  source: Float64Array,
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
  close: Float64Array,
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

/**
 * Point-in-time fundamentals: on day d a stock's latest statement is the last one with
 * reportDate <= date(d); statements reported later are invisible (no look-ahead). `figure`
 * extracts the statement's number; with `overMarketCap` the value is marketCap(d) / figure
 * (valuation multiples move with the price every day), otherwise the figure itself.
 */
function fundamental(
  data: MarketData,
  id: FactorId,
  rows: ArrayLike<number> | null,
  figure: (f: FundamentalStatement) => number,
  overMarketCap: boolean,
): FactorMatrix {
  const m = allocate(data, id, rows);
  const S = m.stocks;
  const mc = data.marketCap;
  const v = m.values;
  const ptr = new Int32Array(S);
  const cur = new Float64Array(S).fill(NaN);
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
      }
      v[o + s] = overMarketCap ? mc[b + s] / cur[s] : cur[s];
    }
  }
  return m;
}
