import { isOnTick as onEngineGrid } from '@stocklab/strategy-engine';

/**
 * Whether the exchange accepts `price` in an order placed on `yyyymmdd`: the KRX tick grid of the
 * engine's market rules (`@stocklab/strategy-engine`, src/market-rules), the one place the tick
 * tables live. Since 2023-01-25 one table serves KOSPI, KOSDAQ and KONEX, so the market does not
 * matter for orders placed today (the double, which knows no markets, checks with it).
 */
export function isOnTick(price: number, yyyymmdd: string): boolean {
  return onEngineGrid(price, Number(yyyymmdd), 'KOSPI');
}
