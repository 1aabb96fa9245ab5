import { lowerBoundDate, type MarketData } from '@stocklab/strategy-engine';
import type { CalendarService } from '../calendar/calendar.service.js';
import { isoOf, yyyymmdd } from '../market/market-data.service.js';

/**
 * The run cannot do its work yet because the market data it needs has not arrived: not a failure
 * of the run. It is recorded `waiting` and the catch-up sweep runs it again within its grace window.
 */
export class MarketDataNotReadyError extends Error {}

/** A run refused because yesterday's bars are not imported yet; its message says which day is missing. */
export class StaleMarketDataError extends MarketDataNotReadyError {
  constructor(
    readonly latest: string | null,
    readonly expected: string,
  ) {
    super(
      `STALE_MARKET_DATA: the market data ends on ${latest ?? 'no day'}, the signal day ${expected} (the previous KRX trading day) is not imported yet; re-run once it is`,
    );
  }
}

/**
 * The signal day's index for a run on `tradingDate`: the previous KRX trading day, which must be
 * in the data. Deciding on an older close would trade on stale prices (and silently skip a
 * rebalance that falls on the missing day), so the run is refused instead.
 */
export async function signalDayOf(data: MarketData, tradingDate: string, calendar: CalendarService): Promise<number> {
  const expected = await calendar.previousTradingDay(tradingDate);
  const t = lowerBoundDate(data.dates, yyyymmdd(tradingDate)) - 1;
  const latest = t >= 0 ? isoOf(data.dates[t]) : null;
  if (latest !== expected) {
    throw new StaleMarketDataError(latest, expected);
  }
  return t;
}
