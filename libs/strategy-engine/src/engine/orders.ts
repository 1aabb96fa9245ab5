import type { Market } from '../data/market-data.js';
import type { CostDefinition } from '../definition/strategy-definition.js';
import { priceLimitPct, priceLimits } from '../market-rules/limits.js';
import { sellTax } from '../market-rules/tax.js';
import { roundToTick, tickBands } from '../market-rules/ticks.js';

/**
 * The orders a strategy places and how a day's bar fills them: one set of rules for the
 * backtest's simulated fills and for the paper broker that fills live orders, so the two cannot
 * drift apart; the Kiwoom order mapping takes its prices from `orderPrice` here too. Every order
 * is one a KRX broker accepts (Kiwoom's trde_tp in parentheses):
 * - market_sell (3 시장가): sent before 09:00, fills in the opening auction at the open;
 * - limit_buy (0 보통): a day limit order at the signal close + BUY_LIMIT_PCT, on the tick grid
 *   (rounded down), sent before 09:00: fills at the open when the open is at or below the limit,
 *   else at the limit if the day's low reaches it, else expires unfilled at the close;
 * - stop_sell (28 스톱지정가, its limit at the day's lower price limit): triggers when the price
 *   reaches the stop, fills at the stop, or at the open when the day opens below it;
 * - target_sell (0 보통): a day limit sell at the target, fills at the target, or at the open when
 *   the day opens above it.
 * KRX market rules (src/market-rules, README "KRX market rules"): no order fills on a bar without
 * trading (volume not > 0); no sell fills on a bar locked at the lower price limit (high <=
 * 하한가), no buy on one locked at the upper limit (low >= 상한가); fill prices after slippage,
 * limits, stops and targets are on the tick grid of the day and market; sells pay the sell tax of
 * the sell date and market.
 */
export type OrderKind = 'market_sell' | 'limit_buy' | 'stop_sell' | 'target_sell';

/** The buy limit, percent above the signal day's close: a gap above it is not chased. */
export const BUY_LIMIT_PCT = 5;

export interface DayBar {
  open: number;
  high: number;
  low: number;
  /** Shares traded; a bar whose volume is not > 0 (a carried-forward vendor bar) fills nothing. */
  volume: number;
}

/** Where and when an order trades: the day's tick table, price limits and sell tax depend on it. */
export interface MarketSession {
  /** yyyymmdd of the trading day. */
  date: number;
  market: Market;
}

/** A session with the base price of the day's price limits. */
export interface FillSession extends MarketSession {
  /** The previous close (the base of the day's ±limits); NaN when unknown (no limits applied). */
  base: number;
  /**
   * On the stock's corporate-action ex-date: the event's priceFactor. The day's base is then
   * base / exFactor, and an order priced outside that day's limits is refused (refusedOnExDate).
   */
  exFactor?: number;
}

export interface RawFill {
  /** The market price of the fill, before the cost model's slippage. */
  price: number;
  /** 'open': filled in the opening auction; 'level': at the order's own price, during the day. */
  at: 'open' | 'level';
}

/**
 * The fill of an order on a day's bar, or null when it does not fill that day. `level` is the
 * limit (limit_buy), the stop, or the target, as the decider set it (on the tick grid). A day
 * without a bar (suspended, not yet imported) or without trading (volume 0) fills nothing; a day
 * locked at the lower limit fills no sell, one locked at the upper limit no buy.
 */
export function fillOnBar(kind: OrderKind, level: number, bar: DayBar, session: FillSession): RawFill | null {
  let base = session.base;
  if (session.exFactor !== undefined) {
    base /= session.exFactor;
    if (refusedOnExDate(kind, level, base, session.date, session.market)) {
      return null;
    }
  }
  return fillOnPrices(kind, level, bar.open, bar.high, bar.low, bar.volume, base, session.date, session.market);
}

/**
 * On a corporate action's ex-date, with `base` the day's base price (the previous close / the
 * event's priceFactor): whether the exchange refuses the order because its price lies outside the
 * day's limits (a limit buy, stop or target priced on the old basis before the event). A market
 * sell has no price and is never refused.
 */
export function refusedOnExDate(kind: OrderKind, level: number, base: number, date: number, market: Market): boolean {
  if (kind === 'market_sell') {
    return false;
  }
  const limits = priceLimits(base, date, market);
  return !(level >= limits.lower && level <= limits.upper);
}

/**
 * fillOnBar on the bar's prices (no objects per order and day): touchFill, then lockedAtLimit
 * for an order that would fill.
 */
export function fillOnPrices(
  kind: OrderKind,
  level: number,
  open: number,
  high: number,
  low: number,
  volume: number,
  base: number,
  date: number,
  market: Market,
): RawFill | null {
  const fill = touchFill(kind, level, open, high, low, volume);
  return fill !== null && lockedAtLimit(kind, high, low, base, date, market) ? null : fill;
}

/**
 * Whether the bar reaches the order, before the price limits: nothing without a bar or without
 * trading (volume not > 0); a market sell at the open; a limit buy or a stop at an open at or
 * below its level, else at the level when the low reaches it; a target at an open at or above
 * it, else at the level when the high reaches it. The backtest's inner loop calls it and then
 * lockedAtLimit only for an order that would fill (fillOnPrices is the two together).
 */
export function touchFill(
  kind: OrderKind,
  level: number,
  open: number,
  high: number,
  low: number,
  volume: number,
): RawFill | null {
  if (!(open > 0) || !(volume > 0)) {
    return null;
  }
  switch (kind) {
    case 'market_sell':
      return { price: open, at: 'open' };
    case 'limit_buy':
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

/**
 * Whether the day is locked at a price limit against the order: a buy when the whole day traded
 * at or above the upper limit (low >= 상한가: the buy queue does not fill), a sell (stops and
 * targets included) when it traded at or below the lower limit (high <= 하한가). The limits are
 * those of `base`, the previous close; none when it is unknown (not > 0).
 */
export function lockedAtLimit(
  kind: OrderKind,
  high: number,
  low: number,
  base: number,
  date: number,
  market: Market,
): boolean {
  if (!(base > 0)) {
    return false;
  }
  const limits = priceLimits(base, date, market);
  return kind === 'limit_buy' ? low >= limits.upper : high <= limits.lower;
}

export interface BookedFill {
  /** Price per share, slippage included, on the tick grid. */
  price: number;
  /** Whole won: quantity x price, rounded. */
  amount: number;
  /** Whole won, truncated (brokers and the tax office drop fractions of a won). */
  commission: number;
  tax: number;
  /** What the fill adds to cash (negative for a buy). */
  cashDelta: number;
}

export interface BookOptions {
  /**
   * The price is the market's own (a real broker's fill, a delisting at the last close): no
   * slippage and no rounding; commission and the sell tax as always.
   */
  marketPrice?: boolean;
}

/**
 * Books a fill with the strategy's cost model: slippage against the trader on every fill (buys at
 * price x (1 + s) rounded UP to the day's tick grid, sells at price x (1 - s) rounded DOWN);
 * commission on both sides (truncated to the won); on sells the securities transaction tax and
 * the rural special tax of the session's date and market (market-rules/tax.ts, each truncated to
 * the won). Money is whole won, so the backtest's cash and the trading service's bigint columns
 * hold the same numbers. `costs.sellTaxBps` is not used (see CostDefinition).
 */
export function bookFill(
  kind: OrderKind,
  quantity: number,
  raw: RawFill,
  costs: CostDefinition,
  session: MarketSession,
  options: BookOptions = {},
): BookedFill {
  const buy = kind === 'limit_buy';
  let price = raw.price;
  if (!options.marketPrice) {
    const slip = costs.slippageBps / 10_000;
    const bands = tickBands(session.date, session.market);
    price = buy ? roundToTick(price * (1 + slip), 'up', bands) : roundToTick(price * (1 - slip), 'down', bands);
  }
  const amount = Math.round(quantity * price);
  const commission = Math.floor((amount * costs.commissionBps) / 10_000);
  const tax = buy ? 0 : sellTax(amount, session.date, session.market);
  const cashDelta = buy ? -(amount + commission) : amount - commission - tax;
  return { price, amount, commission, tax, cashDelta };
}

/**
 * The exchange price of a priced order whose strategy level is `level`: on the tick grid of the
 * session (a buy limit rounded DOWN: it never pays more than decided; a stop or a target rounded
 * UP: the stop triggers no later than the exact level would, the target never sells below it),
 * then inside the day's price limits of `base` (the signal close), which the exchange refuses to
 * exceed. The decider sets every level with it; the Kiwoom order mapping sends exactly it.
 */
export function orderPrice(
  kind: Exclude<OrderKind, 'market_sell'>,
  level: number,
  base: number,
  session: MarketSession,
): number {
  return orderPriceOn(kind, level, base, session.date, session.market);
}

/** orderPrice with the session as plain values. */
export function orderPriceOn(
  kind: Exclude<OrderKind, 'market_sell'>,
  level: number,
  base: number,
  date: number,
  market: Market,
): number {
  return withinLimits(
    roundToTick(level, kind === 'limit_buy' ? 'down' : 'up', tickBands(date, market)),
    base,
    date,
    market,
  );
}

/** A grid price moved inside the day's price limits of `base` (unchanged when already inside). */
export function withinLimits(price: number, base: number, date: number, market: Market): number {
  return withinLimitsOf(price, base, priceLimitPct(date, market), date, market);
}

/** withinLimits with the day's limit percent looked up by the caller (`pct`: priceLimitPct). */
export function withinLimitsOf(price: number, base: number, pct: number, date: number, market: Market): number {
  // a grid price within base x (1 +- pct) lies within the limits (the nearest grid prices inside)
  if (price >= base * (1 - pct / 100) && price <= base * (1 + pct / 100)) {
    return price;
  }
  const limits = priceLimits(base, date, market);
  return Math.min(limits.upper, Math.max(limits.lower, price));
}

/** The buy limit of a signal close for the session the order is sent to (orderPrice of close + 5 %). */
export function buyLimitPrice(signalClose: number, session: MarketSession): number {
  return orderPrice('limit_buy', signalClose * (1 + BUY_LIMIT_PCT / 100), signalClose, session);
}

/**
 * The most a limit buy of `quantity` at `limit` can cost: the limit plus slippage, rounded up to
 * the tick grid, plus commission. Buys are sized with it, so no fill the order allows overdraws
 * the cash.
 */
export function worstBuyCost(quantity: number, limit: number, costs: CostDefinition, session: MarketSession): number {
  return -bookFill('limit_buy', quantity, { price: limit, at: 'open' }, costs, session).cashDelta;
}

/** The largest whole number of shares whose worst cost fits the budget (0 if not even one). */
export function sharesWithin(budget: number, limit: number, costs: CostDefinition, session: MarketSession): number {
  if (!(budget > 0) || !(limit > 0)) {
    return 0;
  }
  const worstPrice = roundToTick(
    limit * (1 + costs.slippageBps / 10_000),
    'up',
    tickBands(session.date, session.market),
  );
  const unit = worstPrice * (1 + costs.commissionBps / 10_000);
  let q = Math.floor(budget / unit);
  // rounding to whole won can add a fraction of a won: step down until the worst cost fits
  while (q > 0 && worstBuyCost(q, limit, costs, session) > budget) {
    q--;
  }
  return q;
}
