import type { MarketData } from '../data/market-data.js';
import type { ScoreTerm } from '../definition/strategy-definition.js';
import type { FactorRows } from './factor-rows.js';
import type { UniverseMask } from './universe.js';

/**
 * Who a composite score ranks on a day: the stocks of a strategy's universe that day. `universe`
 * (its scope as of the day: point-in-time market and sector, delistings), a bar that day (close > 0), market cap >= minMarketCap (when
 * > 0), 20-day average trading value >= minAtv (when `atv` is given): the same tests as
 * CompiledStrategy's filter before the buy conditions.
 */
export interface ScorePopulation {
  universe: UniverseMask;
  minMarketCap: number;
  atv: FactorRows | null;
  minAtv: number;
}

/**
 * A composite score as a factor row (see ScoreRanking): row(d) computes day d's scores into a
 * one-day buffer (refilled whenever another day is asked for, like MomentumRows), NaN for the
 * stocks outside the day's universe and for those without a value for any term. Per term, the
 * universe's present values are sorted once, and each stock's percentile is
 * ((below + 1 + atOrBelow) / 2) / present, with `below` / `atOrBelow` the numbers of values that
 * score worse / not better (binary searches): the average 1-based rank, ties sharing theirs.
 * Score = sum over terms in order of (weight x percentile), / sum of weights, x 100.
 */
export class CompositeRows implements FactorRows {
  readonly id = 'score' as const;
  readonly values: Float64Array;
  private day = -1;
  private readonly members: Int32Array;
  private readonly sorted: Float64Array;
  private readonly acc: Float64Array;
  private readonly any: Uint8Array;
  private readonly totalWeight: number;

  constructor(
    private readonly data: MarketData,
    private readonly terms: readonly ScoreTerm[],
    private readonly rows: readonly FactorRows[],
    private readonly population: ScorePopulation,
  ) {
    const S = data.codes.length;
    this.values = new Float64Array(S);
    this.members = new Int32Array(S);
    this.sorted = new Float64Array(S);
    this.acc = new Float64Array(S);
    this.any = new Uint8Array(S);
    let w = 0;
    for (const t of terms) {
      w += t.weight;
    }
    this.totalWeight = w;
  }

  row(d: number): number {
    if (d !== this.day) {
      this.compute(d);
      this.day = d;
    }
    return 0;
  }

  at(d: number, s: number): number {
    return this.values[this.row(d) + s];
  }

  private compute(d: number): void {
    const S = this.data.codes.length;
    const b = d * S;
    const { universe, minMarketCap, atv, minAtv } = this.population;
    const mask = universe.on(d);
    const close = this.data.close;
    const mc = this.data.marketCap;
    const av = atv ? atv.values : null;
    const ab = atv ? atv.row(d) : 0;
    const members = this.members;
    let n = 0;
    for (let s = 0; s < S; s++) {
      if (
        mask[s] === 1 &&
        close[b + s] > 0 &&
        (minMarketCap <= 0 || mc[b + s] >= minMarketCap) &&
        (av === null || av[ab + s] >= minAtv)
      ) {
        members[n++] = s;
      }
    }
    const acc = this.acc;
    const any = this.any;
    acc.fill(0);
    any.fill(0);
    for (let t = 0; t < this.terms.length; t++) {
      const term = this.terms[t];
      const sign = term.order === 'desc' ? 1 : -1;
      const r = this.rows[t];
      const rv = r.values;
      const rb = r.row(d);
      const sorted = this.sorted;
      let m = 0;
      for (let i = 0; i < n; i++) {
        const x = rv[rb + members[i]];
        if (x === x) {
          sorted[m++] = x * sign + 0;
        }
      }
      if (m === 0) {
        continue;
      }
      const keys = sorted.subarray(0, m);
      keys.sort();
      const w = term.weight;
      for (let i = 0; i < n; i++) {
        const s = members[i];
        const x = rv[rb + s];
        if (x === x) {
          const key = x * sign + 0;
          const below = lowerBound(keys, m, key);
          const atOrBelow = upperBound(keys, m, key, below);
          acc[s] = acc[s] + w * ((below + 1 + atOrBelow) / 2 / m);
          any[s] = 1;
        }
      }
    }
    const v = this.values;
    v.fill(NaN);
    const W = this.totalWeight;
    for (let i = 0; i < n; i++) {
      const s = members[i];
      if (any[s] === 1) {
        v[s] = (acc[s] / W) * 100;
      }
    }
  }
}

/**
 * The number of keys[0..m) < x (keys ascending, m >= 1, x among them): a branch-free binary
 * search (the comparison selects the next base instead of a branch, which would mispredict
 * about every other step on these random probes).
 */
function lowerBound(keys: Float64Array, m: number, x: number): number {
  let base = 0;
  let n = m;
  while (n > 1) {
    const half = n >>> 1;
    base = keys[base + half] < x ? base + half : base;
    n -= half;
  }
  return base + (keys[base] < x ? 1 : 0);
}

/** The number of keys[0..m) <= x, from `below` = the number < x: a few steps, else a search. */
function upperBound(keys: Float64Array, m: number, x: number, below: number): number {
  let i = below;
  const stop = Math.min(m, below + 8);
  while (i < stop && keys[i] <= x) {
    i++;
  }
  if (i < stop || i === m) {
    return i;
  }
  let lo = i;
  let hi = m;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] <= x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}
