import type { MarketSnapshot } from '@stocklab/market-data';
import { applyCorporateAction, type CorporateAction, type PriceColumn } from '@stocklab/strategy-engine';
import { insertLogs, type LogRow, type Sql } from '../jobs/batch-writes.js';
import { isoOf } from '../market/market-data.service.js';

export interface AppliedAdjustments {
  /** positions adjusted by this call (0 when every event was applied before) */
  positions: number;
  /** whole won paid out for fractional shares and rights */
  cash: number;
}

interface HeldRow {
  id: string;
  quantity: string;
  entry_price: string;
  cost: string;
  paper_account_id: string | null;
}

/**
 * Live positions held through a corporate action, adjusted as the engine adjusts a backtest's
 * holding on the ex-date (applyCorporateAction: floor(quantity x shareRatio) shares, entry price /
 * priceFactor, the rest of the value at the base price paid in whole won), in the caller's fenced
 * transaction and exactly once: every event of the market data up to the signal day (day t) is
 * applied to each position entered before its ex-date that has no row for it in
 * trading.corporate_action_adjustments yet, and that row is written with the adjustment (the
 * primary key makes a second adjustment impossible). The strategy's cash receives the payout and
 * the position's cost drops by it (so a later sale's P/L counts it); a position left with no share
 * is closed. For a paper strategy the paper broker's holding moves by the same share difference
 * and its cash by the same payout, as a real broker's would (a linked account's broker adjusts
 * itself). The events come from the ingest's derivation or an administrator's file: live trading
 * learns of an ex-date D from D's data, so the first decision after it (on D's close) already
 * sees the adjusted position.
 */
export async function applyCorporateActions(
  m: Sql,
  snapshot: MarketSnapshot,
  t: number,
  runKey: string,
): Promise<AppliedAdjustments> {
  const { data } = snapshot;
  const S = data.codes.length;
  const signalDate = data.dates[t] ?? 0;
  const due = (data.corporateActions ?? []).filter((a) => a.exDate <= signalDate);
  const out: AppliedAdjustments = { positions: 0, cash: 0 };
  const logs: LogRow[] = [];
  for (const action of due) {
    const code = data.codes[action.stock];
    const exDate = isoOf(action.exDate);
    const previousClose = closeBefore(data.close, data.dates, S, action);
    if (!(previousClose > 0)) {
      continue; // no close before the ex-date in the window: nothing held through it can be valued
    }
    const held: HeldRow[] = await m.query(
      `SELECT p.auto_strategy_id AS id, p.quantity, p.entry_price, p.cost,
              CASE WHEN s.broker_account_id IS NULL THEN s.account_id END AS paper_account_id
         FROM trading.positions p JOIN trading.auto_strategies s ON s.id = p.auto_strategy_id
        WHERE p.code = $1 AND p.entry_date < $2::date
          AND NOT EXISTS (SELECT 1 FROM trading.corporate_action_adjustments a
                           WHERE a.auto_strategy_id = p.auto_strategy_id AND a.code = p.code AND a.ex_date = $2::date)
        ORDER BY p.auto_strategy_id
        FOR UPDATE OF p`,
      [code, exDate],
    );
    for (const row of held) {
      const quantity = Number(row.quantity);
      const entryPrice = Number(row.entry_price);
      const adjusted = applyCorporateAction({ quantity, entryPrice }, action, previousClose);
      await m.query(
        `INSERT INTO trading.corporate_action_adjustments
           (auto_strategy_id, code, ex_date, kind, price_factor, share_ratio, quantity_before, quantity_after,
            entry_price_before, entry_price_after, base_price, cash, run_key)
         VALUES ($1, $2, $3::date, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          row.id,
          code,
          exDate,
          action.kind,
          action.priceFactor,
          action.shareRatio,
          quantity,
          adjusted.quantity,
          entryPrice,
          adjusted.entryPrice,
          adjusted.basePrice,
          adjusted.cash,
          runKey,
        ],
      );
      if (adjusted.quantity > 0) {
        await m.query(
          `UPDATE trading.positions SET quantity = $3, entry_price = $4, cost = cost - $5, updated_at = now()
            WHERE auto_strategy_id = $1 AND code = $2`,
          [row.id, code, adjusted.quantity, adjusted.entryPrice, adjusted.cash],
        );
      } else {
        await m.query(`DELETE FROM trading.positions WHERE auto_strategy_id = $1 AND code = $2`, [row.id, code]);
      }
      await m.query(`UPDATE trading.auto_strategies SET cash = cash + $2 WHERE id = $1`, [row.id, adjusted.cash]);
      if (row.paper_account_id !== null) {
        await adjustPaperHolding(m, row.paper_account_id, code, adjusted.quantity - quantity, adjusted.cash);
      }
      logs.push({
        strategyId: row.id,
        level: 'info',
        message:
          `${action.kind} of ${code} on ${exDate}: ${quantity} -> ${adjusted.quantity} shares, ` +
          `entry ${entryPrice} -> ${adjusted.entryPrice}, ${adjusted.cash} won paid`,
        details: { code, exDate, kind: action.kind, priceFactor: action.priceFactor, shareRatio: action.shareRatio },
      });
      out.positions += 1;
      out.cash += adjusted.cash;
    }
  }
  await insertLogs(m, runKey, logs);
  return out;
}

/** The stock's latest close before the event's ex-date in the data (NaN when there is none). */
function closeBefore(close: PriceColumn, dates: Int32Array, S: number, action: CorporateAction): number {
  let d = dates.length - 1;
  while (d >= 0 && dates[d] >= action.exDate) {
    d--;
  }
  for (; d >= 0; d--) {
    const c = close[d * S + action.stock];
    if (c > 0) {
      return c;
    }
  }
  return Number.NaN;
}

/** The paper broker's side: its holding of the code by `delta` shares (removed at 0), its cash by the payout. */
async function adjustPaperHolding(m: Sql, accountId: string, code: string, delta: number, cash: number): Promise<void> {
  await m.query(`DELETE FROM trading.paper_holdings WHERE account_id = $1 AND code = $2 AND quantity + $3 <= 0`, [
    accountId,
    code,
    delta,
  ]);
  await m.query(`UPDATE trading.paper_holdings SET quantity = quantity + $3 WHERE account_id = $1 AND code = $2`, [
    accountId,
    code,
    delta,
  ]);
  await m.query(`UPDATE trading.paper_accounts SET cash = cash + $2 WHERE account_id = $1`, [accountId, cash]);
}
