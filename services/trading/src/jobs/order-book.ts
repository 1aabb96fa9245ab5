import { Inject, Injectable, Logger } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import {
  bookFill,
  MARKETS,
  parseStrategyDefinition,
  type BookedFill,
  type CostDefinition,
  type Market,
} from '@stocklab/strategy-engine';
import type { EntityManager } from 'typeorm';
import { BROKER, type Broker, type BrokerOrder } from '../broker/broker.js';
import { KiwoomOrders, type KiwoomObservation } from '../broker/kiwoom-orders.js';
import { returnedRows } from '../database/returning.js';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import type { TradingConfig } from '../config.js';
import { perAccount } from './account-pipeline.js';
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
  status: 'pending' | 'sending' | 'sent' | 'accepted' | 'filled' | 'expired' | 'rejected' | 'needs_review';
  /** the signal close the order was decided on (the day's price band is around it) */
  reference_price: string | null;
  /** a linked Kiwoom account, or null: the paper broker */
  broker_account_id: string | null;
  broker_order_id: string | null;
  /** linked accounts: attempts recorded before they left, and when the last one left */
  attempt: number;
  attempt_sent_at: Date | null;
}

export const INTENT_COLUMNS = `id, client_order_id, run_key, auto_strategy_id, account_id,
  to_char(trading_date, 'YYYY-MM-DD') AS trading_date, code, side, kind, quantity, level, reason, status,
  reference_price, broker_account_id, broker_order_id, attempt, attempt_sent_at`;

/** Statuses of an intent whose outcome is not known yet (a strategy does not decide over them). */
export const OPEN_INTENT_STATUSES = `('pending', 'sending', 'sent', 'accepted', 'needs_review')`;

export type Fenced = <T>(work: (m: EntityManager) => Promise<T>) => Promise<T>;
export type Outcome = 'filled' | 'expired' | 'rejected' | 'accepted' | 'already' | 'needs_review';

/** A booked fill with what the broker charged instead of the cost model's estimate, when the broker says. */
function withBrokerCharges(
  side: 'buy' | 'sell',
  fill: BookedFill,
  charged?: { commission: number; tax: number },
): BookedFill {
  if (!charged) {
    return fill;
  }
  const cashDelta =
    side === 'buy' ? -(fill.amount + charged.commission) : fill.amount - charged.commission - charged.tax;
  return { ...fill, commission: charged.commission, tax: charged.tax, cashDelta };
}

/** The stock's market (its sell tax and tick table); KOSPI for a code the market tables lack. */
async function marketOf(m: EntityManager, code: string): Promise<Market> {
  const rows: Array<{ market: string }> = await m.query(`SELECT market FROM market.securities WHERE code = $1`, [code]);
  const market = rows[0]?.market;
  return (MARKETS as readonly string[]).includes(market ?? '') ? (market as Market) : 'KOSPI';
}

/** The calendar day before an ISO date (sessions before it are over). */
export function previousDay(isoDate: string): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

/** Open paper intents asked about and booked per page of the reconciliation. */
export const RECONCILE_PAGE = 500;

/** Paper accounts served at once by the send and the reconciliation: half the connection pool. */
export function paperConcurrency(config: Pick<TradingConfig, 'DB_POOL_SIZE'>): number {
  return Math.max(1, Math.floor(config.DB_POOL_SIZE / 2));
}

/**
 * Books what the broker did with the platform's orders: a fill moves the strategy's cash and
 * positions with the strategy's own cost model (the engine's bookFill: slippage on paper fills,
 * on the tick grid, commission, the KRX sell tax of the fill date and the stock's market, whole
 * won), exactly as the backtest books its simulated fills; an expired or
 * rejected order is recorded and logged (a sell at the open stays decided and is sent again the
 * next day; a buy's pick stays wanted). Each booking is one fenced transaction and happens once:
 * the intent's status moves out of pending/sent/accepted in the same statement.
 */
@Injectable()
export class OrderBook {
  private readonly logger = new Logger(OrderBook.name);
  constructor(
    @Inject(BROKER) private readonly broker: Broker,
    private readonly kiwoom: KiwoomOrders,
    private readonly metrics: TradingMetrics,
    @Inject(CONFIG) config: Pick<TradingConfig, 'DB_POOL_SIZE'>,
  ) {
    // half the pool: the rest stays free for the API, the heartbeats and the booking transactions
    this.concurrency = paperConcurrency(config);
  }

  /** Paper accounts asked at once (each call holds a connection of the pool). */
  readonly concurrency: number;

  /**
   * Asks the broker about every order still open (accepted, or sent before a crash), on any day up
   * to `throughDate`, and books the ones that are done; an order of an earlier day that a failed
   * or abandoned run never sent is closed as expired (its day is over). Nothing stays in limbo, so
   * no strategy waits forever on an order. Returns how many ended each way.
   *
   * Linked accounts' intents are settled one at a time from their order lists; the paper broker's
   * are asked per account in order (trading date, run, seq), several accounts at once, and booked
   * in batches (see perAccount), a page of RECONCILE_PAGE at a time: after a 09:00 send of 10,000
   * strategies, 100,000s of orders are open, and only their ids are held all along.
   */
  async reconcile(
    fenced: Fenced,
    throughDate: string,
    signal?: AbortSignal,
    closedThrough?: string,
    today?: string,
  ): Promise<Record<Outcome, number>> {
    const openAt = (broker: 'linked' | 'paper'): string =>
      `((status IN ('sending', 'sent', 'accepted') AND trading_date <= $1) OR (status = 'pending' AND trading_date < $1))
        AND broker_account_id IS ${broker === 'linked' ? 'NOT NULL' : 'NULL'}`;
    const counts: Record<Outcome, number> = {
      filled: 0,
      expired: 0,
      rejected: 0,
      accepted: 0,
      already: 0,
      needs_review: 0,
    };
    const linkedOpen: IntentRow[] = await fenced((m) =>
      m.query(
        `SELECT ${INTENT_COLUMNS} FROM trading.order_intents WHERE ${openAt('linked')} ORDER BY trading_date, run_key, seq`,
        [throughDate],
      ),
    );
    const linked = linkedOpen.filter((i) => i.status !== 'pending');
    // sessions before the date reconciled are over; the day-end run declares its own day over too
    const observed = await this.kiwoom.observe(linked, closedThrough ?? previousDay(throughDate), today);
    for (const intent of linkedOpen) {
      signal?.throwIfAborted();
      if (intent.status === 'pending') {
        counts[await fenced((m) => this.close(m, intent, 'expired', 'never sent before its day ended'))] += 1;
        continue;
      }
      const seen = observed.get(intent.id);
      if (seen) {
        counts[await fenced((m) => this.settle(m, intent, seen))] += 1;
      }
    }
    const paperIds: Array<{ id: string }> = await fenced((m) =>
      m.query(`SELECT id FROM trading.order_intents WHERE ${openAt('paper')} ORDER BY trading_date, run_key, seq`, [
        throughDate,
      ]),
    );
    for (let i = 0; i < paperIds.length; i += RECONCILE_PAGE) {
      signal?.throwIfAborted();
      const ids = paperIds.slice(i, i + RECONCILE_PAGE).map((r) => r.id);
      // re-read: the page's intents as they are now, still open (nothing else books them meanwhile)
      const page: IntentRow[] = await fenced((m) =>
        m.query(
          `SELECT ${INTENT_COLUMNS} FROM trading.order_intents WHERE id = ANY($2::uuid[]) AND ${openAt('paper')}
            ORDER BY trading_date, run_key, seq`,
          [throughDate, ids],
        ),
      );
      for (const outcome of await this.reconcilePaper(fenced, page, throughDate, signal)) {
        counts[outcome] += 1;
      }
    }
    return counts;
  }

  /** One page of paper intents: each asked at the broker (a pending one needs no call) and booked. */
  private reconcilePaper(
    fenced: Fenced,
    page: readonly IntentRow[],
    throughDate: string,
    signal: AbortSignal | undefined,
  ): Promise<Outcome[]> {
    return perAccount<IntentRow, BrokerOrder | undefined, Outcome>({
      items: page,
      accountOf: (intent) => intent.account_id,
      concurrency: this.concurrency,
      signal,
      ask: (intent) =>
        intent.status === 'pending'
          ? Promise.resolve(undefined)
          : this.broker.getOrder(intent.account_id, intent.client_order_id),
      book: async (m, answers) => {
        // a strategy's rules do not change: read and parsed once per strategy of the batch
        const costs = new Map<string, CostDefinition>();
        const booked: Outcome[] = [];
        for (const { item: intent, answer: order } of answers) {
          booked.push(
            intent.status === 'pending'
              ? await this.close(m, intent, 'expired', 'never sent before its day ended')
              : order
                ? await this.book(m, intent, order, costs)
                : intent.trading_date < throughDate
                  ? // marked sent, never received, and its day is over: it can no longer be placed
                    await this.close(m, intent, 'expired', 'never reached the broker before its day ended')
                  : 'accepted',
          );
        }
        return booked;
      },
      fenced,
    });
  }

  /** Applies what a linked account's order list says of an intent. */
  private async settle(m: EntityManager, intent: IntentRow, seen: KiwoomObservation): Promise<Outcome> {
    switch (seen.kind) {
      case 'order':
        return this.book(m, intent, seen.order);
      case 'open':
        return 'accepted';
      case 'expired':
        return this.close(m, intent, 'expired', seen.reason);
      case 'review':
        return this.review(m, intent, seen.reason);
    }
  }

  /**
   * Records a broker answer on the intent, once; a fill moves cash and positions. `costs` keeps
   * the cost models read by earlier bookings of the same transaction (by strategy).
   */
  async book(
    m: EntityManager,
    intent: IntentRow,
    order: BrokerOrder,
    costs?: Map<string, CostDefinition>,
  ): Promise<Outcome> {
    if (order.status === 'accepted') {
      if (intent.status === 'accepted') {
        // asked again while it waits for its day (a reconciliation): nothing to record, and an
        // intent never goes back to pending or sent, so the update below could not match it
        return 'accepted';
      }
      await m.query(
        `UPDATE trading.order_intents SET status = 'accepted', broker_order_id = $2
          WHERE id = $1 AND status IN ('pending', 'sending', 'sent')`,
        [intent.id, order.brokerOrderId],
      );
      return 'accepted';
    }
    if (order.status !== 'filled') {
      return this.close(m, intent, order.status, order.rejectReason ?? order.status, order);
    }
    const model = costs?.get(intent.auto_strategy_id) ?? (await this.costsOf(m, intent.auto_strategy_id, costs));
    const ordered = Number(intent.quantity);
    const quantity = order.filledQuantity ?? ordered;
    // slippage models the paper broker's execution; a real broker's price is the market's own
    const date = Number((order.fillPriceDate ?? intent.trading_date).replaceAll('-', ''));
    const fill = withBrokerCharges(
      intent.side,
      bookFill(
        intent.kind,
        quantity,
        { price: order.fillPrice as number, at: order.fillPriceSource === 'open' ? 'open' : 'level' },
        model,
        { date, market: await marketOf(m, intent.code) },
        { marketPrice: order.fillPriceSource === 'broker' },
      ),
      order.charged,
    );
    const updated = returnedRows<{ id: string }>(
      await m.query(
        `UPDATE trading.order_intents
            SET status = 'filled', broker_order_id = $2, broker_result = $3, fill_price = $4, fill_price_source = $5,
                fill_price_date = $6, fill_amount = $7, commission = $8, tax = $9, filled_quantity = $10,
                completed_at = now(), booked_at = now()
          WHERE id = $1 AND status IN ('pending', 'sending', 'sent', 'accepted') RETURNING id`,
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
          quantity,
        ],
      ),
    );
    if (updated.length === 0) {
      return 'already';
    }
    this.metrics.orders.inc({ side: intent.side, status: 'filled' });
    await this.moveCash(m, intent.auto_strategy_id, fill.cashDelta);
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
    } else if (quantity >= ordered) {
      // every sell is of the whole position
      await m.query(`DELETE FROM trading.positions WHERE auto_strategy_id = $1 AND code = $2`, [
        intent.auto_strategy_id,
        intent.code,
      ]);
    } else {
      // a partial sell: the rest stays held at its cost share (a sell at the open stays due for it)
      await m.query(
        `UPDATE trading.positions SET cost = round(cost * (quantity - $3)::numeric / quantity), quantity = quantity - $3
          WHERE auto_strategy_id = $1 AND code = $2`,
        [intent.auto_strategy_id, intent.code, quantity],
      );
    }
    await strategyLog(
      m,
      intent.auto_strategy_id,
      intent.run_key,
      'info',
      `${intent.side} ${quantity}${quantity < ordered ? ` of ${ordered}` : ''} ${intent.code} filled at ${fill.price} (${order.fillPriceSource}, ${order.fillPriceDate})`,
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

  /**
   * A fill's cash: the strategy's while it trades (ck_auto_strategies_cash refuses an overdraft,
   * which the decider's sizing makes impossible). A stopped strategy gave its cash back when it
   * stopped, so an order it left open settles with the paper account it went back to; on a linked
   * account the money is the broker's balance, which the day-end reconciliation reads.
   */
  private async moveCash(m: EntityManager, strategyId: string, delta: number): Promise<void> {
    const trading = returnedRows<{ id: string }>(
      await m.query(
        `UPDATE trading.auto_strategies SET cash = cash + $2, updated_at = now()
          WHERE id = $1 AND status <> 'inactive' RETURNING id`,
        [strategyId, delta],
      ),
    );
    if (trading.length === 0) {
      await m.query(
        `UPDATE trading.accounts a SET cash = a.cash + $2, updated_at = now()
           FROM trading.auto_strategies s WHERE s.id = $1 AND a.id = s.account_id AND s.broker_account_id IS NULL`,
        [strategyId, delta],
      );
    }
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
          WHERE id = $1 AND status IN ('pending', 'sending', 'sent', 'accepted') RETURNING id`,
        [
          intent.id,
          status,
          reason,
          order?.brokerOrderId ?? intent.broker_order_id,
          order ? JSON.stringify(order) : null,
        ],
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

  /**
   * An order whose fate the broker's lists cannot settle (look-alikes, an order number it does not
   * list): nothing is sent or booked for it again and its strategy stops deciding until a person
   * has looked; counted and logged as an error for the alert.
   */
  async review(m: EntityManager, intent: IntentRow, reason: string): Promise<Outcome> {
    const updated = returnedRows<{ id: string }>(
      await m.query(
        `UPDATE trading.order_intents SET status = 'needs_review', review_reason = $2
          WHERE id = $1 AND status IN ('pending', 'sending', 'sent', 'accepted') RETURNING id`,
        [intent.id, reason],
      ),
    );
    if (updated.length === 0) {
      return 'already';
    }
    this.metrics.orders.inc({ side: intent.side, status: 'needs_review' });
    this.logger.error(
      { intentId: intent.id, strategyId: intent.auto_strategy_id, brokerAccountId: intent.broker_account_id, reason },
      'order needs review: not sent again, not booked',
    );
    await strategyLog(
      m,
      intent.auto_strategy_id,
      intent.run_key,
      'error',
      `${intent.side} ${intent.quantity} ${intent.code} needs review: ${reason}; the strategy does not decide until it is settled`,
      { clientOrderId: intent.client_order_id, attempt: intent.attempt },
    );
    return 'needs_review';
  }

  /** The strategy's cost model, kept in `known` when valid (invalid rules are logged at every fill). */
  private async costsOf(
    m: EntityManager,
    strategyId: string,
    known?: Map<string, CostDefinition>,
  ): Promise<CostDefinition> {
    const rows: Array<{ rules: unknown }> = await m.query(`SELECT rules FROM trading.auto_strategies WHERE id = $1`, [
      strategyId,
    ]);
    const parsed = parseStrategyDefinition(rows[0]?.rules);
    if (parsed.ok) {
      known?.set(strategyId, parsed.value.costs);
      return parsed.value.costs;
    }
    // rules are validated on activation; the money moved at the broker all the same, so it is booked
    await strategyLog(
      m,
      strategyId,
      null,
      'error',
      'stored rules are invalid: fill booked without commission and slippage (the KRX sell tax applies)',
    );
    return { commissionBps: 0, slippageBps: 0 };
  }
}
