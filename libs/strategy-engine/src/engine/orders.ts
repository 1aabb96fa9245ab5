import type { CostDefinition } from '../definition/strategy-definition.js';

/**
 * The orders a strategy places and how a day's bar fills them: one set of rules for the
 * backtest's simulated fills and for the paper broker that fills live orders, so the two cannot
 * drift apart. Every order is one a KRX broker accepts (Kiwoom's trde_tp in parentheses):
 * - market_sell (3 시장가): sent before 09:00, fills in the opening auction at the open;
 * - limit_buy (0 보통): a day limit order at the signal close + BUY_LIMIT_PCT, sent before 09:00:
 *   fills at the open when the open is at or below the limit, else at the limit if the day's low
 *   reaches it, else expires unfilled at the close;
 * - stop_sell (28 스톱지정가, its limit at the day's lower price band): triggers when the price
 *   reaches the stop, fills at the stop, or at the open when the day opens below it (a resting
 *   order: no slippage);
 * - target_sell (0 보통): a day limit sell at the target, fills at the target, or at the open when
 *   the day opens above it.
 */
export type OrderKind = 'market_sell' | 'limit_buy' | 'stop_sell' | 'target_sell';

/** The buy limit, percent above the signal day's close: a gap above it is not chased. */
export const BUY_LIMIT_PCT = 5;

export interface DayBar {
  open: number;
  high: number;
  low: number;
}

export interface RawFill {
  /** The market price of the fill, before the cost model's slippage. */
  price: number;
  /** 'open': filled in the opening auction; 'level': at the order's own price, during the day. */
  at: 'open' | 'level';
}

/**
 * The fill of an order on a day's bar, or null when it does not fill that day. `level` is the
 * limit (limit_buy), the stop, or the target. A day without a bar (suspended, not yet imported)
 * fills nothing.
 */
export function fillOnBar(kind: OrderKind, level: number, bar: DayBar): RawFill | null {
  return fillOnPrices(kind, level, bar.open, bar.high, bar.low);
}

/** fillOnBar on the bar's prices (the backtest's inner loop: no bar object per order and day). */
export function fillOnPrices(kind: OrderKind, level: number, open: number, high: number, low: number): RawFill | null {
  if (!(open > 0)) {
    return null;
  }
  switch (kind) {
    case 'market_sell':
      return { price: open, at: 'open' };
    case 'limit_buy':
      if (open <= level) {
        return { price: open, at: 'open' };
      }
      return low <= level ? { price: level, at: 'level' } : null;
    case 'stop_sell':
      if (open <= level) {
        return { price: open, at: 'open' };
      }
      return low <= level ? { price: level, at: 'level' } : null;
    case 'target_sell':
      if (open >= level) {
        return { price: open, at: 'open' };
      }
      return high >= level ? { price: level, at: 'level' } : null;
  }
}

/** Only the opening auction's market sells and limit buys pay slippage; a stop or a target fills at its price. */
function slips(kind: OrderKind, raw: RawFill): boolean {
  return raw.at === 'open' && (kind === 'market_sell' || kind === 'limit_buy');
}

export interface BookedFill {
  /** Price per share, slippage included. */
  price: number;
  /** Whole won: quantity x price, rounded. */
  amount: number;
  /** Whole won, truncated (brokers and the tax office drop fractions of a won). */
  commission: number;
  tax: number;
  /** What the fill adds to cash (negative for a buy). */
  cashDelta: number;
}

/**
 * Books a fill with the strategy's cost model: slippage against the trader on the opening
 * auction's market sells and limit buys (a stop or a target fills at its price, or at a gapped
 * open, as a resting order does); commission on both sides, tax on sells. Money is whole won, so
 * the backtest's cash and the trading service's bigint columns hold the same numbers.
 */
export function bookFill(kind: OrderKind, quantity: number, raw: RawFill, costs: CostDefinition): BookedFill {
  const side = kind === 'limit_buy' ? 'buy' : 'sell';
  const slip = slips(kind, raw) ? costs.slippageBps / 10_000 : 0;
  const price = side === 'buy' ? raw.price * (1 + slip) : raw.price * (1 - slip);
  const amount = Math.round(quantity * price);
  const commission = Math.floor((amount * costs.commissionBps) / 10_000);
  const tax = side === 'sell' ? Math.floor((amount * costs.sellTaxBps) / 10_000) : 0;
  const cashDelta = side === 'buy' ? -(amount + commission) : amount - commission - tax;
  return { price, amount, commission, tax, cashDelta };
}

/** The buy limit of a signal close. */
export function buyLimitPrice(signalClose: number): number {
  return signalClose * (1 + BUY_LIMIT_PCT / 100);
}

/**
 * The most a limit buy of `quantity` at `limit` can cost: the open at the limit plus slippage,
 * plus commission. Buys are sized with it, so no fill the order allows overdraws the cash.
 */
export function worstBuyCost(quantity: number, limit: number, costs: CostDefinition): number {
  return -bookFill('limit_buy', quantity, { price: limit, at: 'open' }, costs).cashDelta;
}

/** The largest whole number of shares whose worst cost fits the budget (0 if not even one). */
export function sharesWithin(budget: number, limit: number, costs: CostDefinition): number {
  if (!(budget > 0) || !(limit > 0)) {
    return 0;
  }
  const unit = limit * (1 + costs.slippageBps / 10_000) * (1 + costs.commissionBps / 10_000);
  let q = Math.floor(budget / unit);
  // rounding to whole won can add a fraction of a won: step down until the worst cost fits
  while (q > 0 && worstBuyCost(q, limit, costs) > budget) {
    q--;
  }
  return q;
}
