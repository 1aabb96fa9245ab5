import { Inject, Injectable } from '@nestjs/common';
import { bookFill, parseStrategyDefinition, type CostDefinition } from '@stocklab/strategy-engine';
import type { EntityManager } from 'typeorm';
import { BROKER, type Broker, type BrokerOrder } from '../broker/broker.js';
import { returnedRows } from '../database/returning.js';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import { strategyLog } from './job-context.js';

export interface IntentRow {
  id: string;
  client_order_id: string;
  run_key: string;
  auto_strategy_id: string;
  account_id: string;
  trading_date: string;
  code: string;
  side: 'buy' | 'sell';
  kind: 'market_sell' | 'limit_buy' | 'stop_sell' | 'target_sell';
  quantity: string;
  level: string | null;
  reason: string;
  status: 'pending' | 'sent' | 'accepted' | 'filled' | 'expired' | 'rejected';
}

export const INTENT_COLUMNS = `id, client_order_id, run_key, auto_strategy_id, account_id,
  to_char(trading_date, 'YYYY-MM-DD') AS trading_date, code, side, kind, quantity, level, reason, status`;

export type Fenced = <T>(work: (m: EntityManager) => Promise<T>) => Promise<T>;
export type Outcome = 'filled' | 'expired' | 'rejected' | 'accepted' | 'already';

/**
 * Books what the broker did with the platform's orders: a fill moves the strategy's cash and
 * positions with the strategy's own cost model (the engine's bookFill: slippage on opening fills,
 * commission, tax, whole won), exactly as the backtest books its simulated fills; an expired or
 * rejected order is recorded and logged (a sell at the open stays decided and is sent again the
 * next day; a buy's pick stays wanted). Each booking is one fenced transaction and happens once:
 * the intent's status moves out of pending/sent/accepted in the same statement.
 */
@Injectable()
export class OrderBook {
  constructor(
    @Inject(BROKER) private readonly broker: Broker,
    private readonly metrics: TradingMetrics,
  ) {}

  /**
   * Asks the broker about every order still open (accepted, or sent before a crash), on any day up
   * to `throughDate`, and books the ones that are done; an order of an earlier day that a failed
   * or abandoned run never sent is closed as expired (its day is over). Nothing stays in limbo, so
   * no strategy waits forever on an order. Returns how many ended each way.
   */
  async reconcile(fenced: Fenced, throughDate: string, signal?: AbortSignal): Promise<Record<Outcome, number>> {
    const open: IntentRow[] = await fenced((m) =>
      m.query(
        `SELECT ${INTENT_COLUMNS} FROM trading.order_intents
          WHERE (status IN ('sent', 'accepted') AND trading_date <= $1) OR (status = 'pending' AND trading_date < $1)
          ORDER BY trading_date, run_key, seq`,
        [throughDate],
      ),
    );
    const counts: Record<Outcome, number> = { filled: 0, expired: 0, rejected: 0, accepted: 0, already: 0 };
    for (const intent of open) {
      signal?.throwIfAborted();
      if (intent.status === 'pending') {
        counts[await fenced((m) => this.close(m, intent, 'expired', 'never sent before its day ended'))] += 1;
        continue;
      }
      const order = await this.broker.getOrder(intent.account_id, intent.client_order_id);
      const outcome = order
        ? await fenced((m) => this.book(m, intent, order))
        : intent.trading_date < throughDate
          ? // marked sent, never received, and its day is over: it can no longer be placed
            await fenced((m) => this.close(m, intent, 'expired', 'never reached the broker before its day ended'))
          : 'accepted';
      counts[outcome] += 1;
    }
    return counts;
  }

  /** Records a broker answer on the intent, once; a fill moves cash and positions. */
  async book(m: EntityManager, intent: IntentRow, order: BrokerOrder): Promise<Outcome> {
    if (order.status === 'accepted') {
      await m.query(
        `UPDATE trading.order_intents SET status = 'accepted', broker_order_id = $2 WHERE id = $1 AND status IN ('pending', 'sent')`,
        [intent.id, order.brokerOrderId],
      );
      return 'accepted';
    }
    if (order.status !== 'filled') {
      return this.close(m, intent, order.status, order.rejectReason ?? order.status, order);
    }
    const costs = await this.costsOf(m, intent.auto_strategy_id);
    const quantity = Number(intent.quantity);
    const fill = bookFill(
      intent.kind,
      quantity,
      { price: order.fillPrice as number, at: order.fillPriceSource === 'open' ? 'open' : 'level' },
      costs,
    );
    const updated = returnedRows<{ id: string }>(
      await m.query(
        `UPDATE trading.order_intents
            SET status = 'filled', broker_order_id = $2, broker_result = $3, fill_price = $4, fill_price_source = $5,
                fill_price_date = $6, fill_amount = $7, commission = $8, tax = $9, completed_at = now(), booked_at = now()
          WHERE id = $1 AND status IN ('pending', 'sent', 'accepted') RETURNING id`,
        [
          intent.id,
          order.brokerOrderId,
          JSON.stringify(order),
          fill.price,
          order.fillPriceSource,
          order.fillPriceDate,
          fill.amount,
          fill.commission,
          fill.tax,
        ],
      ),
    );
    if (updated.length === 0) {
      return 'already';
    }
    this.metrics.orders.inc({ side: intent.side, status: 'filled' });
    // ck_auto_strategies_cash refuses a booking that would overdraw (the decider's sizing makes it impossible)
    await m.query(`UPDATE trading.auto_strategies SET cash = cash + $2, updated_at = now() WHERE id = $1`, [
      intent.auto_strategy_id,
      fill.cashDelta,
    ]);
    if (intent.side === 'buy') {
      await m.query(
        `INSERT INTO trading.positions (auto_strategy_id, code, quantity, entry_price, entry_date, cost)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [intent.auto_strategy_id, intent.code, quantity, fill.price, order.fillPriceDate, -fill.cashDelta],
      );
      await m.query(
        `UPDATE trading.auto_strategies
            SET wanted = coalesce((SELECT jsonb_agg(w) FROM jsonb_array_elements(wanted) w WHERE w->>'code' <> $2), '[]')
          WHERE id = $1`,
        [intent.auto_strategy_id, intent.code],
      );
    } else {
      // every sell closes the whole position
      await m.query(`DELETE FROM trading.positions WHERE auto_strategy_id = $1 AND code = $2`, [
        intent.auto_strategy_id,
        intent.code,
      ]);
    }
    await strategyLog(
      m,
      intent.auto_strategy_id,
      intent.run_key,
      'info',
      `${intent.side} ${quantity} ${intent.code} filled at ${fill.price} (${order.fillPriceSource}, ${order.fillPriceDate})`,
      {
        clientOrderId: intent.client_order_id,
        reason: intent.reason,
        amount: fill.amount,
        commission: fill.commission,
        tax: fill.tax,
      },
    );
    return 'filled';
  }

  /** Ends an intent that did not fill. */
  async close(
    m: EntityManager,
    intent: IntentRow,
    status: 'expired' | 'rejected',
    reason: string,
    order?: BrokerOrder,
  ): Promise<Outcome> {
    const updated = returnedRows<{ id: string }>(
      await m.query(
        `UPDATE trading.order_intents SET status = $2, reject_reason = $3, broker_order_id = $4, broker_result = $5,
                completed_at = now()
          WHERE id = $1 AND status IN ('pending', 'sent', 'accepted') RETURNING id`,
        [intent.id, status, reason, order?.brokerOrderId ?? null, order ? JSON.stringify(order) : null],
      ),
    );
    if (updated.length === 0) {
      return 'already';
    }
    this.metrics.orders.inc({ side: intent.side, status });
    const next =
      intent.kind === 'market_sell'
        ? 'the sell is sent again at the next open'
        : intent.kind === 'limit_buy'
          ? 'the pick stays wanted'
          : 'the order is placed again the next day if still due';
    await strategyLog(
      m,
      intent.auto_strategy_id,
      intent.run_key,
      status === 'rejected' ? 'warn' : 'info',
      `${intent.side} ${intent.quantity} ${intent.code} ${status}: ${reason}; ${next}`,
      { clientOrderId: intent.client_order_id, kind: intent.kind },
    );
    return status;
  }

  private async costsOf(m: EntityManager, strategyId: string): Promise<CostDefinition> {
    const rows: Array<{ rules: unknown }> = await m.query(`SELECT rules FROM trading.auto_strategies WHERE id = $1`, [
      strategyId,
    ]);
    const parsed = parseStrategyDefinition(rows[0]?.rules);
    if (parsed.ok) {
      return parsed.value.costs;
    }
    // rules are validated on activation; the money moved at the broker all the same, so it is booked
    await strategyLog(m, strategyId, null, 'error', 'stored rules are invalid: fill booked without costs');
    return { commissionBps: 0, sellTaxBps: 0, slippageBps: 0 };
  }
}
