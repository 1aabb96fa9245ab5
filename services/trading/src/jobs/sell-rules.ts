import {
  computeFactor,
  lowerBoundDate,
  rebalanceDays,
  type ConditionNode,
  type FactorId,
  type FactorMatrix,
  type MarketData,
  type RebalanceFrequency,
  type StrategyDefinition,
} from '@stocklab/strategy-engine';

export type SellReason = 'stop_loss' | 'take_profit' | 'max_holding' | 'sell_condition' | 'liquidation';

/**
 * True when the signal day (the last trading day before the trading date) is a rebalance day of
 * `freq`: the engine selects on the first trading day of each week / month / quarter and buys at
 * the next open, so live picks are made on the same days as the backtest's.
 */
export function isRebalanceSignalDay(data: MarketData, freq: RebalanceFrequency, signalIndex: number): boolean {
  if (freq === 'daily' || signalIndex === 0) {
    return true;
  }
  const days = rebalanceDays(data, freq, signalIndex - 1, signalIndex);
  return Array.from(days).includes(signalIndex);
}

/** Evaluates condition trees for single stocks on one day (a NaN operand fails every comparison). */
export class ConditionEvaluator {
  private readonly matrices = new Map<FactorId, FactorMatrix>();

  constructor(
    private readonly data: MarketData,
    private readonly day: number,
  ) {}

  private value(id: FactorId, stock: number): number {
    let matrix = this.matrices.get(id);
    if (!matrix) {
      matrix = computeFactor(this.data, id, [this.day]);
      this.matrices.set(id, matrix);
    }
    const row = matrix.rowOf[this.day] ?? -1;
    return row < 0 ? Number.NaN : (matrix.values[row * matrix.stocks + stock] ?? Number.NaN);
  }

  holds(node: ConditionNode, stock: number): boolean {
    if ('and' in node) {
      return node.and.every((c) => this.holds(c, stock));
    }
    if ('or' in node) {
      return node.or.some((c) => this.holds(c, stock));
    }
    const x = this.value(node.factor, stock);
    if (node.op === 'between') {
      return x >= node.min && x <= node.max;
    }
    const y = 'otherFactor' in node ? this.value(node.otherFactor, stock) : node.value;
    switch (node.op) {
      case '<':
        return x < y;
      case '<=':
        return x <= y;
      case '>':
        return x > y;
      case '>=':
        return x >= y;
      case '==':
        return x === y;
      case '!=':
        return !Number.isNaN(x) && !Number.isNaN(y) && x !== y;
    }
  }
}

export interface HeldPosition {
  code: string;
  entryPrice: number;
  /** yyyymmdd */
  entryDate: number;
}

/**
 * Why a holding is sold at the open of trading date `today` (yyyymmdd), following the engine:
 * stop loss and take profit against the entry price (checked on the day's open when the
 * platform has it, else the latest close), then max holding days, then the sell conditions on the
 * signal day's close; min holding days block only the condition sells (stops and targets are risk
 * limits). Ages are in trading days of the market data from the buy fill.
 */
export function sellReason(
  def: StrategyDefinition,
  data: MarketData,
  position: HeldPosition,
  today: number,
  evaluator: ConditionEvaluator | undefined,
): SellReason | undefined {
  const s = data.codes.indexOf(position.code);
  const sell = def.sell ?? {};
  const t = lowerBoundDate(data.dates, today);
  const age = t - lowerBoundDate(data.dates, position.entryDate);
  const S = data.codes.length;
  let price = Number.NaN;
  if (s >= 0) {
    if (t < data.dates.length && data.dates[t] === today && (data.open[t * S + s] ?? 0) > 0) {
      price = data.open[t * S + s];
    } else {
      for (let d = Math.min(t, data.dates.length) - 1; d >= 0; d--) {
        const c = data.close[d * S + s];
        if (c > 0) {
          price = c;
          break;
        }
      }
    }
  }
  if (sell.stopLossPct !== undefined && price <= position.entryPrice * (1 - sell.stopLossPct / 100)) {
    return 'stop_loss';
  }
  if (sell.takeProfitPct !== undefined && price >= position.entryPrice * (1 + sell.takeProfitPct / 100)) {
    return 'take_profit';
  }
  if (sell.maxHoldingDays !== undefined && age >= sell.maxHoldingDays) {
    return 'max_holding';
  }
  if (
    sell.conditions &&
    evaluator &&
    s >= 0 &&
    age >= (sell.minHoldingDays ?? 0) &&
    evaluator.holds(sell.conditions, s)
  ) {
    return 'sell_condition';
  }
  return undefined;
}
