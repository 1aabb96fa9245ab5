import type { MarketData } from '../data/market-data.js';
import type { ScoreRanking, UniverseDefinition } from '../definition/strategy-definition.js';
import type { FactorId } from '../factors/catalog.js';
import { computeFactor } from '../factors/compute.js';
import { MatrixRows, onDemandRows, type FactorRows } from './factor-rows.js';
import type { UniverseMask } from './universe.js';

/**
 * The factor rows and universe masks of one MarketData, shared by every strategy compiled with
 * this cache. A live run decides thousands of strategies on the same signal day: without it each
 * one recomputes the same PER (a walk over every statement), RSI (a pass over the whole window)
 * and so on. A factor is keyed by its definition, which is its id (factors take no parameters),
 * and by the days it is computed for; the values are those computeFactor gives, so a strategy
 * decides exactly as it would with its own copy (the backtest compiles without a cache).
 *
 * Everything handed out is read-only to its users, except MomentumRows' one-day buffer, which
 * row(d) refills whenever another day is asked for: sharing it changes no value read.
 */
export class FactorCache {
  private readonly rows = new Map<string, FactorRows>();
  private readonly universes = new Map<string, UniverseMask>();
  private readonly scores = new Map<string, FactorRows>();

  constructor(readonly data: MarketData) {}

  /** The rows of factor `id` for `days` (ascending day indices; undefined = every day). */
  factor(id: FactorId, days: ArrayLike<number> | undefined): FactorRows {
    // an on-demand source reads the market's own arrays on any day: kept under the id alone
    const anyDay = this.rows.get(id);
    if (anyDay) {
      return anyDay;
    }
    const key = `${id}@${days === undefined ? 'all' : Array.from(days).join(',')}`;
    let rows = this.rows.get(key);
    if (!rows) {
      const onDemand = onDemandRows(this.data, id);
      if (onDemand) {
        this.rows.set(id, onDemand);
        return onDemand;
      }
      rows = new MatrixRows(computeFactor(this.data, id, days));
      this.rows.set(key, rows);
    }
    return rows;
  }

  /**
   * The composite score rows of a score ranking over a universe (its components come from
   * factor() like any factor a strategy reads), built once per distinct universe, score and days:
   * strategies ranking by the same score share its day's computation.
   */
  score(
    universe: UniverseDefinition,
    ranking: ScoreRanking,
    days: ArrayLike<number> | undefined,
    build: () => FactorRows,
  ): FactorRows {
    const key = `${JSON.stringify(universe)}|${JSON.stringify(ranking.score)}@${days === undefined ? 'all' : Array.from(days).join(',')}`;
    let rows = this.scores.get(key);
    if (!rows) {
      rows = build();
      this.scores.set(key, rows);
    }
    return rows;
  }

  /** The universe mask of a definition (as of each day, see UniverseMask), built once per distinct universe. */
  universe(universe: UniverseDefinition, build: () => UniverseMask): UniverseMask {
    const key = JSON.stringify(universe);
    let mask = this.universes.get(key);
    if (!mask) {
      mask = build();
      this.universes.set(key, mask);
    }
    return mask;
  }

  /** How many factor sources were computed (each once, whatever the number of strategies). */
  get computed(): number {
    return this.rows.size;
  }

  /** How many composite scores were built (each once per universe, score and days). */
  get computedScores(): number {
    return this.scores.size;
  }
}
