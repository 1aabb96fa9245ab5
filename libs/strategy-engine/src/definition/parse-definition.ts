import { FACTOR_IDS, isFactorId } from '../factors/catalog.js';
import { MARKETS } from '../data/market-data.js';
import {
  DEFINITION_LIMITS as L,
  STRATEGY_SCHEMA_VERSION,
  type ConditionNode,
  type ScoreRanking,
  type ScoreTerm,
  type StrategyDefinition,
} from './strategy-definition.js';

export interface DefinitionError {
  /** Where the problem is, e.g. `buyConditions.and[2].factor`; '' for the root. */
  path: string;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: DefinitionError[] };

type Obj = Record<string, unknown>;

const OPERATORS = ['<', '<=', '>', '>=', '==', '!=', 'between'] as const;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') {
    return `${path}[${key}]`;
  }
  return path === '' ? key : `${path}.${key}`;
}

class Checker {
  readonly errors: DefinitionError[] = [];

  fail(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }

  /** Rejects keys that are not in `allowed` (strict: a typo must not silently do nothing). */
  keys(o: Obj, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        this.fail(join(path, k), `unknown key '${k}' (allowed: ${allowed.join(', ')})`);
      }
    }
  }

  obj(v: unknown, path: string): Obj | undefined {
    return isObj(v) ? v : this.fail(path, 'must be an object');
  }

  num(
    v: unknown,
    path: string,
    min: number,
    max: number,
    opts: { int?: boolean; exclusiveMin?: boolean } = {},
  ): number | undefined {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      return this.fail(path, 'must be a finite number');
    }
    if (opts.int && !Number.isInteger(v)) {
      return this.fail(path, 'must be an integer');
    }
    if (opts.exclusiveMin ? v <= min : v < min) {
      return this.fail(path, `must be ${opts.exclusiveMin ? '>' : '>='} ${min}`);
    }
    if (v > max) {
      return this.fail(path, `must be <= ${max}`);
    }
    return v;
  }

  optNum(
    o: Obj,
    key: string,
    path: string,
    min: number,
    max: number,
    opts: { int?: boolean; exclusiveMin?: boolean } = {},
  ): number | undefined {
    return o[key] === undefined ? undefined : this.num(o[key], join(path, key), min, max, opts);
  }

  oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T | undefined {
    return typeof v === 'string' && (values as readonly string[]).includes(v)
      ? (v as T)
      : this.fail(path, `must be one of ${values.join(', ')}`);
  }

  factor(v: unknown, path: string): (typeof FACTOR_IDS)[number] | undefined {
    if (isFactorId(v)) {
      return v;
    }
    return this.fail(
      path,
      typeof v === 'string' ? `unknown factor '${v.slice(0, L.maxStringLength)}'` : 'must be a factor id',
    );
  }

  strList(v: unknown, path: string): string[] | undefined {
    if (!Array.isArray(v) || v.length === 0) {
      return this.fail(path, 'must be a non-empty array');
    }
    if (v.length > L.maxListLength) {
      return this.fail(path, `must have at most ${L.maxListLength} entries`);
    }
    const out: string[] = [];
    v.forEach((item: unknown, i) => {
      if (typeof item !== 'string' || item.length === 0 || item.length > L.maxStringLength) {
        this.fail(join(path, i), `must be a string of 1..${L.maxStringLength} characters`);
      } else {
        out.push(item);
      }
    });
    return out;
  }
}

/**
 * Measures a condition tree without recursion and stops as soon as a limit is exceeded, so a
 * hostile 5,000-level (or 1,000,000-node) input costs at most `maxNodes` steps and cannot
 * overflow the stack. Only structure (`and`/`or` arrays) is followed here.
 */
function checkConditionShape(root: unknown, path: string, c: Checker): boolean {
  const stack: { node: unknown; depth: number; path: string }[] = [{ node: root, depth: 1, path }];
  let count = 0;
  while (stack.length > 0) {
    const { node, depth, path: p } = stack.pop() as { node: unknown; depth: number; path: string };
    count++;
    if (count > L.maxConditionNodes) {
      c.fail(path, `condition tree has more than ${L.maxConditionNodes} nodes`);
      return false;
    }
    if (depth > L.maxConditionDepth) {
      c.fail(p, `conditions are nested deeper than ${L.maxConditionDepth} levels`);
      return false;
    }
    if (!isObj(node)) {
      continue;
    }
    for (const key of ['and', 'or'] as const) {
      const children = node[key];
      if (Array.isArray(children)) {
        if (children.length > L.maxConditionNodes) {
          c.fail(join(p, key), `condition tree has more than ${L.maxConditionNodes} nodes`);
          return false;
        }
        for (let i = children.length - 1; i >= 0; i--) {
          stack.push({ node: children[i], depth: depth + 1, path: join(join(p, key), i) });
        }
      }
    }
  }
  return true;
}

/** Recursive validation; only called after checkConditionShape bounded depth and size. */
function parseCondition(v: unknown, path: string, c: Checker): ConditionNode | undefined {
  const o = c.obj(v, path);
  if (!o) {
    return undefined;
  }
  for (const key of ['and', 'or'] as const) {
    if (key in o) {
      c.keys(o, path, [key]);
      const children = o[key];
      if (!Array.isArray(children) || children.length === 0) {
        return c.fail(join(path, key), 'must be a non-empty array of conditions');
      }
      const parsed: ConditionNode[] = [];
      children.forEach((child: unknown, i) => {
        const node = parseCondition(child, join(join(path, key), i), c);
        if (node) {
          parsed.push(node);
        }
      });
      if (parsed.length !== children.length) {
        return undefined;
      }
      return key === 'and' ? { and: parsed } : { or: parsed };
    }
  }
  const factor = c.factor(o.factor, join(path, 'factor'));
  const op = c.oneOf(o.op, join(path, 'op'), OPERATORS);
  if (op === 'between') {
    c.keys(o, path, ['factor', 'op', 'min', 'max']);
    const min = c.num(o.min, join(path, 'min'), -Number.MAX_VALUE, Number.MAX_VALUE);
    const max = c.num(o.max, join(path, 'max'), -Number.MAX_VALUE, Number.MAX_VALUE);
    if (min !== undefined && max !== undefined && min > max) {
      return c.fail(join(path, 'max'), 'must be >= min');
    }
    return factor && min !== undefined && max !== undefined ? { factor, op, min, max } : undefined;
  }
  c.keys(o, path, ['factor', 'op', 'value', 'otherFactor']);
  if ((o.value === undefined) === (o.otherFactor === undefined)) {
    return c.fail(path, "needs exactly one of 'value' or 'otherFactor' (or op 'between' with min and max)");
  }
  if (o.value !== undefined) {
    const value = c.num(o.value, join(path, 'value'), -Number.MAX_VALUE, Number.MAX_VALUE);
    return factor && op && value !== undefined ? { factor, op, value } : undefined;
  }
  const otherFactor = c.factor(o.otherFactor, join(path, 'otherFactor'));
  return factor && op && otherFactor ? { factor, op, otherFactor } : undefined;
}

function conditionField(o: Obj, key: string, path: string, c: Checker): ConditionNode | undefined {
  if (o[key] === undefined) {
    return undefined;
  }
  const p = join(path, key);
  return checkConditionShape(o[key], p, c) ? parseCondition(o[key], p, c) : undefined;
}

/** A composite score's terms: 1..maxScoreTerms of { factor, order, weight }, each factor once. */
function parseScore(v: unknown, path: string, c: Checker): ScoreRanking | undefined {
  if (!Array.isArray(v) || v.length === 0) {
    return c.fail(path, 'must be a non-empty array of { factor, order, weight }');
  }
  if (v.length > L.maxScoreTerms) {
    return c.fail(path, `must have at most ${L.maxScoreTerms} factors`);
  }
  const terms: ScoreTerm[] = [];
  const seen = new Set<string>();
  v.forEach((item: unknown, i) => {
    const p = join(path, i);
    const o = c.obj(item, p);
    if (!o) {
      return;
    }
    c.keys(o, p, ['factor', 'order', 'weight']);
    const factor = c.factor(o.factor, join(p, 'factor'));
    const order = c.oneOf(o.order, join(p, 'order'), ['asc', 'desc'] as const);
    const weight = c.num(o.weight, join(p, 'weight'), 0, L.maxScoreWeight, { exclusiveMin: true });
    if (factor && seen.has(factor)) {
      c.fail(join(p, 'factor'), `factor '${factor}' is already in the score`);
      return;
    }
    if (factor) {
      seen.add(factor);
    }
    if (factor && order && weight !== undefined) {
      terms.push({ factor, order, weight });
    }
  });
  return terms.length === v.length ? { score: terms } : undefined;
}

/**
 * Validates untrusted JSON into a StrategyDefinition. Strict: unknown keys, unknown factor ids,
 * out-of-range numbers and over-deep condition trees are errors, each with its path. Never
 * throws and never recurses deeper than the depth limit.
 */
export function parseStrategyDefinition(input: unknown): ParseResult<StrategyDefinition> {
  const c = new Checker();
  const root = c.obj(input, '');
  if (!root) {
    return { ok: false, errors: c.errors };
  }
  c.keys(root, '', [
    'schemaVersion',
    'universe',
    'buyConditions',
    'ranking',
    'maxPositions',
    'weighting',
    'rebalance',
    'sell',
    'costs',
    'initialCapital',
    'benchmark',
  ]);
  if (root.schemaVersion !== STRATEGY_SCHEMA_VERSION) {
    c.fail('schemaVersion', `must be ${STRATEGY_SCHEMA_VERSION}`);
  }

  // universe
  let universe: StrategyDefinition['universe'] | undefined;
  const u = c.obj(root.universe, 'universe');
  if (u) {
    c.keys(u, 'universe', ['scope', 'markets', 'sectors', 'codes', 'minMarketCap', 'minAvgTradingValue']);
    const scope = c.oneOf(u.scope, 'universe.scope', ['all', 'markets', 'sectors', 'codes'] as const);
    const lists = { markets: 'markets', sectors: 'sectors', codes: 'codes' } as const;
    universe = { scope: scope ?? 'all' };
    for (const key of Object.values(lists)) {
      if (u[key] !== undefined && scope !== key) {
        c.fail(join('universe', key), `only allowed when scope is '${key}'`);
      } else if (scope === key) {
        const list = c.strList(u[key], join('universe', key));
        if (list && key === 'markets') {
          list.forEach((m, i) => c.oneOf(m, join('universe.markets', i), MARKETS));
          universe.markets = list as StrategyDefinition['universe']['markets'];
        } else if (list && key === 'sectors') {
          universe.sectors = list;
        } else if (list) {
          universe.codes = list;
        }
      }
    }
    const minMarketCap = c.optNum(u, 'minMarketCap', 'universe', 0, L.maxCapital * 1000);
    const minAvgTradingValue = c.optNum(u, 'minAvgTradingValue', 'universe', 0, L.maxCapital * 1000);
    if (minMarketCap !== undefined) {
      universe.minMarketCap = minMarketCap;
    }
    if (minAvgTradingValue !== undefined) {
      universe.minAvgTradingValue = minAvgTradingValue;
    }
  }

  const buyConditions = conditionField(root, 'buyConditions', '', c);

  // ranking
  let ranking: StrategyDefinition['ranking'] | undefined;
  const r = c.obj(root.ranking, 'ranking');
  if (r && 'score' in r) {
    c.keys(r, 'ranking', ['score']);
    ranking = parseScore(r.score, 'ranking.score', c);
  } else if (r) {
    c.keys(r, 'ranking', ['factor', 'order']);
    const factor = c.factor(r.factor, 'ranking.factor');
    const order = c.oneOf(r.order, 'ranking.order', ['asc', 'desc'] as const);
    ranking = factor && order ? { factor, order } : undefined;
  }

  const maxPositions = c.num(root.maxPositions, 'maxPositions', 1, L.maxPositions, { int: true });

  let weighting: StrategyDefinition['weighting'] | undefined;
  const w = c.obj(root.weighting, 'weighting');
  if (w) {
    c.keys(w, 'weighting', ['method', 'maxWeightPerStock', 'maxValuePerStock']);
    const method = c.oneOf(w.method, 'weighting.method', ['equal'] as const);
    const maxWeightPerStock = c.optNum(w, 'maxWeightPerStock', 'weighting', 0, 1, { exclusiveMin: true });
    const maxValuePerStock = c.optNum(w, 'maxValuePerStock', 'weighting', 0, L.maxCapital, { exclusiveMin: true });
    if (method) {
      weighting = { method };
      if (maxWeightPerStock !== undefined) {
        weighting.maxWeightPerStock = maxWeightPerStock;
      }
      if (maxValuePerStock !== undefined) {
        weighting.maxValuePerStock = maxValuePerStock;
      }
    }
  }

  const rebalance = c.oneOf(root.rebalance, 'rebalance', ['daily', 'weekly', 'monthly', 'quarterly'] as const);

  let sell: StrategyDefinition['sell'] | undefined;
  if (root.sell !== undefined) {
    const s = c.obj(root.sell, 'sell');
    if (s) {
      c.keys(s, 'sell', ['takeProfitPct', 'stopLossPct', 'minHoldingDays', 'maxHoldingDays', 'conditions']);
      sell = {};
      const takeProfitPct = c.optNum(s, 'takeProfitPct', 'sell', 0, 10_000, { exclusiveMin: true });
      const stopLossPct = c.optNum(s, 'stopLossPct', 'sell', 0, 100, { exclusiveMin: true });
      const minHoldingDays = c.optNum(s, 'minHoldingDays', 'sell', 0, L.maxHoldingDays, { int: true });
      const maxHoldingDays = c.optNum(s, 'maxHoldingDays', 'sell', 1, L.maxHoldingDays, { int: true });
      if (minHoldingDays !== undefined && maxHoldingDays !== undefined && minHoldingDays > maxHoldingDays) {
        c.fail('sell.maxHoldingDays', 'must be >= sell.minHoldingDays');
      }
      const conditions = conditionField(s, 'conditions', 'sell', c);
      if (takeProfitPct !== undefined) {
        sell.takeProfitPct = takeProfitPct;
      }
      if (stopLossPct !== undefined) {
        sell.stopLossPct = stopLossPct;
      }
      if (minHoldingDays !== undefined) {
        sell.minHoldingDays = minHoldingDays;
      }
      if (maxHoldingDays !== undefined) {
        sell.maxHoldingDays = maxHoldingDays;
      }
      if (conditions) {
        sell.conditions = conditions;
      }
    }
  }

  let costs: StrategyDefinition['costs'] | undefined;
  const co = c.obj(root.costs, 'costs');
  if (co) {
    c.keys(co, 'costs', ['commissionBps', 'sellTaxBps', 'slippageBps', 'maxTradingValueShare', 'delistingHaircutPct']);
    const commissionBps = c.num(co.commissionBps, 'costs.commissionBps', 0, L.maxBps);
    const sellTaxBps = c.optNum(co, 'sellTaxBps', 'costs', 0, L.maxBps);
    const slippageBps = c.num(co.slippageBps, 'costs.slippageBps', 0, L.maxBps);
    const maxTradingValueShare = c.optNum(co, 'maxTradingValueShare', 'costs', 0, 1, { exclusiveMin: true });
    const delistingHaircutPct = c.optNum(co, 'delistingHaircutPct', 'costs', 0, 100);
    if (commissionBps !== undefined && slippageBps !== undefined) {
      costs = { commissionBps, slippageBps };
      if (sellTaxBps !== undefined) {
        costs.sellTaxBps = sellTaxBps;
      }
      if (maxTradingValueShare !== undefined) {
        costs.maxTradingValueShare = maxTradingValueShare;
      }
      if (delistingHaircutPct !== undefined) {
        costs.delistingHaircutPct = delistingHaircutPct;
      }
    }
  }

  const initialCapital = c.num(root.initialCapital, 'initialCapital', 0, L.maxCapital, { exclusiveMin: true });
  let benchmark: string | undefined;
  if (root.benchmark !== undefined) {
    if (
      typeof root.benchmark !== 'string' ||
      root.benchmark.length === 0 ||
      root.benchmark.length > L.maxStringLength
    ) {
      c.fail('benchmark', `must be a string of 1..${L.maxStringLength} characters`);
    } else {
      benchmark = root.benchmark;
    }
  }

  if (
    c.errors.length > 0 ||
    !universe ||
    !ranking ||
    maxPositions === undefined ||
    !weighting ||
    !rebalance ||
    !costs ||
    initialCapital === undefined
  ) {
    if (c.errors.length === 0) {
      c.fail('', 'invalid definition');
    }
    return { ok: false, errors: c.errors };
  }
  const value: StrategyDefinition = {
    schemaVersion: STRATEGY_SCHEMA_VERSION,
    universe,
    ranking,
    maxPositions,
    weighting,
    rebalance,
    costs,
    initialCapital,
  };
  if (buyConditions) {
    value.buyConditions = buyConditions;
  }
  if (sell) {
    value.sell = sell;
  }
  if (benchmark !== undefined) {
    value.benchmark = benchmark;
  }
  return { ok: true, value };
}
