import type { MarketData, PriceColumn } from '../data/market-data.js';
import {
  isScoreRanking,
  STRATEGY_SCHEMA_VERSION,
  type ConditionNode,
  type RankingDefinition,
  type StrategyDefinition,
} from '../definition/strategy-definition.js';
import type { FactorId } from '../factors/catalog.js';
import { computeFactor } from '../factors/compute.js';
import { CompositeRows } from './composite.js';
import type { FactorCache } from './factor-cache.js';
import { MatrixRows, MomentumRows, onDemandRows, type FactorRows } from './factor-rows.js';
import { UniverseMask } from './universe.js';

const OP_LT = 0;
const OP_LE = 1;
const OP_GT = 2;
const OP_GE = 3;
const OP_EQ = 4;
const OP_NE = 5;
const OP_BETWEEN = 6;
const OPCODES = {
  '<': OP_LT,
  '<=': OP_LE,
  '>': OP_GT,
  '>=': OP_GE,
  '==': OP_EQ,
  '!=': OP_NE,
  between: OP_BETWEEN,
} as const;

/** A condition tree with its factors resolved to matrices (no string lookups when evaluating). */
type CompiledNode =
  | { kind: 'and' | 'or'; children: CompiledNode[] }
  | { kind: 'cmp'; op: number; left: FactorRows; right: FactorRows | null; a: number; b: number };

export function conditionFactors(node: ConditionNode | undefined, out: Set<FactorId>): Set<FactorId> {
  if (!node) {
    return out;
  }
  if ('and' in node) {
    node.and.forEach((c) => conditionFactors(c, out));
  } else if ('or' in node) {
    node.or.forEach((c) => conditionFactors(c, out));
  } else {
    out.add(node.factor);
    if ('otherFactor' in node) {
      out.add(node.otherFactor);
    }
  }
  return out;
}

function depthOf(node: ConditionNode): number {
  if ('and' in node) {
    return 1 + Math.max(...node.and.map(depthOf));
  }
  if ('or' in node) {
    return 1 + Math.max(...node.or.map(depthOf));
  }
  return 1;
}

function compileNode(node: ConditionNode, m: Partial<Record<FactorId, FactorRows>>): CompiledNode {
  if ('and' in node) {
    return { kind: 'and', children: node.and.map((c) => compileNode(c, m)) };
  }
  if ('or' in node) {
    return { kind: 'or', children: node.or.map((c) => compileNode(c, m)) };
  }
  const left = m[node.factor] as FactorRows;
  if (node.op === 'between') {
    return { kind: 'cmp', op: OP_BETWEEN, left, right: null, a: node.min, b: node.max };
  }
  if ('otherFactor' in node) {
    return { kind: 'cmp', op: OPCODES[node.op], left, right: m[node.otherFactor] as FactorRows, a: 0, b: 0 };
  }
  return { kind: 'cmp', op: OPCODES[node.op], left, right: null, a: node.value, b: 0 };
}

/** One comparison; any NaN operand makes it false (for != too). */
function compare(op: number, x: number, y: number, b: number): boolean {
  switch (op) {
    case OP_LT:
      return x < y;
    case OP_LE:
      return x <= y;
    case OP_GT:
      return x > y;
    case OP_GE:
      return x >= y;
    case OP_EQ:
      return x === y;
    case OP_NE:
      return x === x && y === y && x !== y;
    default:
      return x >= y && x <= b;
  }
}

/** Scalar evaluation for one stock (sell conditions over at most maxPositions holdings). */
function evalScalar(node: CompiledNode, d: number, s: number): boolean {
  if (node.kind === 'cmp') {
    const x = node.left.at(d, s);
    const y = node.right ? node.right.at(d, s) : node.a;
    return compare(node.op, x, y, node.b);
  }
  if (node.kind === 'and') {
    for (const c of node.children) {
      if (!evalScalar(c, d, s)) {
        return false;
      }
    }
    return true;
  }
  for (const c of node.children) {
    if (evalScalar(c, d, s)) {
      return true;
    }
  }
  return false;
}

/**
 * Vectorized evaluation over a whole day's cross-section, one tight loop per comparison over
 * contiguous memory. With `and` = 0 the result overwrites `out` (1 = passes); with `and` = 1 it
 * is ANDed into `out`. The AND mode lets a chain of comparisons under an AND node write straight
 * into one mask, instead of evaluating each into scratch space and combining it in another pass.
 * `pool[depth]` is scratch space for the children of an OR node.
 */
function evalRow(node: CompiledNode, d: number, out: Uint8Array, and: number, pool: Uint8Array[], depth: number): void {
  const S = out.length;
  if (node.kind !== 'cmp') {
    if (node.kind === 'and') {
      for (let i = 0; i < node.children.length; i++) {
        evalRow(node.children[i], d, out, i === 0 ? and : 1, pool, depth);
      }
      return;
    }
    // The OR is built in `acc` (out itself when overwriting), then ANDed into out if asked.
    const acc = and ? pool[depth] : out;
    const tmp = pool[depth + 1];
    evalRow(node.children[0], d, acc, 0, pool, depth + 2);
    for (let i = 1; i < node.children.length; i++) {
      evalRow(node.children[i], d, tmp, 0, pool, depth + 2);
      for (let s = 0; s < S; s++) {
        acc[s] = acc[s] | tmp[s];
      }
    }
    if (and) {
      for (let s = 0; s < S; s++) {
        out[s] = out[s] & acc[s];
      }
    }
    return;
  }
  // out = (out | set) & x: set = 0 ANDs x into out, set = 1 overwrites out with x.
  const set = and ^ 1;
  const xv = node.left.values;
  const xb = node.left.row(d);
  // `+(x < y)` compiles to a branch-free compare; `x < y ? 1 : 0` mispredicts on mixed data
  // and is 2-3x slower here. NaN compares false in every branch-free form below.
  if (node.right) {
    const yv = node.right.values;
    const yb = node.right.row(d);
    switch (node.op) {
      case OP_LT:
        for (let s = 0; s < S; s++) {
          out[s] = (out[s] | set) & +(xv[xb + s] < yv[yb + s]);
        }
        return;
      case OP_LE:
        for (let s = 0; s < S; s++) {
          out[s] = (out[s] | set) & +(xv[xb + s] <= yv[yb + s]);
        }
        return;
      case OP_GT:
        for (let s = 0; s < S; s++) {
          out[s] = (out[s] | set) & +(xv[xb + s] > yv[yb + s]);
        }
        return;
      case OP_GE:
        for (let s = 0; s < S; s++) {
          out[s] = (out[s] | set) & +(xv[xb + s] >= yv[yb + s]);
        }
        return;
      case OP_EQ:
        for (let s = 0; s < S; s++) {
          out[s] = (out[s] | set) & +(xv[xb + s] === yv[yb + s]);
        }
        return;
      default:
        for (let s = 0; s < S; s++) {
          const x = xv[xb + s];
          const y = yv[yb + s];
          out[s] = (out[s] | set) & +(x === x) & +(y === y) & +(x !== y);
        }
        return;
    }
  }
  const a = node.a;
  const b = node.b;
  switch (node.op) {
    case OP_LT:
      for (let s = 0; s < S; s++) {
        out[s] = (out[s] | set) & +(xv[xb + s] < a);
      }
      return;
    case OP_LE:
      for (let s = 0; s < S; s++) {
        out[s] = (out[s] | set) & +(xv[xb + s] <= a);
      }
      return;
    case OP_GT:
      for (let s = 0; s < S; s++) {
        out[s] = (out[s] | set) & +(xv[xb + s] > a);
      }
      return;
    case OP_GE:
      for (let s = 0; s < S; s++) {
        out[s] = (out[s] | set) & +(xv[xb + s] >= a);
      }
      return;
    case OP_EQ:
      for (let s = 0; s < S; s++) {
        out[s] = (out[s] | set) & +(xv[xb + s] === a);
      }
      return;
    case OP_NE:
      for (let s = 0; s < S; s++) {
        const x = xv[xb + s];
        out[s] = (out[s] | set) & +(x === x) & +(x !== a);
      }
      return;
    default:
      for (let s = 0; s < S; s++) {
        const x = xv[xb + s];
        out[s] = (out[s] | set) & +(x >= a) & +(x <= b);
      }
  }
}

/**
 * Candidate-list filters for select(): `list[0..n)` holds the stock indices still in the running,
 * ascending; each filter keeps those that pass, in order, and returns the new count. Compaction
 * is branch-free (`list[m] = s; m += passes`), and each later filter only visits the survivors
 * of the earlier ones. A comparison's factor value is read from a row (`xv[xb + s]`) or, for
 * momentum, computed inline from two close rows, so no per-day factor buffer is written and
 * re-read: V8 checks every typed-array access, so element accesses per stock are the cost.
 */
function filterRow(list: Int32Array, n: number, xv: PriceColumn, xb: number, op: number, a: number, b: number): number {
  let m = 0;
  switch (op) {
    case OP_LT:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        list[m] = s;
        m += +(xv[xb + s] < a);
      }
      return m;
    case OP_LE:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        list[m] = s;
        m += +(xv[xb + s] <= a);
      }
      return m;
    case OP_GT:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        list[m] = s;
        m += +(xv[xb + s] > a);
      }
      return m;
    case OP_GE:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        list[m] = s;
        m += +(xv[xb + s] >= a);
      }
      return m;
    case OP_EQ:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        list[m] = s;
        m += +(xv[xb + s] === a);
      }
      return m;
    case OP_NE:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        const x = xv[xb + s];
        list[m] = s;
        m += +(x === x) & +(x !== a);
      }
      return m;
    default:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        const x = xv[xb + s];
        list[m] = s;
        m += +(x >= a) & +(x <= b);
      }
      return m;
  }
}

/** filterRow for momentum: x = close[cb + s] / close[pb + s] x 100 - 100 (MomentumRows' arithmetic). */
function filterMomentum(
  list: Int32Array,
  n: number,
  c: PriceColumn,
  cb: number,
  pb: number,
  op: number,
  a: number,
  b: number,
): number {
  let m = 0;
  switch (op) {
    case OP_LT:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        list[m] = s;
        m += +((c[cb + s] / c[pb + s]) * 100 - 100 < a);
      }
      return m;
    case OP_LE:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        list[m] = s;
        m += +((c[cb + s] / c[pb + s]) * 100 - 100 <= a);
      }
      return m;
    case OP_GT:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        list[m] = s;
        m += +((c[cb + s] / c[pb + s]) * 100 - 100 > a);
      }
      return m;
    case OP_GE:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        list[m] = s;
        m += +((c[cb + s] / c[pb + s]) * 100 - 100 >= a);
      }
      return m;
    case OP_EQ:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        list[m] = s;
        m += +((c[cb + s] / c[pb + s]) * 100 - 100 === a);
      }
      return m;
    case OP_NE:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        const x = (c[cb + s] / c[pb + s]) * 100 - 100;
        list[m] = s;
        m += +(x === x) & +(x !== a);
      }
      return m;
    default:
      for (let i = 0; i < n; i++) {
        const s = list[i];
        const x = (c[cb + s] / c[pb + s]) * 100 - 100;
        list[m] = s;
        m += +(x >= a) & +(x <= b);
      }
      return m;
  }
}

/** Keeps the candidates whose mask byte is 1. */
function filterMask(list: Int32Array, n: number, mask: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const s = list[i];
    list[m] = s;
    m += mask[s];
  }
  return m;
}

/**
 * Block sizes of select()'s ranking pass: the threshold is refreshed between blocks. It rises
 * fast at first, so the blocks start small (fewer stale candidates) and grow (less overhead).
 */
const FIRST_BLOCK = 32;
const MAX_BLOCK = 512;

/**
 * Lists the stocks in [start, end) whose ranking key (value x sign + 0, see select) may beat
 * the threshold (key >= threshold: a tie is settled by the stock index later), branch-free.
 * A NaN key never does.
 */
function beatingRow(
  list: Int32Array,
  start: number,
  end: number,
  v: PriceColumn,
  vb: number,
  sign: number,
  threshold: number,
): number {
  let m = 0;
  for (let s = start; s < end; s++) {
    list[m] = s;
    m += +(v[vb + s] * sign + 0 >= threshold);
  }
  return m;
}

/** beatingRow for a momentum ranking: value = close[cb + s] / close[pb + s] x 100 - 100. */
function beatingMomentum(
  list: Int32Array,
  start: number,
  end: number,
  c: PriceColumn,
  cb: number,
  pb: number,
  sign: number,
  threshold: number,
): number {
  let m = 0;
  for (let s = start; s < end; s++) {
    list[m] = s;
    m += +(((c[cb + s] / c[pb + s]) * 100 - 100) * sign + 0 >= threshold);
  }
  return m;
}

function isConstantComparison(node: CompiledNode): boolean {
  return node.kind === 'cmp' && node.right === null;
}

/** The AND-ed parts of a condition tree (nested ANDs flattened), in order. */
function conjuncts(node: CompiledNode, out: CompiledNode[]): CompiledNode[] {
  if (node.kind === 'and') {
    for (const c of node.children) {
      conjuncts(c, out);
    }
  } else {
    out.push(node);
  }
  return out;
}

/** The factors a ranking reads: its factor, or every factor of its composite score. */
export function rankingFactorsOf(ranking: RankingDefinition): FactorId[] {
  return isScoreRanking(ranking) ? ranking.score.map((t) => t.factor) : [ranking.factor];
}

/** The factors selecting reads: the ranking, the buy conditions, the trading-value floor. */
export function selectionFactorsOf(def: StrategyDefinition): Set<FactorId> {
  const ids = conditionFactors(def.buyConditions, new Set<FactorId>(rankingFactorsOf(def.ranking)));
  if (def.universe.minAvgTradingValue !== undefined) {
    ids.add('avg_trading_value_20d');
  }
  return ids;
}

/** The factors the sell conditions read. */
export function sellFactorsOf(def: StrategyDefinition): Set<FactorId> {
  return conditionFactors(def.sell?.conditions, new Set<FactorId>());
}

export class CompiledStrategy {
  readonly S: number;
  /** The universe's scope as of each day (point-in-time market and sector, delistings). */
  readonly inUniverse: UniverseMask;
  private readonly minMarketCap: number;
  private readonly minAtv: number;
  private readonly atv: FactorRows | null;
  private readonly rank: FactorRows;
  private readonly rankSign: number;
  /** The buy conditions as AND-ed parts, each applied as one candidate-list filter. */
  private readonly buyParts: CompiledNode[];
  private readonly sellNode: CompiledNode | null;
  /** Candidate stock indices (see filterRow), at most one block's worth. */
  private readonly list: Int32Array;
  /** Picks in the top-K buffer (keys/pickIdx); after select() returns, its result. */
  private count = 0;
  /** The K-th best (key, stock index) once the buffer is full: what a new pick must beat. */
  private thresholdKey = -Infinity;
  private thresholdIdx = -1;
  /** 1 for the stocks already offered during the current select() (see there). */
  private readonly seen: Uint8Array;
  /** Per buy part: the whole-row mask of a part that is not a comparison with a constant. */
  private readonly partMasks: (Uint8Array | null)[];
  private readonly allInUniverse: boolean;
  private readonly pool: Uint8Array[];
  private readonly keys: Float64Array;
  /** Output of select(): stock indices, best first, and their ranking values (factor or score). */
  readonly pickIdx: Int32Array;
  readonly pickScore: Float64Array;

  /**
   * @param selectionDays ascending day indices on which select() will be called
   * @param sellDays ascending day indices on which sellSignal() will be called
   * @param cache factor rows and universe masks shared with other strategies on the same data
   *   (a live run's strategies); without it this strategy computes its own
   */
  constructor(
    readonly def: StrategyDefinition,
    readonly data: MarketData,
    selectionDays: ArrayLike<number>,
    sellDays: ArrayLike<number>,
    cache?: FactorCache,
  ) {
    if (cache && cache.data !== data) {
      throw new Error('the factor cache belongs to other market data');
    }
    const S = data.codes.length;
    this.S = S;
    this.inUniverse = cache
      ? cache.universe(def.universe, () => new UniverseMask(def.universe, data))
      : new UniverseMask(def.universe, data);
    this.minMarketCap = def.universe.minMarketCap ?? 0;
    this.minAtv = def.universe.minAvgTradingValue ?? 0;

    const selectionIds = selectionFactorsOf(def);
    const sellIds = sellFactorsOf(def);
    const matrices: Partial<Record<FactorId, FactorRows>> = {};
    // A factor needed on both day sets is computed once over their union (usually all days).
    for (const id of new Set([...selectionIds, ...sellIds])) {
      const days =
        selectionIds.has(id) && sellIds.has(id)
          ? union(selectionDays, sellDays)
          : selectionIds.has(id)
            ? selectionDays
            : sellDays;
      const wanted = days.length >= data.dates.length ? undefined : days;
      matrices[id] = cache
        ? cache.factor(id, wanted)
        : (onDemandRows(data, id) ?? new MatrixRows(computeFactor(data, id, wanted)));
    }
    // the trading-value floor only when the universe has one (a buy condition or a score reading
    // the factor must not make every stock without 20 days of bars fail a floor of 0)
    this.atv = def.universe.minAvgTradingValue !== undefined ? (matrices.avg_trading_value_20d ?? null) : null;
    const ranking = def.ranking;
    if (isScoreRanking(ranking)) {
      // the score of the universe on each selection day: highest first
      const build = (): CompositeRows =>
        new CompositeRows(
          data,
          ranking.score,
          ranking.score.map((t) => matrices[t.factor] as FactorRows),
          { universe: this.inUniverse, minMarketCap: this.minMarketCap, atv: this.atv, minAtv: this.minAtv },
        );
      const days = selectionDays.length >= data.dates.length ? undefined : selectionDays;
      this.rank = cache ? cache.score(def.universe, ranking, days, build) : build();
      this.rankSign = 1;
    } else {
      this.rank = matrices[ranking.factor] as FactorRows;
      this.rankSign = ranking.order === 'desc' ? 1 : -1;
    }
    this.buyParts = def.buyConditions ? conjuncts(compileNode(def.buyConditions, matrices), []) : [];
    this.partMasks = this.buyParts.map((p) => (isConstantComparison(p) ? null : new Uint8Array(S)));
    // Scratch rows for evaluating those parts: an OR node at nesting level k uses pool[2k] and
    // pool[2k + 1] (see evalRow). Typed arrays are costly to allocate for a short run: only if needed.
    const depth = def.buyConditions && this.partMasks.some((m) => m !== null) ? depthOf(def.buyConditions) : 0;
    this.pool = Array.from({ length: depth > 0 ? 2 * depth + 2 : 0 }, () => new Uint8Array(S));
    this.allInUniverse = this.inUniverse.all;
    this.sellNode = def.sell?.conditions ? compileNode(def.sell.conditions, matrices) : null;
    this.hasSellConditions = this.sellNode !== null;
    this.list = new Int32Array(Math.max(MAX_BLOCK, def.maxPositions));
    this.seen = new Uint8Array(S);

    this.keys = new Float64Array(def.maxPositions);
    this.pickIdx = new Int32Array(def.maxPositions);
    this.pickScore = new Float64Array(def.maxPositions);
  }

  /** A field, not a getter: it is read per holding per day. */
  readonly hasSellConditions: boolean;

  /** True when the sell conditions hold for stock s on day d's close. */
  sellSignal(d: number, s: number): boolean {
    return this.sellNode !== null && evalScalar(this.sellNode, d, s);
  }

  /**
   * Selection on day d using data up to d's close: stocks in the universe, with a bar on d,
   * passing the size/liquidity filters and the buy conditions, with a ranking value; the best
   * maxPositions by the ranking factor (ties: lower stock index first). Returns the count;
   * the picks are in pickIdx/pickScore.
   *
   * A daily re-rank is bound by reading each day's rows, so the ranking comes first and the
   * filters are applied to as few stocks as possible:
   * 1. The previous call's picks are filtered and offered first: they are usually near the top
   *    again, so the top-K buffer's threshold (its K-th best) starts close to its final value.
   * 2. Per block of stocks, one branch-free pass over the ranking row lists the stocks whose
   *    key may beat the threshold, and only those go through the filters (branch-free passes
   *    over the short list) and are offered. The filter rows are barely touched.
   * The top-K buffer orders by (key desc, stock index asc) whatever the order of the offers,
   * and a skipped stock could not have beaten the threshold, so the picks are exactly those of
   * filtering every stock and then ranking. When the filters reject the top of the ranking,
   * most stocks go through the filters and the cost approaches that of doing exactly that.
   * A composite score is a ranking row like a factor's (CompositeRows, computed over the day's
   * universe before any buy condition), so the same holds for it.
   */
  select(d: number): number {
    const S = this.S;
    const b = d * S;
    const sign = this.rankSign;
    const r = this.rank;
    const list = this.list;
    const keys = this.keys;
    const seen = this.seen;
    // 1. The previous picks (the previous rebalance's, for a backtest). Only worth it when the
    //    cross-section is much larger than K: with few stocks the pass below is short anyway.
    let seeds = S >= 8 * this.def.maxPositions ? this.count : 0;
    for (let i = 0; i < seeds; i++) {
      list[i] = this.pickIdx[i];
    }
    this.count = 0;
    this.thresholdKey = -Infinity;
    this.thresholdIdx = -1;
    const mom = r instanceof MomentumRows ? r : null;
    if (mom && d < mom.lag) {
      return 0; // no history yet: momentum is NaN for every stock, and a NaN key is never picked
    }
    const rv = mom ? mom.close : r.values;
    const rb = mom ? b : r.row(d);
    const pb = mom ? b - mom.lag * S : 0;
    const parts = this.buyParts;
    for (let i = 0; i < parts.length; i++) {
      const mask = this.partMasks[i];
      if (mask) {
        evalRow(parts[i], d, mask, 0, this.pool, 0); // ORs, factor vs factor: whole row, once
      }
    }
    for (let i = 0; i < seeds; i++) {
      seen[list[i]] = 1; // not offered again in step 2
    }
    const seedCount = seeds;
    seeds = this.filter(d, list, seeds);
    for (let i = 0; i < seeds; i++) {
      const s = list[i];
      this.offer((mom ? (rv[rb + s] / rv[pb + s]) * 100 - 100 : rv[rb + s]) * sign + 0, s);
    }
    // 2. Everything else, block by block.
    for (let start = 0, size = FIRST_BLOCK; start < S; start += size, size = Math.min(MAX_BLOCK, 2 * size)) {
      const end = Math.min(S, start + size);
      let n = end - start;
      if (this.thresholdKey === -Infinity) {
        // Fewer than K picks yet: every key may enter (offer() still rejects NaN and -Infinity).
        for (let i = 0; i < n; i++) {
          list[i] = start + i;
        }
      } else {
        n = mom
          ? beatingMomentum(list, start, end, rv, rb, pb, sign, this.thresholdKey)
          : beatingRow(list, start, end, rv, rb, sign, this.thresholdKey);
      }
      n = n > 0 ? this.filter(d, list, n) : 0;
      for (let i = 0; i < n; i++) {
        const s = list[i];
        if (seen[s] === 0) {
          // The key exactly as beating*() computes it.
          this.offer((mom ? (rv[rb + s] / rv[pb + s]) * 100 - 100 : rv[rb + s]) * sign + 0, s);
        }
      }
    }
    if (seedCount > 0) {
      seen.fill(0);
    }
    for (let j = 0; j < this.count; j++) {
      this.pickScore[j] = keys[j] * sign;
    }
    return this.count;
  }

  /**
   * Keeps the listed stocks that are in the universe, have a bar on d (close NaN: not
   * tradable), pass the market cap and trading value minimums and every buy condition.
   */
  private filter(d: number, list: Int32Array, n: number): number {
    const b = d * this.S;
    if (!this.allInUniverse) {
      n = filterMask(list, n, this.inUniverse.on(d));
    }
    n = filterRow(list, n, this.data.close, b, OP_GT, 0, 0);
    if (this.minMarketCap > 0 && n > 0) {
      n = filterRow(list, n, this.data.marketCap, b, OP_GE, this.minMarketCap, 0);
    }
    if (this.atv !== null && n > 0) {
      n = filterRow(list, n, this.atv.values, this.atv.row(d), OP_GE, this.minAtv, 0);
    }
    const parts = this.buyParts;
    for (let i = 0; i < parts.length && n > 0; i++) {
      const p = parts[i];
      const mask = this.partMasks[i];
      if (mask) {
        n = filterMask(list, n, mask);
      } else if (p.kind === 'cmp') {
        const x = p.left;
        if (x instanceof MomentumRows) {
          // Before `lag` days of history momentum is NaN, which fails every comparison.
          n = d < x.lag ? 0 : filterMomentum(list, n, x.close, b, b - x.lag * this.S, p.op, p.a, p.b);
        } else {
          n = filterRow(list, n, x.values, x.row(d), p.op, p.a, p.b);
        }
      }
    }
    return n;
  }

  /**
   * Offers a stock that passed the filters to the top-K buffer, kept sorted best first: higher
   * key, then lower stock index. Keys that are NaN or -Infinity are never picked. When the
   * buffer is full, the stock enters only if it beats the K-th, which then drops out.
   */
  private offer(key: number, s: number): void {
    const tk = this.thresholdKey;
    if (!(key > tk || (key === tk && s < this.thresholdIdx))) {
      return;
    }
    const K = this.def.maxPositions;
    const keys = this.keys;
    const idx = this.pickIdx;
    let j = this.count < K ? this.count++ : K - 1;
    while (j > 0 && (keys[j - 1] < key || (keys[j - 1] === key && idx[j - 1] > s))) {
      keys[j] = keys[j - 1];
      idx[j] = idx[j - 1];
      j--;
    }
    keys[j] = key;
    idx[j] = s;
    if (this.count === K) {
      this.thresholdKey = keys[K - 1];
      this.thresholdIdx = idx[K - 1];
    }
  }

  /**
   * Every stock that select(d) would consider, in stock index order: in the universe on d, with
   * a bar, passing the size/liquidity filters and every buy condition (the ranking only orders
   * them and cuts at maxPositions). What a universe preview shows.
   */
  candidates(d: number): Int32Array {
    const parts = this.buyParts;
    for (let i = 0; i < parts.length; i++) {
      const mask = this.partMasks[i];
      if (mask) {
        evalRow(parts[i], d, mask, 0, this.pool, 0);
      }
    }
    const list = this.list;
    const out: number[] = [];
    for (let start = 0; start < this.S; start += list.length) {
      let n = Math.min(this.S, start + list.length) - start;
      for (let i = 0; i < n; i++) {
        list[i] = start + i;
      }
      n = this.filter(d, list, n);
      for (let i = 0; i < n; i++) {
        out.push(list[i]);
      }
    }
    return Int32Array.from(out);
  }

  /** Target weight of each of n picks: equal weight, capped by maxWeightPerStock. */
  weight(n: number): number {
    return n === 0 ? 0 : Math.min(1 / n, this.def.weighting.maxWeightPerStock ?? 1);
  }
}

function union(a: ArrayLike<number>, b: ArrayLike<number>): Int32Array {
  const all = new Set<number>();
  for (let i = 0; i < a.length; i++) {
    all.add(a[i]);
  }
  for (let i = 0; i < b.length; i++) {
    all.add(b[i]);
  }
  return Int32Array.from(all).sort();
}

export interface Pick {
  rank: number;
  code: string;
  stockIndex: number;
  /** The ranking factor's value, or the composite score (0..100) of a score ranking. */
  score: number;
  /** Target fraction of portfolio value. */
  weight: number;
}

export interface Selection {
  date: number;
  dayIndex: number;
  picks: Pick[];
}

/**
 * The stock selection for day `dayIndex` (data up to that day's close), for orders at the next
 * open: the trading service's 07:00 run uses the previous trading day's index. Same code path
 * as a backtest's rebalance (CompiledStrategy.select), so live picks match the backtest. With a
 * `cache`, strategies selecting on the same data share their factors (see FactorCache).
 */
export function selectPicks(
  def: StrategyDefinition,
  data: MarketData,
  dayIndex: number,
  cache?: FactorCache,
): Selection {
  if (!Number.isInteger(dayIndex) || dayIndex < 0 || dayIndex >= data.dates.length) {
    throw new RangeError(`dayIndex ${dayIndex} is outside the data (0..${data.dates.length - 1})`);
  }
  const days = Int32Array.of(dayIndex);
  const cs = new CompiledStrategy(def, data, days, new Int32Array(0), cache);
  const n = cs.select(dayIndex);
  const w = cs.weight(n);
  const picks: Pick[] = [];
  for (let j = 0; j < n; j++) {
    const s = cs.pickIdx[j];
    picks.push({ rank: j + 1, code: data.codes[s], stockIndex: s, score: cs.pickScore[j], weight: w });
  }
  return { date: data.dates[dayIndex], dayIndex, picks };
}

/**
 * The stocks a universe and its buy conditions pass on day `dayIndex` (data up to its close), in
 * stock index order: the same filters as selectPicks, without ranking or the maxPositions cut.
 */
export function universeCandidates(
  universe: StrategyDefinition['universe'],
  buyConditions: StrategyDefinition['buyConditions'],
  data: MarketData,
  dayIndex: number,
): Int32Array {
  if (!Number.isInteger(dayIndex) || dayIndex < 0 || dayIndex >= data.dates.length) {
    throw new RangeError(`dayIndex ${dayIndex} is outside the data (0..${data.dates.length - 1})`);
  }
  const def = universeDefinition(universe, buyConditions) as unknown as StrategyDefinition;
  return new CompiledStrategy(def, data, Int32Array.of(dayIndex), new Int32Array(0)).candidates(dayIndex);
}

/**
 * A whole definition around a universe and buy conditions, the rest the cheapest valid values
 * (nothing but the parser reads them): what a universe preview validates and computes with.
 */
export function universeDefinition(universe: unknown, buyConditions?: unknown): Record<string, unknown> {
  return {
    schemaVersion: STRATEGY_SCHEMA_VERSION,
    universe,
    ...(buyConditions !== undefined ? { buyConditions } : {}),
    ranking: { factor: 'close', order: 'desc' },
    maxPositions: 1,
    weighting: { method: 'equal' },
    rebalance: 'daily',
    costs: { commissionBps: 0, slippageBps: 0 },
    initialCapital: 1,
  };
}
