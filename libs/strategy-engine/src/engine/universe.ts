import { classificationOn, lowerBoundDate, type MarketData } from '../data/market-data.js';
import type { UniverseDefinition } from '../definition/strategy-definition.js';

/**
 * A universe's scope (markets, sectors or codes) as of each day: a stock is in it on day d when
 * its market / sector on d's date (StockInfo.history, point in time) is one the universe names
 * (its code, for 'codes'; every stock for 'all'), and it is not delisted on d (date >=
 * StockInfo.delistedOn). Most stocks never change: their membership is fixed once, and `on(d)`
 * only rewrites the entries of the few that have a history or a delisting date, so a day's mask
 * costs nothing when the data has neither.
 *
 * The mask `on(d)` returns is valid until the next call with another day (one shared buffer,
 * like MomentumRows' row): callers read it right away. Sharing one UniverseMask between
 * strategies (FactorCache) therefore changes no value read.
 */
export class UniverseMask {
  private readonly mask: Uint8Array;
  /** Stocks whose membership depends on the day, with the day index of their delisting (D if none). */
  private readonly changing: Int32Array;
  private readonly delistDay: Int32Array;
  private readonly member: (info: { market: string; sector: string }, s: number) => boolean;
  private day = -1;
  /** True when every stock is in the universe on every day (no mask needed). */
  readonly all: boolean;

  constructor(
    universe: UniverseDefinition,
    private readonly data: MarketData,
  ) {
    const S = data.codes.length;
    const D = data.dates.length;
    const markets = new Set<string>(universe.markets ?? []);
    const sectors = new Set(universe.sectors ?? []);
    const codes = new Set(universe.codes ?? []);
    switch (universe.scope) {
      case 'all':
        this.member = () => true;
        break;
      case 'markets':
        this.member = (info) => markets.has(info.market);
        break;
      case 'sectors':
        this.member = (info) => sectors.has(info.sector);
        break;
      case 'codes':
        this.member = (_info, s) => codes.has(data.codes[s]);
        break;
    }
    this.mask = new Uint8Array(S);
    const changing: number[] = [];
    const delistDay: number[] = [];
    const byClass = universe.scope === 'markets' || universe.scope === 'sectors';
    for (let s = 0; s < S; s++) {
      const info = data.stocks[s];
      const moves = byClass && info.history !== undefined && info.history.length > 0;
      const delisted = info.delistedOn !== undefined ? lowerBoundDate(data.dates, info.delistedOn) : D;
      if (moves || delisted < D) {
        changing.push(s);
        delistDay.push(delisted);
      } else {
        this.mask[s] = this.member(info, s) ? 1 : 0;
      }
    }
    this.changing = Int32Array.from(changing);
    this.delistDay = Int32Array.from(delistDay);
    this.all = changing.length === 0 && this.mask.every((x) => x === 1);
  }

  /** 1 for the stocks in the universe on day d (see the class). */
  on(d: number): Uint8Array {
    if (d !== this.day && this.changing.length > 0) {
      const date = this.data.dates[d];
      for (let i = 0; i < this.changing.length; i++) {
        const s = this.changing[i];
        const info = this.data.stocks[s];
        this.mask[s] = d < this.delistDay[i] && this.member(classificationOn(info, date), s) ? 1 : 0;
      }
      this.day = d;
    }
    return this.mask;
  }
}
