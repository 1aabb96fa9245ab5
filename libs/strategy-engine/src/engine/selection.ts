import type { MarketData } from '../data/market-data.js';
import type { ConditionNode, StrategyDefinition } from '../definition/strategy-definition.js';
import type { FactorId } from '../factors/catalog.js';
import { computeFactor } from '../factors/compute.js';
import { MatrixRows, onDemandRows, type FactorRows } from './factor-rows.js';

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
 * Vectorized evaluation over a whole day's cross-section into `out` (1 = passes). One tight loop
 * per comparison over contiguous memory, combined with AND/OR; `pool[depth]` is scratch space.
 */
function evalRow(node: CompiledNode, d: number, out: Uint8Array, pool: Uint8Array[], depth: number): void {
  const S = out.length;
  if (node.kind !== 'cmp') {
    const tmp = pool[depth];
    evalRow(node.children[0], d, out, pool, depth + 1);
    for (let i = 1; i < node.children.length; i++) {
      evalRow(node.children[i], d, tmp, pool, depth + 1);
      if (node.kind === 'and') {
        for (let s = 0; s < S; s++) {
          out[s] = out[s] & tmp[s];
        }
      } else {
        for (let s = 0; s < S; s++) {
          out[s] = out[s] | tmp[s];
        }
      }
    }
    return;
  }
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
          out[s] = +(xv[xb + s] < yv[yb + s]);
        }
        return;
      case OP_LE:
        for (let s = 0; s < S; s++) {
          out[s] = +(xv[xb + s] <= yv[yb + s]);
        }
        return;
      case OP_GT:
        for (let s = 0; s < S; s++) {
          out[s] = +(xv[xb + s] > yv[yb + s]);
        }
        return;
      case OP_GE:
        for (let s = 0; s < S; s++) {
          out[s] = +(xv[xb + s] >= yv[yb + s]);
        }
        return;
      case OP_EQ:
        for (let s = 0; s < S; s++) {
          out[s] = +(xv[xb + s] === yv[yb + s]);
        }
        return;
      default:
        for (let s = 0; s < S; s++) {
          const x = xv[xb + s];
          const y = yv[yb + s];
          out[s] = +(x === x) & +(y === y) & +(x !== y);
        }
        return;
    }
  }
  const a = node.a;
  const b = node.b;
  switch (node.op) {
    case OP_LT:
      for (let s = 0; s < S; s++) {
        out[s] = +(xv[xb + s] < a);
      }
      return;
    case OP_LE:
      for (let s = 0; s < S; s++) {
        out[s] = +(xv[xb + s] <= a);
      }
      return;
    case OP_GT:
      for (let s = 0; s < S; s++) {
        out[s] = +(xv[xb + s] > a);
      }
      return;
    case OP_GE:
      for (let s = 0; s < S; s++) {
        out[s] = +(xv[xb + s] >= a);
      }
      return;
    case OP_EQ:
      for (let s = 0; s < S; s++) {
        out[s] = +(xv[xb + s] === a);
      }
      return;
    case OP_NE:
      for (let s = 0; s < S; s++) {
        const x = xv[xb + s];
        out[s] = +(x === x) & +(x !== a);
      }
      return;
    default:
      for (let s = 0; s < S; s++) {
        const x = xv[xb + s];
        out[s] = +(x >= a) & +(x <= b);
      }
  }
}

/** Added to a ranking key: index 0 (excluded) makes it -Infinity, index 1 leaves it. */
const PENALTY = Float64Array.of(-Infinity, 0);

/**
 * A strategy bound to one MarketData: universe membership, factor matrices and compiled
 * conditions, plus preallocated buffers so that selecting a day allocates nothing.
 */
export class CompiledStrategy {
  readonly S: number;
  readonly inUniverse: Uint8Array;
  private readonly minMarketCap: number;
  private readonly minAtv: number;
  private readonly atv: FactorRows | null;
  private readonly rank: FactorRows;
  private readonly rankSign: number;
  private readonly buy: CompiledNode | null;
  private readonly sellNode: CompiledNode | null;
  private readonly mask: Uint8Array;
  private readonly pool: Uint8Array[];
  private readonly keys: Float64Array;
  /** Output of select(): stock indices, best first, and their ranking factor values. */
  readonly pickIdx: Int32Array;
  readonly pickScore: Float64Array;

  /**
   * @param selectionDays ascending day indices on which select() will be called
   * @param sellDays ascending day indices on which sellSignal() will be called
   */
  constructor(
    readonly def: StrategyDefinition,
    readonly data: MarketData,
    selectionDays: ArrayLike<number>,
    sellDays: ArrayLike<number>,
  ) {
    const S = data.codes.length;
    this.S = S;
    this.inUniverse = universeMask(def, data);
    this.minMarketCap = def.universe.minMarketCap ?? 0;
    this.minAtv = def.universe.minAvgTradingValue ?? 0;

    const selectionIds = conditionFactors(def.buyConditions, new Set<FactorId>([def.ranking.factor]));
    if (def.universe.minAvgTradingValue !== undefined) {
      selectionIds.add('avg_trading_value_20d');
    }
    const sellIds = conditionFactors(def.sell?.conditions, new Set<FactorId>());
    const matrices: Partial<Record<FactorId, FactorRows>> = {};
    // A factor needed on both day sets is computed once over their union (usually all days).
    for (const id of new Set([...selectionIds, ...sellIds])) {
      const days =
        selectionIds.has(id) && sellIds.has(id)
          ? union(selectionDays, sellDays)
          : selectionIds.has(id)
            ? selectionDays
            : sellDays;
      matrices[id] =
        onDemandRows(data, id) ??
        new MatrixRows(computeFactor(data, id, days.length >= data.dates.length ? undefined : days));
    }
    this.atv = matrices.avg_trading_value_20d ?? null;
    this.rank = matrices[def.ranking.factor] as FactorRows;
    this.rankSign = def.ranking.order === 'desc' ? 1 : -1;
    this.buy = def.buyConditions ? compileNode(def.buyConditions, matrices) : null;
    this.sellNode = def.sell?.conditions ? compileNode(def.sell.conditions, matrices) : null;
    this.mask = new Uint8Array(S);
    const depth = def.buyConditions ? depthOf(def.buyConditions) : 0;
    this.pool = Array.from({ length: depth + 1 }, () => new Uint8Array(S));
    this.keys = new Float64Array(def.maxPositions);
    this.pickIdx = new Int32Array(def.maxPositions);
    this.pickScore = new Float64Array(def.maxPositions);
  }

  get hasSellConditions(): boolean {
    return this.sellNode !== null;
  }

  /** True when the sell conditions hold for stock s on day d's close. */
  sellSignal(d: number, s: number): boolean {
    return this.sellNode !== null && evalScalar(this.sellNode, d, s);
  }

  /**
   * Selection on day d using data up to d's close: stocks in the universe, with a bar on d,
   * passing the size/liquidity filters and the buy conditions, with a ranking value; the best
   * maxPositions by the ranking factor (ties: lower stock index first). Returns the count;
   * the picks are in pickIdx/pickScore.
   */
  select(d: number): number {
    const S = this.S;
    const K = this.def.maxPositions;
    const b = d * S;
    const close = this.data.close;
    const mc = this.data.marketCap;
    const univ = this.inUniverse;
    const minMc = this.minMarketCap;
    const minAtv = this.minAtv;
    const atv = this.atv;
    const atvBase = atv ? atv.row(d) : 0;
    const rv = this.rank.values;
    const rb = this.rank.row(d);
    const sign = this.rankSign;
    const mask = this.mask;
    // Filters as sequential branch-free passes over the day's rows (streamed, prefetched),
    // rather than random reads per candidate, which cost a cache miss each on a cold row.
    if (this.buy) {
      evalRow(this.buy, d, mask, this.pool, 0);
      for (let s = 0; s < S; s++) {
        mask[s] = mask[s] & univ[s] & +(close[b + s] > 0);
      }
    } else {
      for (let s = 0; s < S; s++) {
        mask[s] = univ[s] & +(close[b + s] > 0); // a stock without a bar today is not tradable
      }
    }
    if (minMc > 0) {
      for (let s = 0; s < S; s++) {
        mask[s] = mask[s] & +(mc[b + s] >= minMc);
      }
    }
    if (atv) {
      const av = atv.values;
      for (let s = 0; s < S; s++) {
        mask[s] = mask[s] & +(av[atvBase + s] >= minAtv);
      }
    }
    const keys = this.keys;
    const idx = this.pickIdx;
    let n = 0;
    let threshold = -Infinity;
    for (let s = 0; s < S; s++) {
      // Excluded stocks get -Infinity (a NaN value stays NaN), so one comparison against the
      // current K-th best rejects almost every stock once K are found.
      const key = rv[rb + s] * sign + PENALTY[mask[s]];
      if (!(key > threshold)) {
        continue;
      }
      let j = n < K ? n++ : K - 1;
      while (j > 0 && keys[j - 1] < key) {
        keys[j] = keys[j - 1];
        idx[j] = idx[j - 1];
        j--;
      }
      keys[j] = key;
      idx[j] = s;
      if (n === K) {
        threshold = keys[K - 1];
      }
    }
    for (let j = 0; j < n; j++) {
      this.pickScore[j] = keys[j] * sign;
    }
    return n;
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

function universeMask(def: StrategyDefinition, data: MarketData): Uint8Array {
  const S = data.codes.length;
  const mask = new Uint8Array(S);
  const u = def.universe;
  const markets = new Set<string>(u.markets ?? []);
  const sectors = new Set(u.sectors ?? []);
  const codes = new Set(u.codes ?? []);
  for (let s = 0; s < S; s++) {
    const info = data.stocks[s];
    switch (u.scope) {
      case 'all':
        mask[s] = 1;
        break;
      case 'markets':
        mask[s] = info && markets.has(info.market) ? 1 : 0;
        break;
      case 'sectors':
        mask[s] = info && sectors.has(info.sector) ? 1 : 0;
        break;
      case 'codes':
        mask[s] = codes.has(data.codes[s]) ? 1 : 0;
        break;
    }
  }
  return mask;
}

export interface Pick {
  rank: number;
  code: string;
  stockIndex: number;
  /** The ranking factor's value. */
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
 * as a backtest's rebalance (CompiledStrategy.select), so live picks match the backtest.
 */
export function selectPicks(def: StrategyDefinition, data: MarketData, dayIndex: number): Selection {
  if (!Number.isInteger(dayIndex) || dayIndex < 0 || dayIndex >= data.dates.length) {
    throw new RangeError(`dayIndex ${dayIndex} is outside the data (0..${data.dates.length - 1})`);
  }
  const days = Int32Array.of(dayIndex);
  const cs = new CompiledStrategy(def, data, days, new Int32Array(0));
  const n = cs.select(dayIndex);
  const w = cs.weight(n);
  const picks: Pick[] = [];
  for (let j = 0; j < n; j++) {
    const s = cs.pickIdx[j];
    picks.push({ rank: j + 1, code: data.codes[s], stockIndex: s, score: cs.pickScore[j], weight: w });
  }
  return { date: data.dates[dayIndex], dayIndex, picks };
}
