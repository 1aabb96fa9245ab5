import { epochDay, type MarketData } from '../data/market-data.js';
import type { RebalanceFrequency, StrategyDefinition } from '../definition/strategy-definition.js';
import { buyLimitPrice, sharesWithin, worstBuyCost, type OrderKind } from './orders.js';
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
  orders: PlannedOrder[];
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
}

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

function periodKey(freq: RebalanceFrequency, date: number): number {
  switch (freq) {
    case 'daily':
      return date;
    case 'weekly':
      // Weeks start on Monday: 1970-01-01 (epoch day 0) was a Thursday.
      return Math.floor((epochDay(date) + 3) / 7);
    case 'monthly':
      return Math.floor(date / 100);
    case 'quarterly':
      return Math.floor(date / 10000) * 4 + Math.floor(((Math.floor(date / 100) % 100) - 1) / 3);
  }
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
 * 4. Resting sells for every holding not sold at the open: the stop (stopLossPct below the entry
 *    price) or the target (takeProfitPct above it). A KRX broker holds one sell order per share,
 *    so with both set the one nearer t's close is placed (the stop on a tie): the one the next
 *    day can reach first.
 * Ages are in trading days (data rows) from the buy fill. Deterministic: no clocks.
 */
export class StrategyDecider {
  readonly compiled: CompiledStrategy;
  private readonly S: number;

  /**
   * @param selectionDays ascending day indices that may select (all, when unknown)
   * @param conditionDays ascending day indices whose sell conditions may be evaluated
   */
  constructor(
    readonly def: StrategyDefinition,
    readonly data: MarketData,
    selectionDays: ArrayLike<number>,
    conditionDays: ArrayLike<number>,
  ) {
    this.compiled = new CompiledStrategy(def, data, selectionDays, conditionDays);
    this.S = data.codes.length;
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
    const { def, data } = this;
    const cs = this.compiled;
    const S = this.S;
    const sell = def.sell ?? {};
    const minHold = sell.minHoldingDays ?? 0;
    const maxHold = sell.maxHoldingDays ?? Infinity;
    const sells: PlannedOrder[] = [];
    const selling = new Set<number>();
    const sellAtOpen = (h: Holding, reason: OpenSellReason): void => {
      selling.add(h.stock);
      sells.push({ kind: 'market_sell', stock: h.stock, side: 'sell', quantity: h.quantity, level: NaN, reason });
    };

    for (const h of state.holdings) {
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
      return { signalDay: t, rebalanced: false, orders: sells, wanted: [] };
    }

    const held = new Set(state.holdings.map((h) => h.stock));
    let wanted = state.wanted.filter((w) => !held.has(w.stock));
    if (options.rebalance) {
      const n = cs.select(t);
      const picked = new Set<number>();
      for (let j = 0; j < n; j++) {
        picked.add(cs.pickIdx[j]);
      }
      for (const h of state.holdings) {
        if (!selling.has(h.stock) && !picked.has(h.stock) && t + 1 - h.entryDay >= minHold) {
          sellAtOpen(h, 'rebalance');
        }
      }
      const target = Math.min(this.equity(state, t) * cs.weight(n), def.weighting.maxValuePerStock ?? Infinity);
      wanted = [];
      for (let j = 0; j < n; j++) {
        const s = cs.pickIdx[j];
        if (!held.has(s)) {
          wanted.push({ stock: s, rank: j + 1, target });
        }
      }
    }

    const buys: PlannedOrder[] = [];
    let positions = state.holdings.length;
    let cashLeft = state.cash;
    for (const w of wanted) {
      if (positions >= def.maxPositions) {
        break;
      }
      const close = data.close[t * S + w.stock];
      if (!(close > 0)) {
        continue;
      }
      const limit = buyLimitPrice(close);
      const quantity = sharesWithin(Math.min(w.target, cashLeft), limit, def.costs);
      if (quantity <= 0) {
        continue;
      }
      cashLeft -= worstBuyCost(quantity, limit, def.costs);
      positions++;
      buys.push({ kind: 'limit_buy', stock: w.stock, side: 'buy', quantity, level: limit, reason: 'signal' });
    }

    const resting: PlannedOrder[] = [];
    const hasStop = sell.stopLossPct !== undefined;
    const hasTarget = sell.takeProfitPct !== undefined;
    if (hasStop || hasTarget) {
      for (const h of state.holdings) {
        if (selling.has(h.stock)) {
          continue;
        }
        const stop = hasStop ? h.entryPrice * (1 - (sell.stopLossPct as number) / 100) : NaN;
        const targetPrice = hasTarget ? h.entryPrice * (1 + (sell.takeProfitPct as number) / 100) : NaN;
        let useStop = hasStop;
        if (hasStop && hasTarget) {
          const close = this.lastPrice(h, t);
          useStop = close - stop <= targetPrice - close;
        }
        resting.push(
          useStop
            ? {
                kind: 'stop_sell',
                stock: h.stock,
                side: 'sell',
                quantity: h.quantity,
                level: stop,
                reason: 'stop_loss',
              }
            : {
                kind: 'target_sell',
                stock: h.stock,
                side: 'sell',
                quantity: h.quantity,
                level: targetPrice,
                reason: 'take_profit',
              },
        );
      }
    }
    return { signalDay: t, rebalanced: options.rebalance, orders: [...sells, ...buys, ...resting], wanted };
  }
}
