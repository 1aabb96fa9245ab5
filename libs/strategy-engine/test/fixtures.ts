import {
  buildMarketData,
  type MarketData,
  type PriceRow,
  type StockInfo,
  type StrategyDefinition,
} from '../src/index.js';

/** A definition with no costs and no sell rules; tests override what they exercise. */
export function newDefinition(overrides: Partial<StrategyDefinition> = {}): StrategyDefinition {
  return {
    schemaVersion: 1,
    universe: { scope: 'all' },
    ranking: { factor: 'close', order: 'desc' },
    maxPositions: 1,
    weighting: { method: 'equal' },
    rebalance: 'monthly',
    costs: { commissionBps: 0, slippageBps: 0 },
    initialCapital: 1_000_000,
    ...overrides,
  };
}

export type Bar = [open: number, high: number, low: number, close: number] | null;

/**
 * Market data from per-code bar lists over consecutive weekdays from 2024-01-02 (null = no bar);
 * `stocks`: market, sector, delisting date and history per code (default KOSPI, no sector).
 */
export function newMarket(
  bars: Record<string, Bar[]>,
  dates?: number[],
  stocks?: Record<string, StockInfo>,
): MarketData {
  const allDates = dates ?? [
    20240102, 20240103, 20240104, 20240105, 20240108, 20240109, 20240110, 20240111, 20240112, 20240115, 20240116,
    20240117, 20240118, 20240119, 20240122,
  ];
  const rows: PriceRow[] = [];
  for (const [code, list] of Object.entries(bars)) {
    list.forEach((bar, i) => {
      if (bar) {
        const [open, high, low, close] = bar;
        rows.push({ date: allDates[i], code, open, high, low, close, volume: 1000, marketCap: close * 1e6 });
      }
    });
  }
  const longest = Math.max(...Object.values(bars).map((l) => l.length));
  return buildMarketData({ rows, dates: allDates.slice(0, longest), ...(stocks ? { stocks } : {}) });
}

/** A flat bar at price p. */
export const flat = (p: number): Bar => [p, p, p, p];
