import type { OpenSellReason } from '@stocklab/strategy-engine';
import type { Sql } from './batch-writes.js';
import { OPEN_INTENT_STATUSES } from './order-book.js';

export interface StrategyRow {
  id: string;
  account_id: string;
  rules: unknown;
  cash: string;
  /** inactive: only positions marked to be sold are (manual sells of a stopped strategy) */
  status: 'active' | 'liquidating' | 'inactive';
  wanted: Array<{ code: string; rank: number; target: number }>;
  last_signal_date: string | null;
  broker_account_id: string | null;
}

export interface PositionRow {
  code: string;
  quantity: string;
  entry_price: string;
  entry_date: string;
  cost: string;
  pending_sell: OpenSellReason | null;
}

/** What some strategies of the day's plan decide on: their rows and, keyed by strategy, their state. */
export interface PlanState {
  /** by id */
  strategies: StrategyRow[];
  /** the strategies with orders whose outcome is not known yet: how many (as counted by PostgreSQL) */
  openIntents: ReadonlyMap<string, string>;
  /** per strategy, in buy order (entry date, then code) */
  positions: Map<string, PositionRow[]>;
}

/**
 * Locks every strategy the plan decides on (trading, or stopped with a sell pending), in id
 * order, for the plan's transaction; their ids. The plan then reads them a chunk at a time: the
 * rows are locked, so a chunk read later is the row as it was when the plan began.
 */
export async function lockPlanStrategies(m: Sql): Promise<string[]> {
  const rows: Array<{ id: string }> = await m.query(
    `SELECT id FROM trading.auto_strategies s
      WHERE status IN ('active', 'liquidating')
         OR (status = 'inactive' AND EXISTS (SELECT 1 FROM trading.positions p
                                              WHERE p.auto_strategy_id = s.id AND p.pending_sell IS NOT NULL))
      ORDER BY id FOR UPDATE`,
  );
  return rows.map((r) => r.id);
}

/** Per strategy, how many of its orders are still open; open intents are few whatever the history (a partial index holds them). */
export async function openIntentCounts(m: Sql): Promise<Map<string, string>> {
  const open: Array<{ id: string; n: string }> = await m.query(
    `SELECT auto_strategy_id AS id, count(*) AS n FROM trading.order_intents
      WHERE status IN ${OPEN_INTENT_STATUSES} GROUP BY auto_strategy_id`,
  );
  return new Map(open.map((o) => [o.id, o.n]));
}

/**
 * Reads the state of some locked strategies (ids in id order) with one query per kind, instead
 * of a few per strategy. The plan only writes each strategy's own rows, so a strategy's state
 * read up front is the one it would read in turn.
 */
export async function loadPlanChunk(
  m: Sql,
  ids: readonly string[],
  openIntents: ReadonlyMap<string, string>,
): Promise<PlanState> {
  const strategies: StrategyRow[] = await m.query(
    `SELECT id, account_id, rules, cash, status, wanted, to_char(last_signal_date, 'YYYY-MM-DD') AS last_signal_date,
            broker_account_id
       FROM trading.auto_strategies WHERE id = ANY($1::uuid[]) ORDER BY id`,
    [ids],
  );
  const rows: Array<PositionRow & { id: string }> = await m.query(
    `SELECT auto_strategy_id AS id, code, quantity, entry_price, to_char(entry_date, 'YYYYMMDD') AS entry_date, cost,
            pending_sell
       FROM trading.positions WHERE auto_strategy_id = ANY($1::uuid[]) ORDER BY auto_strategy_id, entry_date, code`,
    [ids],
  );
  const positions = new Map<string, PositionRow[]>();
  for (const { id, ...position } of rows) {
    let list = positions.get(id);
    if (!list) {
      list = [];
      positions.set(id, list);
    }
    list.push(position);
  }
  return { strategies, openIntents, positions };
}
