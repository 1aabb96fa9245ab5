import { MARKETS, type Market } from '../data/market-data.js';

/** 0, 1, 2 for KOSPI, KOSDAQ, KONEX (interned strings: pointer comparisons). */
function marketIndex(market: Market): number {
  return market === 'KOSPI' ? 0 : market === 'KOSDAQ' ? 1 : 2;
}

/**
 * A table of periods by market, indexed for lookups by date: per market, the `from` dates
 * ascending and the value of each period, and the period of the last lookup (a backtest asks
 * several times per simulated day, mostly within the same period).
 */
export class PeriodIndex<T> {
  private readonly froms: number[][] = [];
  private readonly values: T[][] = [];
  /** Per market: the last period found, valid for dates in [lo, hi). */
  private readonly lo = [Infinity, Infinity, Infinity];
  private readonly hi = [-Infinity, -Infinity, -Infinity];
  private readonly last: T[] = [];

  constructor(rows: ReadonlyArray<{ from: number; markets: readonly Market[]; value: T }>) {
    for (const market of MARKETS) {
      const mine = rows.filter((r) => r.markets.includes(market)).sort((a, b) => a.from - b.from);
      if (mine.length === 0) {
        throw new RangeError(`no period for ${market}`);
      }
      const m = marketIndex(market);
      this.froms[m] = mine.map((r) => r.from);
      this.values[m] = mine.map((r) => r.value);
      this.last[m] = mine[0].value;
    }
  }

  /** The value of the latest period whose `from` <= date; the first period's for earlier dates. */
  at(date: number, market: Market): T {
    const m = marketIndex(market);
    if (date >= this.lo[m] && date < this.hi[m]) {
      return this.last[m];
    }
    const froms = this.froms[m];
    let i = froms.length - 1;
    while (i > 0 && date < froms[i]) {
      i--;
    }
    this.lo[m] = i === 0 ? -Infinity : froms[i];
    this.hi[m] = i === froms.length - 1 ? Infinity : froms[i + 1];
    this.last[m] = this.values[m][i];
    return this.last[m];
  }
}
