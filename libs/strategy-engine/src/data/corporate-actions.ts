import type { MarketData, PriceColumn } from './market-data.js';

/**
 * Corporate actions that change the number of shares: KRX prices are not adjusted, so on the
 * ex-date (권리락 / 분할 재상장 day) the price jumps by the event's factor while nothing was lost.
 *
 * - split (액면분할) and reverse split (액면병합): shareRatio = priceFactor = new shares per old
 *   share (50 for Samsung Electronics' 50:1 split of 2018-05-04, 0.1 for a 1:10 reverse split);
 * - bonus issue (무상증자): shareRatio = priceFactor = 1 + new shares per old share;
 * - rights issue (유상증자, shareholder allotment): priceFactor = previous close / base price
 *   (> 1, the dilution); shareRatio = 1 (the engine does not subscribe, see applyCorporateAction).
 */
export type CorporateActionKind = 'split' | 'reverse_split' | 'bonus_issue' | 'rights_issue';
export const CORPORATE_ACTION_KINDS: readonly CorporateActionKind[] = [
  'split',
  'reverse_split',
  'bonus_issue',
  'rights_issue',
];

export interface CorporateAction {
  /** Stock index into MarketData.codes. */
  stock: number;
  /** yyyymmdd of the ex-date: the first trading day at the new price basis. */
  exDate: number;
  kind: CorporateActionKind;
  /** The previous close divided by the ex-date's base price (> 0). */
  priceFactor: number;
  /** New shares a holder has per old share after the event (> 0). */
  shareRatio: number;
}

/**
 * Throws when an event is malformed: unknown stock, factors not > 0 and finite, two events of
 * one stock on one ex-date, or events not sorted by (exDate, stock).
 */
export function validateCorporateActions(data: MarketData): void {
  const list = data.corporateActions ?? [];
  const S = data.codes.length;
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if (!(Number.isInteger(a.stock) && a.stock >= 0 && a.stock < S)) {
      throw new RangeError(`MarketData.corporateActions[${i}].stock is not a stock index`);
    }
    if (!(a.priceFactor > 0 && Number.isFinite(a.priceFactor) && a.shareRatio > 0 && Number.isFinite(a.shareRatio))) {
      throw new RangeError(`MarketData.corporateActions[${i}] needs a priceFactor and a shareRatio > 0`);
    }
    const prev = list[i - 1];
    if (prev && (prev.exDate > a.exDate || (prev.exDate === a.exDate && prev.stock >= a.stock))) {
      throw new RangeError(
        `MarketData.corporateActions must be sorted by (exDate, stock), one per stock and date (index ${i})`,
      );
    }
  }
}

/**
 * The day index each event takes effect on: the first date in the data on or after its ex-date
 * (D when the data ends before it), in the events' order.
 */
export function corporateActionDays(data: MarketData): Int32Array {
  const list = data.corporateActions ?? [];
  const out = new Int32Array(list.length);
  let d = 0;
  for (let i = 0; i < list.length; i++) {
    while (d < data.dates.length && data.dates[d] < list[i].exDate) {
      d++;
    }
    out[i] = d;
  }
  return out;
}

const adjustedCache = new WeakMap<MarketData, MarketData>();

/**
 * The data factors and signals read: back-adjusted. Every open, high, low and close of a day
 * before an event's ex-date is divided by the product of the priceFactors of the stock's events
 * taking effect after that day, and its volume multiplied by it; trading value and market cap
 * are amounts and stay as they are. A window's RSI seeds (MarketData.seeds, the state of the days
 * before it) are divided by every event of the window the same way (equal to the whole history's
 * state up to floating-point rounding, not bit for bit). Days on or after the last event keep their raw values, so the
 * latest day (the one live trading decides on) is in real prices. Data without events is
 * returned as is; each adjusted column is made once per MarketData object, when first read (a
 * cache keyed by the object): an adjusted column is a copy of D x S doubles.
 */
export function adjustedForFactors(data: MarketData): MarketData {
  const list = data.corporateActions;
  if (!list || list.length === 0) {
    return data;
  }
  const cached = adjustedCache.get(data);
  if (cached) {
    return cached;
  }
  const S = data.codes.length;
  const days = corporateActionDays(data);
  /**
   * One adjusted column, made when a factor first reads it (a momentum strategy never pays for
   * open, high, low and volume): per event from the latest back, the days before it divided (prices)
   * or multiplied (volume) by its factor, on top of the later events' (the factor of day x is the
   * product over the events after x, applied one at a time).
   */
  const column = (field: 'open' | 'high' | 'low' | 'close' | 'volume'): Float64Array => {
    // float64 whatever the column held: an adjusted price is no longer exactly a float32
    const out = Float64Array.from(data[field]);
    const multiply = field === 'volume';
    for (let i = list.length - 1; i >= 0; i--) {
      const a = list[i];
      const f = a.priceFactor;
      for (let d = Math.min(days[i], data.dates.length) - 1; d >= 0; d--) {
        const k = d * S + a.stock;
        out[k] = multiply ? out[k] * f : out[k] / f;
      }
    }
    return out;
  };
  const adjusted: MarketData = { ...data };
  for (const field of ['open', 'high', 'low', 'close', 'volume'] as const) {
    let made: PriceColumn | undefined;
    Object.defineProperty(adjusted, field, {
      enumerable: true,
      get: () => (made ??= column(field)),
    });
  }

  const seed = data.seeds?.rsi_14;
  if (seed) {
    // a window's RSI state is of the days before it, all before every event the window holds: in
    // price units (the previous close, Wilder's averages), divided like those days' closes
    const prev = seed.prev.slice();
    const up = seed.up.slice();
    const down = seed.down.slice();
    for (let i = list.length - 1; i >= 0; i--) {
      const a = list[i];
      prev[a.stock] /= a.priceFactor;
      up[a.stock] /= a.priceFactor;
      down[a.stock] /= a.priceFactor;
    }
    adjusted.seeds = { ...data.seeds, rsi_14: { ...seed, prev, up, down } };
  }
  adjustedCache.set(data, adjusted);
  adjustedCache.set(adjusted, adjusted);
  return adjusted;
}

export interface HeldShares {
  quantity: number;
  entryPrice: number;
}

export interface AdjustedShares {
  /** Whole shares after the event: floor(quantity x shareRatio). */
  quantity: number;
  /** entryPrice / priceFactor (stops and targets move with it). */
  entryPrice: number;
  /** The ex-date's base price: previous close / priceFactor. */
  basePrice: number;
  /**
   * Whole won paid to the holder, truncated: the fractional share at the base price, plus for a
   * rights issue the rights' value (previous close - base price per old share; the engine does
   * not subscribe and is paid as if it sold its rights at that theoretical value). In general
   * quantity x previous close - new quantity x base price, so the holding keeps its value.
   */
  cash: number;
}

/**
 * What a holding becomes on an event's ex-date, for a backtest and for live trading alike:
 * quantity x shareRatio (whole shares), entry price / priceFactor, and the rest of the value
 * (fractional shares, rights) in cash at the base price. `previousClose` is the stock's latest
 * close before the ex-date.
 */
export function applyCorporateAction(
  held: HeldShares,
  action: Pick<CorporateAction, 'priceFactor' | 'shareRatio'>,
  previousClose: number,
): AdjustedShares {
  const basePrice = previousClose / action.priceFactor;
  // a product within 1e-9 of a whole number counts as that number (floating-point noise)
  const quantity = Math.floor(held.quantity * action.shareRatio + 1e-9);
  const rest = held.quantity * previousClose - quantity * basePrice;
  return {
    quantity,
    entryPrice: held.entryPrice / action.priceFactor,
    basePrice,
    cash: rest > 0 ? Math.floor(rest + 1e-6) : 0,
  };
}
