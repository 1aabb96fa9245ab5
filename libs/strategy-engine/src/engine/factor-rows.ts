import type { MarketData, PriceColumn } from '../data/market-data.js';
import { adjustedForFactors } from '../data/corporate-actions.js';
import type { FactorId } from '../factors/catalog.js';
import type { FactorMatrix } from '../factors/compute.js';

/**
 * Access to one factor's cross-section on a day, for the selection hot path. `row(d)` makes day
 * d available and returns the offset of its first stock in `values`. Factors that are a cheap
 * function of one or two price rows (close, market cap, momentum) are computed on demand into a
 * small per-day buffer instead of a days x stocks matrix: a daily re-rank then streams the price
 * rows once instead of writing and re-reading a 50 MB matrix per factor.
 */
export interface FactorRows {
  /** The factor, or 'score' for a composite score (CompositeRows). */
  readonly id: FactorId | 'score';
  /** A price column itself (FieldRows) or a buffer of computed values. */
  readonly values: PriceColumn;
  row(d: number): number;
  /** One stock's value on day d (same arithmetic as row()). */
  at(d: number, s: number): number;
}

export class MatrixRows implements FactorRows {
  readonly id: FactorId;
  readonly values: PriceColumn;
  constructor(private readonly m: FactorMatrix) {
    this.id = m.id;
    this.values = m.values;
  }
  row(d: number): number {
    const k = this.m.rowOf[d];
    if (k === undefined || k < 0) {
      throw new Error(`factor ${this.id} was not computed for day index ${d}`);
    }
    return k * this.m.stocks;
  }
  at(d: number, s: number): number {
    return this.values[this.row(d) + s];
  }
}

/** A raw time-major field (close, marketCap): the row is already there. */
export class FieldRows implements FactorRows {
  constructor(
    readonly id: FactorId,
    readonly values: PriceColumn,
    private readonly S: number,
  ) {}
  row(d: number): number {
    return d * this.S;
  }
  at(d: number, s: number): number {
    return this.values[d * this.S + s];
  }
}

/**
 * close(d) / close(d - lag) x 100 - 100, as computeFactor's momentum. The selection hot path
 * computes this expression inline from `close` and `lag` (see CompiledStrategy.select); row()
 * serves the generic condition evaluation.
 */
export class MomentumRows implements FactorRows {
  readonly values: Float64Array;
  private day = -1;
  constructor(
    readonly id: FactorId,
    readonly close: PriceColumn,
    private readonly S: number,
    readonly lag: number,
  ) {
    this.values = new Float64Array(S);
  }
  row(d: number): number {
    if (d !== this.day) {
      const S = this.S;
      const v = this.values;
      const c = this.close;
      if (d < this.lag) {
        v.fill(NaN);
      } else {
        const b = d * S;
        const a = (d - this.lag) * S;
        for (let s = 0; s < S; s++) {
          v[s] = (c[b + s] / c[a + s]) * 100 - 100;
        }
      }
      this.day = d;
    }
    return 0;
  }
  at(d: number, s: number): number {
    return d < this.lag ? NaN : (this.close[d * this.S + s] / this.close[(d - this.lag) * this.S + s]) * 100 - 100;
  }
}

const MOMENTUM_LAGS: Partial<Record<FactorId, number>> = {
  mom_1w: 5,
  mom_1m: 21,
  mom_3m: 63,
  mom_6m: 126,
  mom_12m: 252,
};

/** An on-demand source for the factors that need no history state, or null. */
export function onDemandRows(raw: MarketData, id: FactorId): FactorRows | null {
  const data = adjustedForFactors(raw); // back-adjusted close (the data itself without events)
  const S = data.codes.length;
  if (id === 'close') {
    return new FieldRows(id, data.close, S);
  }
  if (id === 'market_cap') {
    return new FieldRows(id, data.marketCap, S);
  }
  if (id === 'trading_value') {
    return new FieldRows(id, data.tradingValue, S);
  }
  const lag = MOMENTUM_LAGS[id];
  return lag === undefined ? null : new MomentumRows(id, data.close, S, lag);
}
