import type { StrategyDefinition } from '../definition/strategy-definition.js';
import { getFactorInfo, type FactorId } from '../factors/catalog.js';
import { selectionFactorsOf, sellFactorsOf } from './selection.js';

/** Days of margin over the longest lookback (the rebalance check reads the day before, etc.). */
export const HISTORY_MARGIN_DAYS = 20;

/** The factors a strategy evaluates: the same sets its compiled form computes. */
export function factorsOf(def: StrategyDefinition): Set<FactorId> {
  return new Set<FactorId>([...selectionFactorsOf(def), ...sellFactorsOf(def)]);
}

/**
 * Trading days of history, up to and including the signal day, that give a strategy's live
 * decision exactly the factor values a backtest over the whole history gives it: its longest
 * lookback plus a margin. Recursive indicators (RSI) need the state of the days before the
 * window as well (MarketData.seeds); positions bought before the window keep their exact
 * holding age (the caller counts it on the calendar, with negative day indices).
 */
export function historyDaysOf(def: StrategyDefinition): number {
  let longest = 0;
  for (const id of factorsOf(def)) {
    longest = Math.max(longest, getFactorInfo(id).lookbackDays);
  }
  return longest + 1 + HISTORY_MARGIN_DAYS;
}
