import { lowerBoundDate, marketOn, validateMarketData, type Market, type MarketData } from '../data/market-data.js';
import {
  applyCorporateAction,
  corporateActionDays,
  type CorporateAction,
  type CorporateActionKind,
} from '../data/corporate-actions.js';
import type { RebalanceFrequency, StrategyDefinition } from '../definition/strategy-definition.js';
import { cagrOf, computeMetrics, yearsBetween, type BacktestMetrics } from './metrics.js';
import {
  periodKey,
  StrategyDecider,
  type DayDecision,
  type DecideOptions,
  type Holding,
  type OpenSellReason,
  type PlannedOrder,
  type PortfolioState,
} from './decide.js';
import { bookFill, lockedAtLimit, refusedOnExDate, touchFill, type OrderKind, type RawFill } from './orders.js';

export type BuyReason = 'signal';
export type SellReason =
  'rebalance' | 'sell_condition' | 'take_profit' | 'stop_loss' | 'max_holding' | 'delisted' | 'liquidation' | 'manual';

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

/** A corporate action applied to a holding on its ex-date (rule 6 of runBacktest). */
export interface AppliedCorporateAction {
  date: number;
  code: string;
  kind: CorporateActionKind;
  quantityBefore: number;
  /** 0 when the holding was paid out entirely (a reverse split of fewer shares than its ratio). */
  quantityAfter: number;
  entryPriceBefore: number;
  entryPriceAfter: number;
  /** The ex-date's base price (previous close / priceFactor). */
  basePrice: number;
  /** Whole won paid for fractional shares (and a rights issue's rights). */
  cash: number;
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
  /** Present when the data has corporate actions: those applied to holdings, in order. */
  corporateActions?: AppliedCorporateAction[];
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

/**
 * Rebalance days within [d0, d1]: the first trading day of each week / month / quarter (every
 * day for 'daily'), plus d0 itself so the portfolio is formed at the start of the run.
 */
export function rebalanceDays(data: MarketData, freq: RebalanceFrequency, d0: number, d1: number): Int32Array {
  // isRebalanceDay's rule, with each day's period key computed once
  const out = new Int32Array(d1 - d0 + 1);
  let n = 0;
  let prevKey = d0 > 0 ? periodKey(freq, data.dates[d0 - 1]) : NaN;
  for (let d = d0; d <= d1; d++) {
    const key = periodKey(freq, data.dates[d]);
    if (d === d0 || freq === 'daily' || key !== prevKey) {
      out[n++] = d;
    }
    prevKey = key;
  }
  return out.subarray(0, n);
}

/**
 * Simulates a strategy over [from, to]: every day, the fills of the orders StrategyDecider
 * decided at the previous close (orders.ts fills them on the day's bar, as the paper broker
 * fills live orders), the valuation at the close, and the next decision. The rules, and why:
 * 1. Signals use data up to day t's close; their orders fill on day t+1, never at the close that
 *    produced them (see StrategyDecider for what is decided, orders.ts for how each order fills).
 * 2. Every fill pays slippage against the trader, its price on the day's tick grid; commission on
 *    both sides, the sell tax of the sell date and market on sells; money in whole won (bookFill).
 *    A bar without trading (volume 0) fills nothing; a bar locked at the day's lower limit fills
 *    no sell, one locked at the upper limit no buy; the limits are those of the previous close in
 *    the data (none when the stock has no earlier bar).
 * 3. Whole shares only; buys are limit orders sized so that their worst fill fits the cash held
 *    at the signal: cash never goes negative.
 * 4. Halts and delistings. A holding without a bar or with a zero-volume bar on a day (halted) is
 *    valued at its last close in the data and fills no order (rule 2): a pending market sell is
 *    sent again the next day, a stop or target placed again at the next close. A holding whose
 *    stock is delisted (StockInfo.delistedOn, the date recorded in the data) is closed at the
 *    close of the first trading day on or after that date, at its last close before that day x
 *    (1 - costs.delistingHaircutPct / 100), with commission and tax but no slippage nor tick
 *    rounding (not an exchange order). Nothing else delists a holding: a stock whose bars stop
 *    (at the end of the data or before) without a recorded date is halted and stays held.
 *    (Live trading cannot place that order; a delisting is booked there as a corporate action.)
 * 5. A stock's market on a day (tax, tick grid, price limits) is the one its StockInfo.history
 *    gives for that day's date (point in time).
 * 6. Corporate actions (MarketData.corporateActions): factors and signals read the back-adjusted
 *    series (adjustedForFactors); orders, fills and holdings stay in real prices and shares. At
 *    the start of an event's ex-date (the first date in the data on or after it), before any
 *    fill, a holding of the stock becomes applyCorporateAction's: floor(quantity x shareRatio)
 *    shares, entry price / priceFactor (its stop and target move with it), the rest of its value
 *    at the base price (previous close / priceFactor) paid in whole won, truncated, and taken off
 *    its entry cost (so the round trip's P/L counts it); a holding left with no share is closed
 *    with that cash. That day's price limits are those of the base price, and an order decided
 *    before the event whose level lies outside them (a limit buy, stop or target priced on the
 *    old basis) is refused, as the exchange refuses it; market sells fill the adjusted quantity.
 * Deterministic: no clocks, no randomness, fixed iteration orders.
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
  const decider = new StrategyDecider(def, data, rebal, sellDays);
  const { open, high, low, close, volume, dates, codes, stocks } = data;
  const costs = def.costs;

  const state: PortfolioState = { cash: def.initialCapital, holdings: [], wanted: [] };
  const lastPrice = new Float64Array(S);
  // the day index of each stock's recorded delisting (D or more: none within the data)
  const delistDay = new Int32Array(S).fill(D + 1);
  for (let s = 0; s < S; s++) {
    const on = stocks[s].delistedOn;
    if (on !== undefined) {
      delistDay[s] = lowerBoundDate(dates, on);
    }
  }
  const haircut = 1 - (costs.delistingHaircutPct ?? 0) / 100;
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
  const every = Math.max(1, Math.floor(options.progressEvery ?? 250));
  let decision: DayDecision | null = null;
  const actions: readonly CorporateAction[] = data.corporateActions ?? [];
  const actionDays = corporateActionDays(data);
  let nextAction = 0;
  while (nextAction < actions.length && actionDays[nextAction] < d0) {
    nextAction++; // before the run: nothing is held yet
  }
  const applied: AppliedCorporateAction[] = [];

  /** The stock's market on day d (StockInfo.history, point in time). */
  const marketOf = (s: number, d: number): Market => marketOn(data, s, dates[d]);

  /** The previous close before day d (the base of d's price limits), NaN when there is none. */
  const baseOf = (s: number, d: number): number => {
    for (let x = d - 1; x >= 0; x--) {
      const c = close[x * S + s];
      if (c > 0) {
        return c;
      }
    }
    return NaN;
  };

  const sellHolding = (h: Holding, d: number, kind: OrderKind, raw: RawFill, reason: SellReason): void => {
    const session = { date: dates[d], market: marketOf(h.stock, d) };
    const fill = bookFill(kind, h.quantity, raw, costs, session, reason === 'delisted' ? MARKET_PRICE : NO_OPTIONS);
    state.cash += fill.cashDelta;
    tradedAmount += fill.amount;
    const pnl = fill.cashDelta - h.entryCost;
    const holdingDays = d - h.entryDay;
    closedPnl.push(pnl);
    closedHolding.push(holdingDays);
    trades.push({
      date: dates[d],
      code: codes[h.stock],
      side: 'sell',
      reason,
      quantity: h.quantity,
      price: fill.price,
      amount: fill.amount,
      commission: fill.commission,
      tax: fill.tax,
      pnl,
      returnRate: pnl / h.entryCost,
      holdingDays,
      entryDate: dates[h.entryDay],
    });
    state.holdings.splice(state.holdings.indexOf(h), 1);
  };

  const buy = (stock: number, quantity: number, d: number, raw: RawFill): void => {
    const fill = bookFill('limit_buy', quantity, raw, costs, { date: dates[d], market: marketOf(stock, d) });
    state.cash += fill.cashDelta;
    tradedAmount += fill.amount;
    state.holdings.push({
      stock,
      quantity,
      entryDay: d,
      entryPrice: fill.price,
      entryCost: -fill.cashDelta,
      pendingSell: null,
    });
    lastPrice[stock] = fill.price;
    state.wanted = state.wanted.filter((w) => w.stock !== stock);
    trades.push({
      date: dates[d],
      code: codes[stock],
      side: 'buy',
      reason: 'signal',
      quantity,
      price: fill.price,
      amount: fill.amount,
      commission: fill.commission,
      tax: 0,
      pnl: null,
      returnRate: null,
      holdingDays: null,
      entryDate: null,
    });
  };

  /**
   * Rule 5: the holding of the event's stock, if any, at the start of its ex-date d; `earlier` is
   * the product of the factors of the stock's events already applied on d (two ex-dates between
   * the same two trading days), whose base this event's starts from.
   */
  const applyAction = (a: CorporateAction, d: number, earlier: number): void => {
    const h = state.holdings.find((x) => x.stock === a.stock);
    if (!h) {
      return;
    }
    const close = baseOf(a.stock, d);
    const previousClose = close > 0 ? close / earlier : lastPrice[a.stock];
    const adj = applyCorporateAction(h, a, previousClose);
    applied.push({
      date: dates[d],
      code: codes[a.stock],
      kind: a.kind,
      quantityBefore: h.quantity,
      quantityAfter: adj.quantity,
      entryPriceBefore: h.entryPrice,
      entryPriceAfter: adj.entryPrice,
      basePrice: adj.basePrice,
      cash: adj.cash,
    });
    state.cash += adj.cash;
    h.entryCost -= adj.cash;
    lastPrice[a.stock] = adj.basePrice;
    if (adj.quantity === 0) {
      closedPnl.push(-h.entryCost);
      closedHolding.push(d - h.entryDay);
      state.holdings.splice(state.holdings.indexOf(h), 1);
      return;
    }
    h.quantity = adj.quantity;
    h.entryPrice = adj.entryPrice;
    h.resting = undefined; // the decider's caches of the old levels
    h.levels = undefined;
  };

  for (let d = d0; d <= d1; d++) {
    const b = d * S;

    // 0. Corporate actions taking effect today (rule 6), before any fill.
    /** On an ex-date, the day's events' priceFactors by stock; null on the other days. */
    let exToday: Map<number, number> | null = null;
    while (nextAction < actions.length && actionDays[nextAction] === d) {
      const a = actions[nextAction++];
      exToday ??= new Map();
      const earlier = exToday.get(a.stock) ?? 1;
      applyAction(a, d, earlier);
      exToday.set(a.stock, earlier * a.priceFactor);
    }

    // 1. The day's fills of the orders decided at the previous close, in their order (the
    //    opening auction's sells and buys, then the resting sells).
    // (indexed loops: this runs every simulated day, and for-of over arrays of different shapes
    // is several times slower here)
    const fills = decision ? decision.orders : NONE;
    for (let i = 0; i < fills.length; i++) {
      {
        const order = fills[i];
        const s = order.stock;
        // fillOnPrices, with the previous close looked up only for an order that would fill
        const raw = touchFill(order.kind, order.level, open[b + s], high[b + s], low[b + s], volume[b + s]);
        if (raw === null || delistDay[s] <= d) {
          continue;
        }
        let base = baseOf(s, d);
        const exFactor = exToday === null ? undefined : exToday.get(s);
        if (exFactor !== undefined) {
          // an ex-date (rule 6): the limits of the base price; an order priced on the old basis is refused
          base /= exFactor;
          if (refusedOnExDate(order.kind, order.level, base, dates[d], marketOf(s, d))) {
            continue;
          }
        }
        if (lockedAtLimit(order.kind, high[b + s], low[b + s], base, dates[d], marketOf(s, d))) {
          continue;
        }
        if (order.side === 'buy') {
          buy(s, order.quantity, d, raw);
        } else {
          const h = state.holdings.find((x) => x.stock === s);
          if (h) {
            sellHolding(h, d, order.kind, raw, order.reason as SellReason);
          }
        }
      }
    }

    // 2. The close: close the holdings delisted on or before today (the recorded date) at their
    //    last close less the haircut, value the others at their last close (halted: an earlier one).
    let invested = 0;
    for (let i = state.holdings.length - 1; i >= 0; i--) {
      const h = state.holdings[i];
      const c = close[b + h.stock];
      if (delistDay[h.stock] <= d) {
        sellHolding(h, d, 'market_sell', { price: lastPrice[h.stock] * haircut, at: 'level' }, 'delisted');
      } else if (c > 0) {
        lastPrice[h.stock] = c;
      }
    }
    for (let i = 0; i < state.holdings.length; i++) {
      const h = state.holdings[i];
      invested += h.quantity * lastPrice[h.stock];
    }
    const k = d - d0;
    const value = state.cash + invested;
    curveValue[k] = value;
    curveCash[k] = state.cash;
    curveInvested[k] = invested;
    dailyReturn[k] = value / prevValue - 1;
    prevValue = value;
    peak = value > peak ? value : peak;
    drawdown[k] = value / peak - 1;

    // 3. Signals at the close, for tomorrow (none on the last day: there is no tomorrow).
    const isRebalance = rebalanceIndex < rebal.length && rebal[rebalanceIndex] === d;
    if (isRebalance) {
      rebalanceIndex++;
    }
    decision = null;
    const dayOptions = isRebalance ? REBALANCE : NO_REBALANCE;
    if (d < d1 && !decider.quietDay(state, dayOptions)) {
      decision = decider.decide(d, state, dayOptions);
      state.wanted = decision.wanted;
      const orders = decision.orders;
      for (let i = 0; i < orders.length; i++) {
        const order = orders[i];
        if (order.kind === 'market_sell') {
          const h = state.holdings.find((x) => x.stock === order.stock) as Holding;
          h.pendingSell = order.reason as OpenSellReason;
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

  const openPositions: OpenPosition[] = state.holdings.map((h) => {
    const marketValue = h.quantity * lastPrice[h.stock];
    return {
      code: codes[h.stock],
      quantity: h.quantity,
      entryDate: dates[h.entryDay],
      entryPrice: h.entryPrice,
      lastPrice: lastPrice[h.stock],
      marketValue,
      unrealizedPnl: marketValue - h.entryCost,
    };
  });

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
    ...(actions.length > 0 ? { corporateActions: applied } : {}),
  };
}

const NONE: readonly PlannedOrder[] = [];
const MARKET_PRICE = { marketPrice: true } as const;
const NO_OPTIONS = {} as const;
const REBALANCE: DecideOptions = { rebalance: true };
const NO_REBALANCE: DecideOptions = { rebalance: false };

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
