import { epochDay, marketOn, type Market, type MarketData } from '../data/market-data.js';
import { priceLimitPct } from '../market-rules/limits.js';
import type { RebalanceFrequency, StrategyDefinition } from '../definition/strategy-definition.js';
import { roundToTick, tickBands, type TickBands } from '../market-rules/ticks.js';
import {
  buyLimitPrice,
  sharesWithin,
  withinLimitsOf,
  worstBuyCost,
  type MarketSession,
  type OrderKind,
} from './orders.js';
import type { FactorCache } from './factor-cache.js';
import { CompiledStrategy } from './selection.js';

/** Why a holding is sold at the next open (market order in the opening auction). */
export type OpenSellReason = 'rebalance' | 'sell_condition' | 'max_holding' | 'liquidation' | 'manual';

export interface Holding {
  stock: number;
  quantity: number;
  /** Day index of the buy fill. */
  entryDay: number;
  /** Fill price per share, slippage included (stops and targets are relative to it). */
  entryPrice: number;
  /** Whole won paid: amount + commission. */
  entryCost: number;
  /** A sell at the open decided earlier that has not filled yet (no bar that day). */
  pendingSell: OpenSellReason | null;
  /** The decider's last resting order for this holding, reused while it stays the same (a cache). */
  resting?: PlannedOrder;
  /** The stop and target on the tick grid of `bands`, before the day's limits (a cache of the decider). */
  levels?: { bands: TickBands; stop: number; target: number };
}

/** A pick of the latest rebalance that is not bought yet; it is tried every day until then. */
export interface WantedPick {
  stock: number;
  rank: number;
  /** Whole won to invest, fixed at the rebalance: equity x weight, capped by maxValuePerStock. */
  target: number;
}

export interface PortfolioState {
  /** Whole won, after every fill of the signal day. */
  cash: number;
  /** In buy order. */
  holdings: Holding[];
  wanted: WantedPick[];
}

export interface PlannedOrder {
  kind: OrderKind;
  stock: number;
  side: 'buy' | 'sell';
  quantity: number;
  /** limit_buy: the limit; stop_sell: the stop; target_sell: the target; market_sell: NaN. */
  level: number;
  reason: OpenSellReason | 'signal' | 'stop_loss' | 'take_profit';
}

export interface DayDecision {
  signalDay: number;
  rebalanced: boolean;
  /** Market sells first, then buys in rank order, then the day's resting sells. */
  orders: readonly PlannedOrder[];
  /** The wanted picks after this decision (a rebalance replaces them). */
  wanted: WantedPick[];
}

export interface DecideOptions {
  /** A rebalance signal: select, sell the dropped holdings, want the new picks. */
  rebalance: boolean;
  /** Sell everything at the next open and buy nothing. */
  liquidate?: boolean;
  /**
   * An inactive strategy: no rule applies any more (no buys, no rule sells, no resting orders);
   * only sells already decided (a manual sell of a position) are sent.
   */
  pendingOnly?: boolean;
  /**
   * yyyymmdd of the session the orders are for (its tick table and price limits set the order
   * prices). Default: the next date in the data, else the signal date (live data ends at the
   * signal day: the trading service passes the trading date).
   */
  sessionDate?: number;
}

/** Shared by every quiet day; never written to (typed readonly). */
const NO_ORDERS: readonly PlannedOrder[] = [];

/**
 * The first trading day of each week (Monday-based) / month / quarter, every day for 'daily':
 * the days whose close selects. `first` marks the first signal of a strategy, which always
 * selects, so the portfolio is formed at once instead of waiting in cash for the next period.
 */
export function isRebalanceDay(data: MarketData, freq: RebalanceFrequency, t: number, first: boolean): boolean {
  if (first || freq === 'daily' || t === 0) {
    return true;
  }
  return periodKey(freq, data.dates[t]) !== periodKey(freq, data.dates[t - 1]);
}

/** The week (Monday-based) / month / quarter a yyyymmdd date falls in; the date itself for 'daily'. */
export function periodKey(freq: RebalanceFrequency, date: number): number {
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
 * which V8 compiles to an integer multiply-shift instead of a double division (a backtest asks
 * this once per simulated day).
 */
function floorDiv(x: number, k: number): number {
  return x >= 0 ? (x / k) | 0 : Math.floor(x / k);
}

/**
 * The one place a strategy decides, for a backtest and for live trading alike: given the state
 * after day t's fills and the data up to t's close, the orders for day t+1. The rules:
 * 1. Sells at the open (market): a holding reaching maxHoldingDays; one whose sell conditions
 *    hold (not before minHoldingDays); on a rebalance, one no longer picked (not before
 *    minHoldingDays); everything when liquidating. A decided sell that could not fill (no bar)
 *    is sent again every day until it fills.
 * 2. On a rebalance the picks replace the wanted list, each with a target of equity at t's close
 *    x weight (1 / picks, capped by maxWeightPerStock), capped by maxValuePerStock. Holdings that
 *    stay picked are not resized.
 * 3. Buys: wanted picks in rank order, while positions (every holding, the ones being sold too,
 *    plus the buys) stay within maxPositions, each a limit order at t's close + BUY_LIMIT_PCT for the whole
 *    shares whose worst fill fits min(target, the cash not yet committed). Only cash held at the
 *    signal funds buys: the same morning's sell proceeds do not exist yet when the orders are
 *    sent before the open, at a broker as here; they fund the next day's buys, and a holding
 *    being sold frees its place once it is sold. A pick that does
 *    not fill (no cash, a gap above the limit, no bar) stays wanted until the next rebalance.
 *    The limit is on the session's tick grid, rounded down (orderPrice). With
 *    costs.maxTradingValueShare, a buy's value at its limit is at most that share of the stock's
 *    trading value on day t (none when it did not trade).
 * 4. Resting sells for every holding not sold at the open: the stop (stopLossPct below the entry
 *    price) or the target (takeProfitPct above it), each rounded UP to the session's tick grid and
 *    kept inside the session's price limits of the latest close (orderPrice). A KRX broker holds
 *    one sell order per share, so with both set the one nearer t's close is placed (the stop on a
 *    tie): the one the next day can reach first.
 * Ages are in trading days (data rows) from the buy fill. Deterministic: no clocks.
 */
export class StrategyDecider {
  readonly compiled: CompiledStrategy;
  private readonly S: number;

  /**
   * @param selectionDays ascending day indices that may select (all, when unknown)
   * @param conditionDays ascending day indices whose sell conditions may be evaluated
   * @param cache factors shared with the other strategies deciding on the same data (live runs)
   */
  constructor(
    readonly def: StrategyDefinition,
    readonly data: MarketData,
    selectionDays: ArrayLike<number>,
    conditionDays: ArrayLike<number>,
    cache?: FactorCache,
  ) {
    this.compiled = new CompiledStrategy(def, data, selectionDays, conditionDays, cache);
    this.S = data.codes.length;
    this.mark = new Uint8Array(this.S);
    this.picked = new Uint8Array(this.S);
    const sell = def.sell ?? {};
    this.dailyRules =
      sell.maxHoldingDays !== undefined ||
      sell.conditions !== undefined ||
      sell.stopLossPct !== undefined ||
      sell.takeProfitPct !== undefined;
  }

  /** Rules that may sell a holding on any day, not only on a rebalance. */
  private readonly dailyRules: boolean;
  /** Scratch, by stock index, all zero between calls: held (1) / being sold (2), and picked. */
  private readonly mark: Uint8Array;
  private readonly picked: Uint8Array;

  /**
   * True when no rule can order anything at this close: no rebalance, no liquidation, no wanted
   * pick, no sell already decided, and either no holdings or no rule that looks at them daily.
   */
  quietDay(state: PortfolioState, options: DecideOptions): boolean {
    if (options.rebalance || options.liquidate || state.wanted.length > 0) {
      return false;
    }
    if (state.holdings.length === 0) {
      return true;
    }
    if (this.dailyRules && !options.pendingOnly) {
      return false;
    }
    for (const h of state.holdings) {
      if (h.pendingSell !== null) {
        return false;
      }
    }
    return true;
  }

  /** The latest close on or before day t since the entry (the entry price when there is none). */
  lastPrice(h: Holding, t: number): number {
    const close = this.data.close;
    for (let d = t; d >= h.entryDay && d >= 0; d--) {
      const c = close[d * this.S + h.stock];
      if (c > 0) {
        return c;
      }
    }
    return h.entryPrice;
  }

  /** Cash + holdings at their latest close on or before day t. */
  equity(state: PortfolioState, t: number): number {
    let value = state.cash;
    for (const h of state.holdings) {
      value += h.quantity * this.lastPrice(h, t);
    }
    return value;
  }

  decide(t: number, state: PortfolioState, options: DecideOptions): DayDecision {
    if (this.quietDay(state, options)) {
      // most days of most strategies: nothing to decide (a backtest asks every day)
      return { signalDay: t, rebalanced: false, orders: NO_ORDERS, wanted: state.wanted };
    }
    const { def, data } = this;
    const cs = this.compiled;
    const S = this.S;
    const sell = def.sell ?? {};
    const minHold = sell.minHoldingDays ?? 0;
    const maxHold = sell.maxHoldingDays ?? Infinity;
    const holdings = state.holdings;
    // one array in the documented order (sells at the open, buys, resting sells); `mark` flags the
    // stocks held (1) and being sold (2), reset before returning (this runs every simulated day)
    const orders: PlannedOrder[] = [];
    const mark = this.mark;
    const sellAtOpen = (h: Holding, reason: OpenSellReason): void => {
      mark[h.stock] = 2;
      orders.push({ kind: 'market_sell', stock: h.stock, side: 'sell', quantity: h.quantity, level: NaN, reason });
    };
    for (let i = 0; i < holdings.length; i++) {
      mark[holdings[i].stock] = 1;
    }
    try {
      for (let i = 0; i < holdings.length; i++) {
        const h = holdings[i];
        const ageTomorrow = t + 1 - h.entryDay;
        if (options.liquidate) {
          sellAtOpen(h, 'liquidation');
        } else if (h.pendingSell !== null) {
          sellAtOpen(h, h.pendingSell);
        } else if (options.pendingOnly) {
          continue;
        } else if (ageTomorrow >= maxHold) {
          sellAtOpen(h, 'max_holding');
        } else if (ageTomorrow >= minHold && cs.hasSellConditions && cs.sellSignal(t, h.stock)) {
          sellAtOpen(h, 'sell_condition');
        }
      }
      if (options.liquidate || options.pendingOnly) {
        return { signalDay: t, rebalanced: false, orders, wanted: [] };
      }

      let wanted = state.wanted;
      if (options.rebalance) {
        const n = cs.select(t);
        const picked = this.picked;
        for (let j = 0; j < n; j++) {
          picked[cs.pickIdx[j]] = 1;
        }
        for (let i = 0; i < holdings.length; i++) {
          const h = holdings[i];
          if (mark[h.stock] === 1 && picked[h.stock] === 0 && t + 1 - h.entryDay >= minHold) {
            sellAtOpen(h, 'rebalance');
          }
        }
        const target = Math.min(this.equity(state, t) * cs.weight(n), def.weighting.maxValuePerStock ?? Infinity);
        wanted = [];
        for (let j = 0; j < n; j++) {
          const s = cs.pickIdx[j];
          picked[s] = 0;
          if (mark[s] === 0) {
            wanted.push({ stock: s, rank: j + 1, target });
          }
        }
      } else if (wanted.length > 0) {
        wanted = wanted.filter((w) => mark[w.stock] === 0);
      }

      const sessionDate = options.sessionDate ?? (t + 1 < data.dates.length ? data.dates[t + 1] : data.dates[t]);
      const valueShare = def.costs.maxTradingValueShare;
      let positions = holdings.length;
      let cashLeft = state.cash;
      for (const w of wanted) {
        if (positions >= def.maxPositions) {
          break;
        }
        const close = data.close[t * S + w.stock];
        if (!(close > 0)) {
          continue;
        }
        const session: MarketSession = { date: sessionDate, market: marketOn(data, w.stock, sessionDate) };
        const limit = buyLimitPrice(close, session);
        let quantity = sharesWithin(Math.min(w.target, cashLeft), limit, def.costs, session);
        if (valueShare !== undefined) {
          const traded = data.tradingValue[t * S + w.stock];
          quantity = traded > 0 ? Math.min(quantity, Math.floor((valueShare * traded) / limit)) : 0;
        }
        if (quantity <= 0) {
          continue;
        }
        cashLeft -= worstBuyCost(quantity, limit, def.costs, session);
        positions++;
        orders.push({ kind: 'limit_buy', stock: w.stock, side: 'buy', quantity, level: limit, reason: 'signal' });
      }

      const hasStop = sell.stopLossPct !== undefined;
      const hasTarget = sell.takeProfitPct !== undefined;
      if (hasStop || hasTarget) {
        const stopFactor = 1 - (sell.stopLossPct ?? 0) / 100;
        const targetFactor = 1 + (sell.takeProfitPct ?? 0) / 100;
        // the session's tick bands and limit of the market last seen (holdings mostly share one)
        let rulesMarket: Market | null = null;
        let bands: TickBands = tickBands(sessionDate, 'KOSPI');
        let pct = 0;
        for (let i = 0; i < holdings.length; i++) {
          const h = holdings[i];
          if (mark[h.stock] === 2) {
            continue;
          }
          const close = this.lastPrice(h, t);
          const market = marketOn(data, h.stock, sessionDate);
          // orderPrice: on the session's grid (rounded up), then inside its limits of the close
          if (market !== rulesMarket) {
            rulesMarket = market;
            bands = tickBands(sessionDate, market);
            pct = priceLimitPct(sessionDate, market);
          }
          let grid = h.levels;
          if (grid === undefined || grid.bands !== bands) {
            const stopAt = roundToTick(h.entryPrice * stopFactor, 'up', bands);
            grid = { bands, stop: stopAt, target: roundToTick(h.entryPrice * targetFactor, 'up', bands) };
            h.levels = grid;
          }
          // withinLimitsOf, its inside test inlined (this runs for every holding and day)
          const lo = close * (1 - pct / 100);
          const hi = close * (1 + pct / 100);
          let stop = grid.stop;
          if (hasStop && !(stop >= lo && stop <= hi)) {
            stop = withinLimitsOf(stop, close, pct, sessionDate, market);
          }
          let targetPrice = grid.target;
          if (hasTarget && !(targetPrice >= lo && targetPrice <= hi)) {
            targetPrice = withinLimitsOf(targetPrice, close, pct, sessionDate, market);
          }
          let useStop = hasStop;
          if (hasStop && hasTarget) {
            useStop = close - stop <= targetPrice - close;
          }
          const kind = useStop ? 'stop_sell' : 'target_sell';
          const level = useStop ? stop : targetPrice;
          let order = h.resting;
          if (!order || order.kind !== kind || order.level !== level || order.quantity !== h.quantity) {
            const reason = useStop ? 'stop_loss' : 'take_profit';
            order = { kind, stock: h.stock, side: 'sell', quantity: h.quantity, level, reason };
            h.resting = order;
          }
          orders.push(order);
        }
      }
      return { signalDay: t, rebalanced: options.rebalance, orders, wanted };
    } finally {
      for (let i = 0; i < holdings.length; i++) {
        mark[holdings[i].stock] = 0;
      }
    }
  }
}
