import { epochDay, lowerBoundDate, validateMarketData, type MarketData } from '../data/market-data.js';
import type { RebalanceFrequency, StrategyDefinition } from '../definition/strategy-definition.js';
import { cagrOf, computeMetrics, yearsBetween, type BacktestMetrics } from './metrics.js';
import { CompiledStrategy } from './selection.js';

export type BuyReason = 'signal';
export type SellReason = 'rebalance' | 'sell_condition' | 'take_profit' | 'stop_loss' | 'max_holding' | 'delisted';

export interface Trade {
  date: number;
  code: string;
  side: 'buy' | 'sell';
  reason: BuyReason | SellReason;
  quantity: number;
  /** Fill price per share (slippage included). */
  price: number;
  /** quantity x price. */
  amount: number;
  commission: number;
  /** Sell tax (0 on buys). */
  tax: number;
  /** Sells: the round trip's net P/L (sell amount - sell costs - buy amount - buy commission). */
  pnl: number | null;
  /** Sells: pnl / (buy amount + buy commission). */
  returnRate: number | null;
  /** Sells: trading days from the buy fill to the sell fill. */
  holdingDays: number | null;
  entryDate: number | null;
}

export interface EquityCurve {
  dates: number[];
  /** cash + invested, at the close. */
  value: number[];
  cash: number[];
  /** Holdings at their latest close. */
  invested: number[];
  /** value / previous value - 1 (the first day: value / initial capital - 1). */
  dailyReturn: number[];
  /** value / running peak - 1 (<= 0). */
  drawdown: number[];
}

export interface OpenPosition {
  code: string;
  quantity: number;
  entryDate: number;
  entryPrice: number;
  lastPrice: number;
  marketValue: number;
  unrealizedPnl: number;
}

export interface BenchmarkResult {
  /** The benchmark scaled to the initial capital on the first day (missing days carry forward). */
  value: number[];
  totalReturn: number;
  cagr: number | null;
  /** Strategy total return - benchmark total return. */
  excessReturn: number;
  /** Strategy CAGR - benchmark CAGR. */
  excessCagr: number | null;
}

export interface BacktestResult {
  from: number;
  to: number;
  metrics: BacktestMetrics;
  equityCurve: EquityCurve;
  trades: Trade[];
  openPositions: OpenPosition[];
  benchmark: BenchmarkResult | null;
}

export interface BacktestProgress {
  done: number;
  total: number;
  date: number;
}

export interface BacktestOptions {
  /** First date (yyyymmdd, inclusive); the first trading day on or after it starts the run. */
  from: number;
  /** Last date (yyyymmdd, inclusive). */
  to: number;
  /** Benchmark prices aligned with data.dates (NaN where missing). */
  benchmark?: Float64Array;
  /** Called every `progressEvery` simulated days and after the last one. */
  onProgress?: (progress: BacktestProgress) => void;
  progressEvery?: number;
}

// Pending sell reasons (0 = none), indices into SELL_REASONS.
const R_NONE = 0;
const R_REBALANCE = 1;
const R_CONDITION = 2;
const R_MAX_HOLDING = 3;
const SELL_REASONS: readonly SellReason[] = ['rebalance', 'rebalance', 'sell_condition', 'max_holding'];

function periodKey(freq: RebalanceFrequency, date: number): number {
  switch (freq) {
    case 'daily':
      return date;
    case 'weekly':
      // Weeks start on Monday: 1970-01-01 (epoch day 0) was a Thursday.
      return Math.floor((epochDay(date) + 3) / 7);
    case 'monthly':
      return floorDiv(date, 100);
    case 'quarterly':
      return floorDiv(date, 10000) * 4 + Math.floor(((floorDiv(date, 100) % 100) - 1) / 3);
  }
}

/**
 * Math.floor(x / k) for an int32 x and a positive int32 constant k. For x >= 0 it is `| 0`,
 * which V8 compiles to an integer multiply-shift instead of a double division (this runs once
 * per day of every backtest).
 */
function floorDiv(x: number, k: number): number {
  return x >= 0 ? (x / k) | 0 : Math.floor(x / k);
}

/**
 * Rebalance days within [d0, d1]: the first trading day of each week / month / quarter (every
 * day for 'daily'), plus d0 itself so the portfolio is formed at the start of the run instead of
 * sitting in cash until the next period begins.
 */
export function rebalanceDays(data: MarketData, freq: RebalanceFrequency, d0: number, d1: number): Int32Array {
  const out = new Int32Array(d1 - d0 + 1);
  const dates = data.dates;
  let n = 0;
  if (freq === 'daily') {
    for (let d = d0; d <= d1; d++) {
      out[n++] = d;
    }
    return out;
  }
  let prevKey = d0 > 0 ? periodKey(freq, dates[d0 - 1]) : NaN;
  for (let d = d0; d <= d1; d++) {
    const key = periodKey(freq, dates[d]);
    if (d === d0 || key !== prevKey) {
      out[n++] = d;
    }
    prevKey = key;
  }
  return out.subarray(0, n);
}

/**
 * Simulates a strategy over [from, to]. The rules, and why:
 * 1. Signals (selection, sell conditions, max holding) use data up to day t's close, and their
 *    orders fill at day t+1's open: nobody can trade at the close that produced the signal.
 * 2. Open fills pay slippage against the trader: buys at open x (1 + s), sells at open x (1 - s).
 *    Commission is charged on both sides, sell tax on sells, as a fraction of the fill amount.
 * 3. Whole shares only (KRX has no fractional shares): qty = floor(budget / (price x (1 + c))).
 * 4. Cash never goes negative: the day's sells fill first, then buys in rank order, each limited
 *    to the cash left (scaled down to fewer shares, or skipped when not even one share fits).
 * 5. Position size: equity at t's close x weight, weight = min(1 / number of picks,
 *    maxWeightPerStock), also capped by maxValuePerStock. Holdings that stay selected are not
 *    resized (no churn); only dropped holdings are sold and new picks bought, up to maxPositions.
 * 6. Stop loss / take profit are resting orders relative to the entry fill price, checked every
 *    day against the day's low/high (including the buy day, whose whole range follows the open
 *    fill). They fill at their level with no slippage; when the day opens beyond the level (a
 *    gap) the fill is the open, since the level never traded. If the range crosses both, the stop
 *    wins: daily bars cannot tell which came first, and assuming the worse one is conservative.
 * 7. minHoldingDays blocks rebalance and condition sells (to avoid churn on noisy signals) but not
 *    stops and targets, which are risk limits. maxHoldingDays sells at the open of the day the
 *    position reaches that age. Ages are in trading days (data rows) from the buy fill.
 * 8. A holding whose stock has no bar and never trades again in the data (delisted) is sold on
 *    that first missing day at its last close, with commission and tax but no slippage. A holding
 *    that is only suspended keeps its last close as value; a pending sell waits for the next bar.
 * 9. A pick without a bar at the fill day's open is not bought.
 * Deterministic: no clocks, no randomness, fixed iteration orders (stock index ascending).
 */
export function runBacktest(def: StrategyDefinition, data: MarketData, options: BacktestOptions): BacktestResult {
  validateMarketData(data);
  const D = data.dates.length;
  const S = data.codes.length;
  const d0 = lowerBoundDate(data.dates, options.from);
  const d1 = lowerBoundDate(data.dates, options.to + 1) - 1;
  if (d0 > d1 || d0 >= D) {
    throw new RangeError(`no trading days between ${options.from} and ${options.to}`);
  }
  if (options.benchmark && options.benchmark.length !== D) {
    throw new RangeError(`benchmark has ${options.benchmark.length} values, expected ${D} (one per date)`);
  }
  const nDays = d1 - d0 + 1;
  const rebal = rebalanceDays(data, def.rebalance, d0, d1);
  // Sell conditions are checked every day of the run; the buy side only on rebalance days.
  let sellDays = new Int32Array(0);
  if (def.sell?.conditions) {
    sellDays = new Int32Array(nDays);
    for (let i = 0; i < nDays; i++) {
      sellDays[i] = d0 + i;
    }
  }
  const cs = new CompiledStrategy(def, data, rebal, sellDays);

  const { open, high, low, close, dates, codes } = data;
  const commission = def.costs.commissionBps / 10_000;
  const taxRate = def.costs.sellTaxBps / 10_000;
  const slip = def.costs.slippageBps / 10_000;
  const sell = def.sell ?? {};
  const stopFactor = sell.stopLossPct !== undefined ? 1 - sell.stopLossPct / 100 : NaN;
  const targetFactor = sell.takeProfitPct !== undefined ? 1 + sell.takeProfitPct / 100 : NaN;
  const hasStop = sell.stopLossPct !== undefined;
  const hasTarget = sell.takeProfitPct !== undefined;
  const minHold = sell.minHoldingDays ?? 0;
  const maxHold = sell.maxHoldingDays ?? Infinity;
  const K = def.maxPositions;
  const maxValue = def.weighting.maxValuePerStock ?? Infinity;

  // Positions, by stock index; `held` lists held stocks in buy order.
  const qty = new Float64Array(S);
  const entryPrice = new Float64Array(S);
  const entryCost = new Float64Array(S);
  const entryDay = new Int32Array(S);
  const lastPrice = new Float64Array(S);
  const pending = new Uint8Array(S);
  const lastBar = new Int32Array(S).fill(-2); // -2: not yet looked up
  const held = new Int32Array(K + 1);
  let heldCount = 0;
  const buyIdx = new Int32Array(K);
  const buyTarget = new Float64Array(K);
  let buyCount = 0;
  const picked = new Uint8Array(S);
  // Today's low/high of the held stocks, by stock index (see step 2).
  const dayLow = new Float64Array(S);
  const dayHigh = new Float64Array(S);

  let cash = def.initialCapital;
  const trades: Trade[] = [];
  const closedPnl: number[] = [];
  const closedHolding: number[] = [];
  let tradedAmount = 0;

  // The curve goes straight into plain arrays (the output format), no per-day objects.
  const curveValue = doubles(nDays);
  const curveCash = doubles(nDays);
  const curveInvested = doubles(nDays);
  const dailyReturn = doubles(nDays);
  const drawdown = doubles(nDays);
  let prevValue = def.initialCapital;
  let peak = def.initialCapital;
  let rebalanceIndex = 0;
  let nextRebalance = rebal.length > 0 ? rebal[0] : -1;
  const every = Math.max(1, Math.floor(options.progressEvery ?? 250));

  const lastBarOf = (s: number): number => {
    if (lastBar[s] === -2) {
      let d = D - 1;
      while (d >= 0 && !(close[d * S + s] > 0)) {
        d--;
      }
      lastBar[s] = d;
    }
    return lastBar[s];
  };

  const removeHeld = (s: number): void => {
    let i = 0;
    while (held[i] !== s) {
      i++;
    }
    held.copyWithin(i, i + 1, heldCount);
    heldCount--;
  };

  const sellPosition = (s: number, d: number, price: number, reason: SellReason): void => {
    const q = qty[s];
    const amount = q * price;
    const fee = amount * commission;
    const tax = amount * taxRate;
    cash += amount - fee - tax;
    tradedAmount += amount;
    const cost = entryCost[s];
    const pnl = amount - fee - tax - cost;
    const holdingDays = d - entryDay[s];
    closedPnl.push(pnl);
    closedHolding.push(holdingDays);
    trades.push({
      date: dates[d],
      code: codes[s],
      side: 'sell',
      reason,
      quantity: q,
      price,
      amount,
      commission: fee,
      tax,
      pnl,
      returnRate: pnl / cost,
      holdingDays,
      entryDate: dates[entryDay[s]],
    });
    qty[s] = 0;
    pending[s] = R_NONE;
    removeHeld(s);
  };

  for (let d = d0; d <= d1; d++) {
    const b = d * S;

    // 1. The morning: orders decided at the previous close fill at today's open. Sells first so
    //    their proceeds fund the buys.
    if (d > d0) {
      for (let i = heldCount - 1; i >= 0; i--) {
        const s = held[i];
        if (pending[s] === R_NONE) {
          continue; // checked first: reading open would touch a cold cache line per holding
        }
        const o = open[b + s];
        if (o > 0) {
          sellPosition(s, d, o * (1 - slip), SELL_REASONS[pending[s]]);
        }
      }
      for (let j = 0; j < buyCount; j++) {
        const s = buyIdx[j];
        const o = open[b + s];
        if (heldCount >= K || !(o > 0) || qty[s] > 0) {
          continue;
        }
        const price = o * (1 + slip);
        const budget = Math.min(buyTarget[j], cash);
        let q = Math.floor(budget / (price * (1 + commission)));
        while (q > 0 && q * price + q * price * commission > cash) {
          q--; // floating-point guard: never spend more than the cash there is
        }
        if (q <= 0) {
          continue;
        }
        const amount = q * price;
        const fee = amount * commission;
        cash -= amount + fee;
        tradedAmount += amount;
        qty[s] = q;
        entryPrice[s] = price;
        entryCost[s] = amount + fee;
        entryDay[s] = d;
        lastPrice[s] = price;
        held[heldCount++] = s;
        trades.push({
          date: dates[d],
          code: codes[s],
          side: 'buy',
          reason: 'signal',
          quantity: q,
          price,
          amount,
          commission: fee,
          tax: 0,
          pnl: null,
          returnRate: null,
          holdingDays: null,
          entryDate: null,
        });
      }
      buyCount = 0;
    }

    // 2. During the day: stop loss, then take profit, against the day's range.
    //    Each holding's bar is a cache miss (a day's rows are S values apart and only the held
    //    stocks are read), so the bars are read first in one loop with no data-dependent work
    //    between the loads, where the misses overlap, rather than one after another behind the
    //    checks' branches. The same loop values holdings at today's close (step 3): a position
    //    that a stop then sells no longer uses its last price.
    const checkRange = hasStop || hasTarget;
    let noBar = 0;
    for (let i = 0; i < heldCount; i++) {
      const s = held[i];
      const c = close[b + s];
      if (checkRange) {
        dayLow[s] = low[b + s];
        dayHigh[s] = high[b + s];
      }
      if (c > 0) {
        lastPrice[s] = c;
      } else {
        noBar = 1;
      }
    }
    if (checkRange) {
      for (let i = heldCount - 1; i >= 0; i--) {
        const s = held[i];
        // No bar today: low/high are NaN and neither comparison is true. Open is read only on a hit.
        const stop = entryPrice[s] * stopFactor;
        if (hasStop && dayLow[s] <= stop) {
          sellPosition(s, d, Math.min(stop, open[b + s]), 'stop_loss');
          continue;
        }
        const target = entryPrice[s] * targetFactor;
        if (hasTarget && dayHigh[s] >= target) {
          sellPosition(s, d, Math.max(target, open[b + s]), 'take_profit');
        }
      }
    }

    // 3. The close (holdings were valued in step 2): sell delisted ones at their last close.
    if (noBar) {
      for (let i = heldCount - 1; i >= 0; i--) {
        const s = held[i];
        if (!(close[b + s] > 0) && lastBarOf(s) < d) {
          sellPosition(s, d, lastPrice[s], 'delisted');
        }
      }
    }
    let invested = 0;
    for (let i = 0; i < heldCount; i++) {
      const s = held[i];
      invested += qty[s] * lastPrice[s];
    }
    const k = d - d0;
    const value = cash + invested;
    curveValue[k] = value;
    curveCash[k] = cash;
    curveInvested[k] = invested;
    dailyReturn[k] = value / prevValue - 1;
    prevValue = value;
    peak = value > peak ? value : peak;
    drawdown[k] = value / peak - 1;

    // 4. Signals at the close, for tomorrow's open (none on the last day: there is no tomorrow).
    const isRebalance = d === nextRebalance;
    if (isRebalance) {
      rebalanceIndex++;
      nextRebalance = rebalanceIndex < rebal.length ? rebal[rebalanceIndex] : -1;
    }
    if (d < d1) {
      for (let i = 0; i < heldCount; i++) {
        const s = held[i];
        if (pending[s] !== R_NONE) {
          continue;
        }
        const ageTomorrow = d + 1 - entryDay[s];
        if (ageTomorrow >= maxHold) {
          pending[s] = R_MAX_HOLDING;
        } else if (ageTomorrow >= minHold && cs.hasSellConditions && cs.sellSignal(d, s)) {
          pending[s] = R_CONDITION;
        }
      }
      if (isRebalance) {
        const n = cs.select(d);
        for (let j = 0; j < n; j++) {
          picked[cs.pickIdx[j]] = 1;
        }
        let staying = 0;
        for (let i = 0; i < heldCount; i++) {
          const s = held[i];
          if (pending[s] === R_NONE && picked[s] === 0 && d + 1 - entryDay[s] >= minHold) {
            pending[s] = R_REBALANCE;
          }
          if (pending[s] === R_NONE) {
            staying++;
          }
        }
        const target = Math.min(value * cs.weight(n), maxValue);
        for (let j = 0; j < n; j++) {
          const s = cs.pickIdx[j];
          picked[s] = 0;
          if (qty[s] > 0 || staying + buyCount >= K) {
            continue;
          }
          buyIdx[buyCount] = s;
          buyTarget[buyCount] = target;
          buyCount++;
        }
      }
    }

    if (options.onProgress && ((k + 1) % every === 0 || d === d1)) {
      options.onProgress({ done: k + 1, total: nDays, date: dates[d] });
    }
  }

  const curveDates = toArray(dates, d0, d1 + 1);
  const metrics = computeMetrics({
    dates: curveDates,
    value: curveValue,
    initialCapital: def.initialCapital,
    closedPnl,
    closedHoldingDays: closedHolding,
    tradedAmount,
    numberOfTrades: trades.length,
  });

  const openPositions: OpenPosition[] = [];
  for (let i = 0; i < heldCount; i++) {
    const s = held[i];
    const marketValue = qty[s] * lastPrice[s];
    openPositions.push({
      code: codes[s],
      quantity: qty[s],
      entryDate: dates[entryDay[s]],
      entryPrice: entryPrice[s],
      lastPrice: lastPrice[s],
      marketValue,
      unrealizedPnl: marketValue - entryCost[s],
    });
  }

  return {
    from: dates[d0],
    to: dates[d1],
    metrics,
    equityCurve: {
      dates: curveDates,
      value: curveValue,
      cash: curveCash,
      invested: curveInvested,
      dailyReturn,
      drawdown,
    },
    trades,
    openPositions,
    benchmark: options.benchmark
      ? benchmarkResult(options.benchmark, d0, d1, def.initialCapital, metrics, dates)
      : null,
  };
}

/**
 * A plain array of n doubles, stored by V8 as unboxed doubles from the start (an array filled
 * with 0 holds small integers and is converted on the first double write). Copied from a
 * cached double-filled template: slice() of a double array is a memory copy, about 3x faster
 * than allocating and filling, and five of these are made per backtest. The template is never
 * written to, so the cache cannot change results.
 */
let doubleTemplate: number[] = [];
function doubles(n: number): number[] {
  if (doubleTemplate.length < n) {
    doubleTemplate = new Array<number>(n).fill(0.5);
  }
  return doubleTemplate.slice(0, n);
}

/** Typed array slice to a plain array (Array.from's iterator path is ~10x slower). */
function toArray(src: Int32Array, start: number, end: number): number[] {
  const out = new Array<number>(end - start);
  for (let i = start; i < end; i++) {
    out[i - start] = src[i];
  }
  return out;
}

function benchmarkResult(
  series: Float64Array,
  d0: number,
  d1: number,
  initial: number,
  metrics: BacktestMetrics,
  dates: Int32Array,
): BenchmarkResult {
  const value: number[] = [];
  let base = NaN;
  let last = initial;
  for (let d = d0; d <= d1; d++) {
    const p = series[d];
    if (p > 0) {
      if (!(base > 0)) {
        base = p;
      }
      last = (initial * p) / base;
    }
    value.push(last);
  }
  const totalReturn = last / initial - 1;
  const cagr = cagrOf(initial, last, yearsBetween(dates[d0], dates[d1]));
  return {
    value,
    totalReturn,
    cagr,
    excessReturn: metrics.totalReturn - totalReturn,
    excessCagr: cagr !== null && metrics.cagr !== null ? metrics.cagr - cagr : null,
  };
}
