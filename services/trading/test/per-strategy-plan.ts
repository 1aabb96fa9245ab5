import { dayIndexOf, type MarketSnapshot } from '@stocklab/market-data';
import {
  isRebalanceDay,
  parseStrategyDefinition,
  selectPicks,
  StrategyDecider,
  type Holding,
  type PortfolioState,
  type StrategyDefinition,
  type WantedPick,
} from '@stocklab/strategy-engine';
import type { EntityManager } from 'typeorm';
import { clientOrderId } from '../src/broker/client-order-id.js';
import { isoOf } from '../src/market/market-data.service.js';
import type { Sql } from '../src/jobs/batch-writes.js';
import { strategyLog } from '../src/jobs/job-context.js';
import { OPEN_INTENT_STATUSES } from '../src/jobs/order-book.js';
import type { PlanRun } from '../src/jobs/day-plan.js';
import type { PositionRow, StrategyRow } from '../src/jobs/plan-state.js';

/**
 * The daily jobs as they were before they were batched, kept as the oracle of batched-plan.spec:
 * one strategy at a time, a few queries each, every row written by its own statement, each
 * strategy compiled with its own factors. Same statements and order as the jobs had them.
 */

const log = (
  m: Sql,
  strategyId: string,
  runKey: string,
  level: 'info' | 'warn' | 'error',
  message: string,
  details?: Record<string, unknown>,
): Promise<void> => strategyLog(m as EntityManager, strategyId, runKey, level, message, details);

/** The 09:00 plan's body (inside its fenced transaction, without the planned_at bookkeeping). */
export async function planPerStrategy(
  m: Sql,
  run: PlanRun,
  snapshot: MarketSnapshot,
  signalDay: number,
): Promise<{ intents: number; strategies: number; decided: number; signalDate: string }> {
  const strategies: StrategyRow[] = await m.query(
    `SELECT id, account_id, rules, cash, status, wanted, to_char(last_signal_date, 'YYYY-MM-DD') AS last_signal_date,
            broker_account_id
       FROM trading.auto_strategies s
      WHERE status IN ('active', 'liquidating')
         OR (status = 'inactive' AND EXISTS (SELECT 1 FROM trading.positions p
                                              WHERE p.auto_strategy_id = s.id AND p.pending_sell IS NOT NULL))
      ORDER BY id FOR UPDATE`,
  );
  let seq = 0;
  let decided = 0;
  for (const s of strategies) {
    const parsed = parseStrategyDefinition(s.rules);
    if (!parsed.ok) {
      await log(m, s.id, run.runKey, 'error', 'execute skipped: stored rules are invalid');
      continue;
    }
    const intents = await planStrategy(m, run, s, parsed.value, snapshot, signalDay, seq);
    if (intents >= 0) {
      seq += intents;
      decided += 1;
    }
  }
  const idle: Array<{ id: string; picks: string }> = await m.query(
    `SELECT s.id, count(*) AS picks FROM trading.auto_strategies s
       JOIN trading.picks p ON p.auto_strategy_id = s.id AND p.trading_date = $1
      WHERE s.status = 'inactive' GROUP BY s.id ORDER BY s.id`,
    [run.tradingDate],
  );
  for (const s of idle) {
    await log(
      m,
      s.id,
      run.runKey,
      'info',
      `execute skipped: the strategy is inactive, ${s.picks} pick(s) of ${run.tradingDate} not bought`,
    );
  }
  return { intents: seq, strategies: strategies.length, decided, signalDate: isoOf(snapshot.data.dates[signalDay]) };
}

async function planStrategy(
  m: Sql,
  run: PlanRun,
  s: StrategyRow,
  def: StrategyDefinition,
  snapshot: MarketSnapshot,
  t: number,
  seqBefore: number,
): Promise<number> {
  const { data } = snapshot;
  const signalDate = isoOf(data.dates[t]);
  if (s.last_signal_date !== null && s.last_signal_date >= signalDate) {
    await log(m, s.id, run.runKey, 'info', `already decided on ${s.last_signal_date}'s close`);
    return -1;
  }
  const open: Array<{ n: string }> = await m.query(
    `SELECT count(*) AS n FROM trading.order_intents WHERE auto_strategy_id = $1 AND status IN ${OPEN_INTENT_STATUSES}`,
    [s.id],
  );
  if (Number(open[0]?.n ?? 0) > 0) {
    await log(m, s.id, run.runKey, 'warn', `not deciding: ${open[0]?.n} earlier order(s) still open at the broker`);
    return -1;
  }
  const stockOf = new Map(data.codes.map((code, i) => [code, i]));
  const positions: PositionRow[] = await m.query(
    `SELECT code, quantity, entry_price, to_char(entry_date, 'YYYYMMDD') AS entry_date, cost, pending_sell
       FROM trading.positions WHERE auto_strategy_id = $1 ORDER BY entry_date, code`,
    [s.id],
  );
  const holdings: Holding[] = [];
  for (const p of positions) {
    const stock = stockOf.get(p.code);
    if (stock === undefined) {
      await log(m, s.id, run.runKey, 'error', `position ${p.code} has no market data: not decided on`);
      continue;
    }
    holdings.push({
      stock,
      quantity: Number(p.quantity),
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
  const decider = new StrategyDecider(def, data, [t], def.sell?.conditions ? [t] : []);
  const rebalance = s.status === 'active' && isRebalanceDay(data, def.rebalance, t, s.last_signal_date === null);
  const decision = decider.decide(t, state, {
    rebalance,
    liquidate: s.status === 'liquidating',
    pendingOnly: s.status === 'inactive',
  });
  const value = Math.round(decider.equity(state, t));
  if (s.status !== 'inactive') {
    await m.query(
      `INSERT INTO trading.daily_performance (auto_strategy_id, date, value, cash, invested, run_key)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (auto_strategy_id, date) DO UPDATE
         SET value = EXCLUDED.value, cash = EXCLUDED.cash, invested = EXCLUDED.invested, run_key = EXCLUDED.run_key`,
      [s.id, signalDate, value, state.cash, value - state.cash, run.runKey],
    );
  }
  let seq = seqBefore;
  for (const order of decision.orders) {
    const code = data.codes[order.stock];
    seq += 1;
    await m.query(
      `INSERT INTO trading.order_intents (client_order_id, run_key, seq, auto_strategy_id, account_id, trading_date,
         code, side, kind, order_type, quantity, level, reason, status, epoch, reference_price, broker_account_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending', $14, $15, $16)`,
      [
        clientOrderId(run.runKey, s.id, code, order.side),
        run.runKey,
        seq,
        s.id,
        s.account_id,
        run.tradingDate,
        code,
        order.side,
        order.kind,
        order.kind === 'market_sell' ? 'market' : order.kind === 'stop_sell' ? 'stop' : 'limit',
        order.quantity,
        Number.isNaN(order.level) ? null : order.level,
        order.reason,
        run.epoch,
        data.close[t * data.codes.length + order.stock] || null,
        s.broker_account_id,
      ],
    );
    if (order.kind === 'market_sell') {
      await m.query(`UPDATE trading.positions SET pending_sell = $3 WHERE auto_strategy_id = $1 AND code = $2`, [
        s.id,
        code,
        order.reason,
      ]);
    }
  }
  await m.query(
    `UPDATE trading.auto_strategies SET wanted = $2, last_signal_date = $3, updated_at = now() WHERE id = $1`,
    [
      s.id,
      JSON.stringify(decision.wanted.map((w) => ({ code: data.codes[w.stock], rank: w.rank, target: w.target }))),
      signalDate,
    ],
  );
  const count = (kind: string): number => decision.orders.filter((o) => o.kind === kind).length;
  await log(
    m,
    s.id,
    run.runKey,
    'info',
    `decided on ${signalDate}'s close${decision.rebalanced ? ' (rebalance)' : ''}: ${count('market_sell')} sell(s) at the open, ` +
      `${count('limit_buy')} limit buy(s), ${count('stop_sell') + count('target_sell')} resting sell(s)`,
    {
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
  );
  return seq - seqBefore;
}

/** The 07:00 select's body: per strategy, its picks and its log line, each strategy on its own. */
export async function selectPerStrategy(
  m: Sql,
  run: { runKey: string; tradingDate: string },
  snapshot: MarketSnapshot,
  signalIndex: number,
): Promise<{ strategies: number; selected: number; picks: number; signalDate: string }> {
  const { data } = snapshot;
  const strategies: Array<{ id: string; rules: unknown; first: boolean }> = await m.query(
    `SELECT id, rules, last_signal_date IS NULL AS first FROM trading.auto_strategies WHERE status = 'active' ORDER BY id`,
  );
  const signalDate = isoOf(data.dates[signalIndex]);
  let picks = 0;
  let selected = 0;
  for (const strategy of strategies) {
    const parsed = parseStrategyDefinition(strategy.rules);
    if (!parsed.ok) {
      await log(m, strategy.id, run.runKey, 'error', 'select skipped: stored rules are invalid', {
        errors: parsed.errors.slice(0, 5),
      });
      continue;
    }
    const def = parsed.value;
    if (!isRebalanceDay(data, def.rebalance, signalIndex, strategy.first)) {
      await log(m, strategy.id, run.runKey, 'info', `no selection: ${signalDate} is not a rebalance day`, {
        rebalance: def.rebalance,
      });
      continue;
    }
    const selection = selectPicks(def, data, signalIndex);
    const S = data.codes.length;
    for (const p of selection.picks) {
      const close = data.close[signalIndex * S + p.stockIndex];
      await m.query(
        `INSERT INTO trading.picks (auto_strategy_id, trading_date, signal_date, rank, code, weight, reference_price, run_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [strategy.id, run.tradingDate, signalDate, p.rank, p.code, p.weight.toFixed(10), close, run.runKey],
      );
    }
    await log(m, strategy.id, run.runKey, 'info', `selected ${selection.picks.length} picks`, {
      tradingDate: run.tradingDate,
      signalDate,
      picks: selection.picks.map((p) => ({ rank: p.rank, code: p.code, weight: p.weight })),
    });
    picks += selection.picks.length;
    selected += 1;
  }
  return { strategies: strategies.length, selected, picks, signalDate };
}
