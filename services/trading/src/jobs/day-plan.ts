import { dayIndexOf, type MarketSnapshot } from '@stocklab/market-data';
import {
  FactorCache,
  isRebalanceDay,
  parseStrategyDefinition,
  StrategyDecider,
  type Holding,
  type PortfolioState,
  type StrategyDefinition,
  type WantedPick,
} from '@stocklab/strategy-engine';
import { clientOrderId } from '../broker/client-order-id.js';
import { isoOf } from '../market/market-data.service.js';
import { forChunks, insertLogs, type LogRow, type Sql } from './batch-writes.js';
import {
  loadPlanChunk,
  lockPlanStrategies,
  openIntentCounts,
  type PlanState,
  type PositionRow,
  type StrategyRow,
} from './plan-state.js';

/** The run a plan is made for. */
export interface PlanRun {
  runKey: string;
  tradingDate: string;
  /** the fencing epoch the intents are written under */
  epoch: number;
}

interface IntentInsert {
  clientOrderId: string;
  seq: number;
  strategyId: string;
  accountId: string;
  code: string;
  side: 'buy' | 'sell';
  kind: string;
  orderType: 'market' | 'stop' | 'limit';
  quantity: number;
  level: number | null;
  reason: string;
  referencePrice: number | null;
  brokerAccountId: string | null;
}

/** Strategies decided and written at a time: what the plan holds in memory is bounded by it. */
export const PLAN_CHUNK = 1_000;

/** Everything a chunk of the day's plan writes, in the order its strategies were decided. */
export interface DayPlan {
  logs: LogRow[];
  performance: Array<{ strategyId: string; value: number; cash: number }>;
  intents: IntentInsert[];
  pendingSells: Array<{ strategyId: string; code: string; reason: string }>;
  decisions: Array<{ strategyId: string; wanted: string }>;
  /** strategies that decided (not skipped) */
  decided: number;
  signalDate: string;
}

/** What every strategy of the day shares: the market, the day's factors, and the intents' numbering. */
export interface DayContext {
  snapshot: MarketSnapshot;
  t: number;
  run: PlanRun;
  signalDate: string;
  stockOf: Map<string, number>;
  factors: FactorCache;
  /** the seq of the last intent numbered so far (in decision order across strategies) */
  seq: number;
}

export function dayContext(snapshot: MarketSnapshot, t: number, run: PlanRun): DayContext {
  const { data } = snapshot;
  return {
    snapshot,
    t,
    run,
    signalDate: isoOf(data.dates[t]),
    stockOf: new Map(data.codes.map((code, i) => [code, i])),
    // one cache for the whole day: each factor is computed once for every strategy
    factors: new FactorCache(data),
    seq: 0,
  };
}

/**
 * Decides a chunk of the plan's strategies on the signal day, in id order, and collects the
 * rows to write. The rules are those of deciding one strategy at a time, each reading its own
 * state: an invalid rule set, a decision already made on this close, or an earlier order still
 * open skips the strategy (and says so); a position without market data is left out of the
 * decision; the intents are numbered in decision order across strategies (seq, continued from
 * chunk to chunk) and carry deterministic client order ids.
 */
export function decideChunk(day: DayContext, state: PlanState): DayPlan {
  const plan: DayPlan = {
    logs: [],
    performance: [],
    intents: [],
    pendingSells: [],
    decisions: [],
    decided: 0,
    signalDate: day.signalDate,
  };
  for (const s of state.strategies) {
    const parsed = parseStrategyDefinition(s.rules);
    if (!parsed.ok) {
      plan.logs.push({ strategyId: s.id, level: 'error', message: 'execute skipped: stored rules are invalid' });
      continue;
    }
    if (s.last_signal_date !== null && s.last_signal_date >= day.signalDate) {
      plan.logs.push({ strategyId: s.id, level: 'info', message: `already decided on ${s.last_signal_date}'s close` });
      continue;
    }
    const open = state.openIntents.get(s.id);
    if (open !== undefined && Number(open) > 0) {
      // deciding on a state the broker has not finished changing would double a buy or a sell
      plan.logs.push({
        strategyId: s.id,
        level: 'warn',
        message: `not deciding: ${open} earlier order(s) still open at the broker`,
      });
      continue;
    }
    decideStrategy(plan, s, parsed.value, state.positions.get(s.id) ?? [], day);
    plan.decided += 1;
  }
  return plan;
}

/** One strategy's decision, as rows of the plan. */
function decideStrategy(
  plan: DayPlan,
  s: StrategyRow,
  def: StrategyDefinition,
  positions: readonly PositionRow[],
  day: DayContext,
): void {
  const { snapshot, t, run, stockOf, factors } = day;
  const { data } = snapshot;
  const { signalDate } = plan;
  const holdings: Holding[] = [];
  for (const p of positions) {
    const stock = stockOf.get(p.code);
    if (stock === undefined) {
      plan.logs.push({
        strategyId: s.id,
        level: 'error',
        message: `position ${p.code} has no market data: not decided on`,
      });
      continue;
    }
    holdings.push({
      stock,
      quantity: Number(p.quantity),
      // negative for a buy before the loaded window: its holding age is counted as on the whole history
      entryDay: dayIndexOf(snapshot, Number(p.entry_date)),
      entryPrice: Number(p.entry_price),
      entryCost: Number(p.cost),
      pendingSell: p.pending_sell,
    });
  }
  const wanted: WantedPick[] = s.wanted.flatMap((w) => {
    const stock = stockOf.get(w.code);
    return stock === undefined ? [] : [{ stock, rank: w.rank, target: w.target }];
  });
  const state: PortfolioState = { cash: Number(s.cash), holdings, wanted };
  const decider = new StrategyDecider(def, data, [t], def.sell?.conditions ? [t] : [], factors);
  const rebalance = s.status === 'active' && isRebalanceDay(data, def.rebalance, t, s.last_signal_date === null);
  const decision = decider.decide(t, state, {
    rebalance,
    liquidate: s.status === 'liquidating',
    pendingOnly: s.status === 'inactive',
    // the session the orders are for: its tick table and price limits price them (KRX market rules)
    sessionDate: Number(run.tradingDate.replaceAll('-', '')),
  });

  // the value the decision saw, dated by the close it values (an inactive strategy's series ended)
  const value = Math.round(decider.equity(state, t));
  if (s.status !== 'inactive') {
    plan.performance.push({ strategyId: s.id, value, cash: state.cash });
  }
  for (const order of decision.orders) {
    const code = data.codes[order.stock];
    day.seq += 1;
    plan.intents.push({
      clientOrderId: clientOrderId(run.runKey, s.id, code, order.side),
      seq: day.seq,
      strategyId: s.id,
      accountId: s.account_id,
      code,
      side: order.side,
      kind: order.kind,
      orderType: order.kind === 'market_sell' ? 'market' : order.kind === 'stop_sell' ? 'stop' : 'limit',
      quantity: order.quantity,
      level: Number.isNaN(order.level) ? null : order.level,
      reason: order.reason,
      // the signal close: the day's price band is around it
      referencePrice: data.close[t * data.codes.length + order.stock] || null,
      brokerAccountId: s.broker_account_id,
    });
    if (order.kind === 'market_sell') {
      plan.pendingSells.push({ strategyId: s.id, code, reason: order.reason });
    }
  }
  plan.decisions.push({
    strategyId: s.id,
    wanted: JSON.stringify(decision.wanted.map((w) => ({ code: data.codes[w.stock], rank: w.rank, target: w.target }))),
  });
  const count = (kind: string): number => decision.orders.filter((o) => o.kind === kind).length;
  plan.logs.push({
    strategyId: s.id,
    level: 'info',
    message:
      `decided on ${signalDate}'s close${decision.rebalanced ? ' (rebalance)' : ''}: ${count('market_sell')} sell(s) at the open, ` +
      `${count('limit_buy')} limit buy(s), ${count('stop_sell') + count('target_sell')} resting sell(s)`,
    details: {
      value,
      cash: state.cash,
      orders: decision.orders.map((o) => ({
        code: data.codes[o.stock],
        kind: o.kind,
        quantity: o.quantity,
        level: Number.isNaN(o.level) ? null : o.level,
        reason: o.reason,
      })),
      wanted: decision.wanted.map((w) => data.codes[w.stock]),
    },
  });
}

/**
 * Writes a decided plan with a few multi-row statements in the caller's (fenced) transaction:
 * the day's performance rows, the intents in seq order, the positions now being sold at the
 * open, each decided strategy's wanted picks and signal day, then the log lines in their order.
 */
export async function writeDayPlan(m: Sql, run: PlanRun, plan: DayPlan): Promise<void> {
  await forChunks(
    m,
    plan.performance,
    [(p) => p.strategyId, (p) => p.value, (p) => p.cash],
    `INSERT INTO trading.daily_performance (auto_strategy_id, date, value, cash, invested, run_key)
     SELECT p.id, $4::date, p.value, p.cash, p.value - p.cash, $5::text
       FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS p(id, value, cash)
     ON CONFLICT (auto_strategy_id, date) DO UPDATE
       SET value = EXCLUDED.value, cash = EXCLUDED.cash, invested = EXCLUDED.invested, run_key = EXCLUDED.run_key`,
    [plan.signalDate, run.runKey],
  );
  await forChunks(
    m,
    plan.intents,
    [
      (i) => i.clientOrderId,
      (i) => i.seq,
      (i) => i.strategyId,
      (i) => i.accountId,
      (i) => i.code,
      (i) => i.side,
      (i) => i.kind,
      (i) => i.orderType,
      (i) => i.quantity,
      (i) => i.level,
      (i) => i.reason,
      (i) => i.referencePrice,
      (i) => i.brokerAccountId,
    ],
    `INSERT INTO trading.order_intents (client_order_id, run_key, seq, auto_strategy_id, account_id, trading_date,
       code, side, kind, order_type, quantity, level, reason, status, epoch, reference_price, broker_account_id)
     SELECT i.client_order_id, $14::text, i.seq, i.strategy_id, i.account_id, $15::date, i.code, i.side, i.kind,
            i.order_type, i.quantity, i.level, i.reason, 'pending', $16::bigint, i.reference_price, i.broker_account_id
       FROM unnest($1::text[], $2::int[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[],
                   $9::bigint[], $10::numeric[], $11::text[], $12::numeric[], $13::uuid[])
         AS i(client_order_id, seq, strategy_id, account_id, code, side, kind, order_type, quantity, level, reason,
              reference_price, broker_account_id)
      ORDER BY i.seq`,
    [run.runKey, run.tradingDate, run.epoch],
  );
  await forChunks(
    m,
    plan.pendingSells,
    [(p) => p.strategyId, (p) => p.code, (p) => p.reason],
    `UPDATE trading.positions p SET pending_sell = u.reason
       FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, code, reason)
      WHERE p.auto_strategy_id = u.id AND p.code = u.code`,
  );
  await forChunks(
    m,
    plan.decisions,
    [(d) => d.strategyId, (d) => d.wanted],
    `UPDATE trading.auto_strategies s SET wanted = u.wanted::jsonb, last_signal_date = $3::date, updated_at = now()
       FROM unnest($1::uuid[], $2::text[]) AS u(id, wanted)
      WHERE s.id = u.id`,
    [plan.signalDate],
  );
  await insertLogs(m, run.runKey, plan.logs);
}

/**
 * The day's plan in the caller's fenced transaction: the strategies locked, then decided and
 * written a chunk at a time (their state read set-based, every factor of the day computed once,
 * the rows written multi-row); strategies deactivated after the day's select log that their
 * picks are not bought. Returns what the run reports.
 */
export async function planDay(
  m: Sql,
  run: PlanRun,
  snapshot: MarketSnapshot,
  t: number,
  chunk = PLAN_CHUNK,
): Promise<{ intents: number; strategies: number; decided: number; signalDate: string }> {
  const ids = await lockPlanStrategies(m);
  const open = await openIntentCounts(m);
  const day = dayContext(snapshot, t, run);
  let decided = 0;
  for (let i = 0; i < ids.length; i += chunk) {
    const plan = decideChunk(day, await loadPlanChunk(m, ids.slice(i, i + chunk), open));
    await writeDayPlan(m, run, plan);
    decided += plan.decided;
  }
  // deactivated after the day's select: its picks are not bought, and its log says so
  const idle: Array<{ id: string; picks: string }> = await m.query(
    `SELECT s.id, count(*) AS picks FROM trading.auto_strategies s
       JOIN trading.picks p ON p.auto_strategy_id = s.id AND p.trading_date = $1
      WHERE s.status = 'inactive' GROUP BY s.id ORDER BY s.id`,
    [run.tradingDate],
  );
  await insertLogs(
    m,
    run.runKey,
    idle.map((s) => ({
      strategyId: s.id,
      level: 'info' as const,
      message: `execute skipped: the strategy is inactive, ${s.picks} pick(s) of ${run.tradingDate} not bought`,
    })),
  );
  return { intents: day.seq, strategies: ids.length, decided, signalDate: day.signalDate };
}
