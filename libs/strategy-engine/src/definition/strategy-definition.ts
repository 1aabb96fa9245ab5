import type { FactorId } from '../factors/catalog.js';
import type { Market } from '../data/market-data.js';

/** Schema version of the stored JSON; bump and migrate when the shape changes. */
export const STRATEGY_SCHEMA_VERSION = 1 as const;

export type ComparisonOperator = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** `factor op value`, e.g. `{ factor: 'per', op: '<', value: 10 }`. */
export interface ValueComparison {
  factor: FactorId;
  op: ComparisonOperator;
  value: number;
}

/** `factor op otherFactor`, e.g. `sma_ratio_5 > sma_ratio_20`. */
export interface FactorComparison {
  factor: FactorId;
  op: ComparisonOperator;
  otherFactor: FactorId;
}

/** `min <= factor <= max` (both ends inclusive). */
export interface BetweenComparison {
  factor: FactorId;
  op: 'between';
  min: number;
  max: number;
}

export type Comparison = ValueComparison | FactorComparison | BetweenComparison;

export interface AndGroup {
  and: ConditionNode[];
}
export interface OrGroup {
  or: ConditionNode[];
}

/**
 * A condition tree. A comparison whose factor value is missing (NaN) is false, for every
 * operator including `!=`, so a stock without data never passes a filter by accident.
 */
export type ConditionNode = Comparison | AndGroup | OrGroup;

export type UniverseScope = 'all' | 'markets' | 'sectors' | 'codes';

export interface UniverseDefinition {
  scope: UniverseScope;
  /** Required (non-empty) when scope is 'markets'. */
  markets?: Market[];
  /** Required (non-empty) when scope is 'sectors'. */
  sectors?: string[];
  /** Required (non-empty) when scope is 'codes'. */
  codes?: string[];
  /** KRW; the day's market cap must be >= this. */
  minMarketCap?: number;
  /** KRW; the 20-day average trading value must be >= this. */
  minAvgTradingValue?: number;
}

/** Rank by one factor. */
export interface FactorRanking {
  factor: FactorId;
  /** 'desc': highest value first (momentum); 'asc': lowest first (PER). */
  order: 'asc' | 'desc';
}

/** One factor of a composite score, e.g. `{ factor: 'per', order: 'asc', weight: 2 }`. */
export interface ScoreTerm {
  factor: FactorId;
  /** Which end of the factor scores best: 'desc' the highest value, 'asc' the lowest. */
  order: 'asc' | 'desc';
  /** Relative weight, > 0: a term's share of the score is weight / sum of the weights. */
  weight: number;
}

/**
 * Rank by a composite score (multi-factor scoring): on each day, every stock of the strategy's
 * universe that day (scope, a bar that day, the market cap and trading value minimums; not the
 * buy conditions) gets per factor its percentile rank among the universe's stocks with a value:
 * the average rank (1 = worst, ties share the mean of their ranks) / their number, in (0, 1];
 * a stock without a value (NaN) gets 0 for that factor. Score = 100 x sum(weight x percentile) /
 * sum(weight), in 0..100, highest first; a stock without a value for any of the factors has no
 * score and is never picked. Buy conditions then only remove stocks: they never reorder the rest.
 */
export interface ScoreRanking {
  score: ScoreTerm[];
}

export type RankingDefinition = FactorRanking | ScoreRanking;

export function isScoreRanking(ranking: RankingDefinition): ranking is ScoreRanking {
  return 'score' in ranking;
}

export interface WeightingDefinition {
  method: 'equal';
  /** Fraction of portfolio value, 0 < x <= 1. */
  maxWeightPerStock?: number;
  /** KRW cap on one buy. */
  maxValuePerStock?: number;
}

export type RebalanceFrequency = 'daily' | 'weekly' | 'monthly' | 'quarterly';

export interface SellRules {
  /** Percent above the entry price, e.g. 20 = +20 %. */
  takeProfitPct?: number;
  /** Percent below the entry price, e.g. 10 = -10 %. */
  stopLossPct?: number;
  /** Trading days; blocks rebalance and condition sells before it (not stops or targets). */
  minHoldingDays?: number;
  /** Trading days; the position is sold at the open of the day it reaches this age. */
  maxHoldingDays?: number;
  /** Sell a holding when this is true on a day's close (evaluated every day). */
  conditions?: ConditionNode;
}

export interface CostDefinition {
  /** Basis points of the traded amount, both sides. */
  commissionBps: number;
  /**
   * Deprecated and ignored: sells pay the KRX tax of their date and market (market-rules/tax.ts),
   * which is the law's, not a strategy's choice. Still accepted (0..10,000) so that definitions
   * saved before the tax table keep parsing, and kept in the parsed value as given.
   */
  sellTaxBps?: number;
  /** Basis points against the trader on every fill: buys at price x (1+s), sells at price x (1-s), then on the tick grid. */
  slippageBps: number;
  /**
   * Optional, off when absent: each buy order's value at its limit is at most this share
   * (0 < x <= 1) of the stock's trading value (KRW) on the signal day; a stock without trading
   * value that day is not bought.
   */
  maxTradingValueShare?: number;
  /**
   * Percent (0..100, default 0) taken off a delisted holding's last price when the backtest
   * closes it on the delisting date recorded in the data: it is sold at last price x (1 - h / 100),
   * commission and sell tax as on any sell. Default 0: a KRX stock's last traded price is that
   * of its liquidation trading (정리매매), which already prices the delisting in.
   */
  delistingHaircutPct?: number;
}

export interface StrategyDefinition {
  schemaVersion: typeof STRATEGY_SCHEMA_VERSION;
  universe: UniverseDefinition;
  buyConditions?: ConditionNode;
  ranking: RankingDefinition;
  maxPositions: number;
  weighting: WeightingDefinition;
  rebalance: RebalanceFrequency;
  sell?: SellRules;
  costs: CostDefinition;
  /** KRW. */
  initialCapital: number;
  /** Benchmark identifier (e.g. 'KOSPI'); the caller supplies its series to runBacktest. */
  benchmark?: string;
}

export const DEFINITION_LIMITS = {
  maxConditionDepth: 8,
  maxConditionNodes: 200,
  maxPositions: 100,
  maxBps: 10_000,
  maxListLength: 5_000,
  maxStringLength: 100,
  maxHoldingDays: 10_000,
  maxCapital: 1e15,
  /** Factors in a composite score. */
  maxScoreTerms: 20,
  maxScoreWeight: 1_000_000,
} as const;
