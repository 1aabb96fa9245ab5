import { Inject, Injectable, Logger } from '@nestjs/common';
import { dayIndexOf, type MarketSnapshot } from '@stocklab/market-data';
import {
  isRebalanceDay,
  parseStrategyDefinition,
  StrategyDecider,
  type Holding,
  type MarketData,
  type OpenSellReason,
  type PortfolioState,
  type StrategyDefinition,
  type WantedPick,
} from '@stocklab/strategy-engine';
import type { EntityManager } from 'typeorm';
import { BROKER, type Broker, type BrokerOrder } from '../broker/broker.js';
import { clientOrderId } from '../broker/client-order-id.js';
import { returnedRows } from '../database/returning.js';
import { isoOf, MarketDataService } from '../market/market-data.service.js';
import { CalendarService } from '../calendar/calendar.service.js';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import { signalDayOf, StaleMarketDataError } from './data-freshness.js';
import { strategyLog, type JobBody, type JobContext } from './job-context.js';
import { INTENT_COLUMNS, OPEN_INTENT_STATUSES, OrderBook, type IntentRow, type Outcome } from './order-book.js';
import { KiwoomOrders } from '../broker/kiwoom-orders.js';

interface StrategyRow {
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

interface PositionRow {
  code: string;
  quantity: string;
  entry_price: string;
  entry_date: string;
  cost: string;
  pending_sell: OpenSellReason | null;
}

/**
 * 09:00. Four phases, each restartable by a newer leader under the same run key:
 * 1. reconcile: the broker's answers on every order still open (earlier days' fills are booked
 *    before anything is decided on them);
 * 2. plan: per strategy, the engine's StrategyDecider decides on the signal day's close (the last
 *    market day before the trading date) from the state held in PostgreSQL, exactly as a backtest
 *    decides; its orders are written as intents with deterministic client order ids, the day's
 *    performance row is written at the value the decision saw, all in one fenced transaction,
 *    before any order is sent (a resumed run finds the plan and never makes a second one);
 * 3. send: each pending intent goes to the broker, which accepts it for the trading day; an intent
 *    already marked sent is first looked up at the broker (it may have arrived before a crash);
 * 4. finish: fills the broker already knows are booked (a replayed day whose bars exist), and
 *    liquidated strategies are deactivated.
 */
@Injectable()
export class ExecuteJob implements JobBody {
  private readonly logger = new Logger(ExecuteJob.name);

  constructor(
    private readonly market: MarketDataService,
    @Inject(BROKER) private readonly broker: Broker,
    private readonly book: OrderBook,
    private readonly kiwoom: KiwoomOrders,
    private readonly calendar: CalendarService,
    private readonly metrics: TradingMetrics,
  ) {}

  async run(ctx: JobContext): Promise<Record<string, unknown>> {
    const before = await this.book.reconcile((w) => ctx.fenced(w), ctx.run.tradingDate, ctx.signal);
    const planned = await this.plan(ctx);
    const sent = await this.send(ctx);
    const after = await this.book.reconcile((w) => ctx.fenced(w), ctx.run.tradingDate, ctx.signal);
    const finished = await this.finish(ctx);
    return {
      ...planned,
      ...sent,
      booked: { earlier: before.filled + before.expired + before.rejected, today: after.filled + after.expired },
      open: after.accepted,
      ...finished,
    };
  }

  private async plan(ctx: JobContext): Promise<Record<string, unknown>> {
    const { run } = ctx;
    const snapshot = await this.market.snapshot(run.tradingDate);
    const data = snapshot.data;
    const signalDay = await this.signalDay(data, run.tradingDate);
    return ctx.fenced(async (m) => {
      const locked: Array<{ planned_at: Date | null }> = await m.query(
        `SELECT planned_at FROM trading.job_runs WHERE id = $1 FOR UPDATE`,
        [run.id],
      );
      if (locked[0]?.planned_at) {
        const count: Array<{ n: string }> = await m.query(
          `SELECT count(*) AS n FROM trading.order_intents WHERE run_key = $1`,
          [run.runKey],
        );
        return { intents: Number(count[0]?.n ?? 0), resumedPlan: true };
      }
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
          await strategyLog(m, s.id, run.runKey, 'error', 'execute skipped: stored rules are invalid');
          continue;
        }
        const intents = await this.planStrategy(m, ctx, s, parsed.value, snapshot, signalDay, seq);
        if (intents >= 0) {
          seq += intents;
          decided += 1;
        }
      }
      // deactivated after the day's select: its picks are not bought, and its log says so
      const idle: Array<{ id: string; picks: string }> = await m.query(
        `SELECT s.id, count(*) AS picks FROM trading.auto_strategies s
           JOIN trading.picks p ON p.auto_strategy_id = s.id AND p.trading_date = $1
          WHERE s.status = 'inactive' GROUP BY s.id ORDER BY s.id`,
        [run.tradingDate],
      );
      for (const s of idle) {
        await strategyLog(
          m,
          s.id,
          run.runKey,
          'info',
          `execute skipped: the strategy is inactive, ${s.picks} pick(s) of ${run.tradingDate} not bought`,
        );
      }
      await m.query(`UPDATE trading.job_runs SET planned_at = now() WHERE id = $1`, [run.id]);
      return {
        intents: seq,
        strategies: strategies.length,
        decided,
        signalDate: isoOf(data.dates[signalDay]),
        resumedPlan: false,
      };
    });
  }

  private async signalDay(data: MarketData, tradingDate: string): Promise<number> {
    try {
      return await signalDayOf(data, tradingDate, this.calendar);
    } catch (error) {
      if (error instanceof StaleMarketDataError) {
        this.metrics.staleData.inc({ job: 'execute' });
      }
      throw error;
    }
  }

  /** Decides one strategy's orders for the trading date; the number of intents, or -1 when it did not decide. */
  private async planStrategy(
    m: EntityManager,
    ctx: JobContext,
    s: StrategyRow,
    def: StrategyDefinition,
    snapshot: MarketSnapshot,
    t: number,
    seqBefore: number,
  ): Promise<number> {
    const { run } = ctx;
    const { data } = snapshot;
    const signalDate = isoOf(data.dates[t]);
    if (s.last_signal_date !== null && s.last_signal_date >= signalDate) {
      await strategyLog(m, s.id, run.runKey, 'info', `already decided on ${s.last_signal_date}'s close`);
      return -1;
    }
    const open: Array<{ n: string }> = await m.query(
      `SELECT count(*) AS n FROM trading.order_intents WHERE auto_strategy_id = $1 AND status IN ${OPEN_INTENT_STATUSES}`,
      [s.id],
    );
    if (Number(open[0]?.n ?? 0) > 0) {
      // deciding on a state the broker has not finished changing would double a buy or a sell
      await strategyLog(
        m,
        s.id,
        run.runKey,
        'warn',
        `not deciding: ${open[0]?.n} earlier order(s) still open at the broker`,
      );
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
        await strategyLog(m, s.id, run.runKey, 'error', `position ${p.code} has no market data: not decided on`);
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
    const decider = new StrategyDecider(def, data, [t], def.sell?.conditions ? [t] : []);
    const rebalance = s.status === 'active' && isRebalanceDay(data, def.rebalance, t, s.last_signal_date === null);
    const decision = decider.decide(t, state, {
      rebalance,
      liquidate: s.status === 'liquidating',
      pendingOnly: s.status === 'inactive',
    });

    // the value the decision saw, dated by the close it values (an inactive strategy's series ended)
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
          ctx.epoch,
          // the signal close: the day's price band is around it
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
    await strategyLog(
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

  private async send(ctx: JobContext): Promise<Record<string, unknown>> {
    const intents: IntentRow[] = await ctx.fenced((m) =>
      m.query(
        `SELECT ${INTENT_COLUMNS} FROM trading.order_intents
          WHERE run_key = $1 AND status IN ('pending', 'sending', 'sent') ORDER BY seq`,
        [ctx.run.runKey],
      ),
    );
    let accepted = 0;
    let rejected = 0;
    let review = 0;
    for (const intent of intents) {
      ctx.signal.throwIfAborted();
      if (intent.broker_account_id !== null) {
        const outcome = await this.sendToLinkedAccount(ctx, intent);
        if (outcome === 'rejected') {
          rejected += 1;
        } else if (outcome === 'needs_review') {
          review += 1;
        } else {
          accepted += 1;
        }
        continue;
      }
      let order: BrokerOrder | undefined;
      if (intent.status === 'sent') {
        // sent before a crash or a fail-over: the broker may or may not have received it
        order = await this.broker.getOrder(intent.account_id, intent.client_order_id);
      }
      if (!order) {
        await ctx.fenced((m) =>
          m.query(
            `UPDATE trading.order_intents SET status = 'sent', sent_at = now() WHERE id = $1 AND status = 'pending'`,
            [intent.id],
          ),
        );
        order = await this.broker.placeOrder({
          accountId: intent.account_id,
          clientOrderId: intent.client_order_id,
          code: intent.code,
          side: intent.side,
          kind: intent.kind,
          quantity: Number(intent.quantity),
          ...(intent.level !== null ? { price: Number(intent.level) } : {}),
          tradingDate: intent.trading_date,
        });
      }
      const result = order;
      // the order happened at the broker: book it even if this term just ended (the epoch still guards it)
      const outcome = await ctx.fenced((m) => this.book.book(m, intent, result));
      if (outcome === 'rejected') {
        rejected += 1;
      } else {
        accepted += 1;
      }
    }
    return { accepted, rejected, needsReview: review };
  }

  /** An intent for a linked Kiwoom account: placed once (see KiwoomOrders), its order number stored. */
  private async sendToLinkedAccount(ctx: JobContext, intent: IntentRow): Promise<Outcome> {
    const fenced = <T>(work: (m: EntityManager) => Promise<T>): Promise<T> => ctx.fenced(work);
    const sent = await this.kiwoom.send(fenced, intent);
    if (sent.kind === 'review') {
      return ctx.fenced((m) => this.book.review(m, intent, sent.reason));
    }
    if (sent.kind === 'rejected') {
      return ctx.fenced((m) => this.book.close(m, intent, 'rejected', sent.reason));
    }
    // the broker holds the order: stored even if this term just ended (the epoch still guards it)
    return ctx.fenced((m) =>
      this.book.book(m, intent, {
        clientOrderId: intent.client_order_id,
        brokerOrderId: sent.ordNo,
        status: 'accepted',
        quantity: Number(intent.quantity),
      }),
    );
  }

  private async finish(ctx: JobContext): Promise<Record<string, unknown>> {
    const { run } = ctx;
    return ctx.fenced(async (m) => {
      const liquidated = returnedRows<{ id: string }>(
        await m.query(
          `UPDATE trading.auto_strategies s SET status = 'inactive', deactivated_at = now(), updated_at = now()
            WHERE s.status = 'liquidating'
              AND NOT EXISTS (SELECT 1 FROM trading.positions p WHERE p.auto_strategy_id = s.id)
              AND NOT EXISTS (SELECT 1 FROM trading.order_intents i WHERE i.auto_strategy_id = s.id
                               AND i.status IN ${OPEN_INTENT_STATUSES})
            RETURNING s.id`,
        ),
      );
      for (const l of liquidated) {
        // a linked account's cash never left the broker: only the paper account is credited
        await m.query(
          `UPDATE trading.accounts a SET cash = a.cash + s.cash, updated_at = now()
             FROM trading.auto_strategies s WHERE s.id = $1 AND a.id = s.account_id AND s.broker_account_id IS NULL`,
          [l.id],
        );
        await m.query(`UPDATE trading.auto_strategies SET cash = 0 WHERE id = $1`, [l.id]);
        await strategyLog(m, l.id, run.runKey, 'info', 'liquidated: deactivated, cash returned to the account');
      }
      // proceeds of sells booked for an inactive strategy belong to the account, not to the stopped strategy
      const returned = returnedRows<{ id: string; cash: string }>(
        await m.query(
          `UPDATE trading.auto_strategies s SET cash = 0, updated_at = now()
             FROM (SELECT id, cash FROM trading.auto_strategies WHERE status = 'inactive' AND cash > 0 FOR UPDATE) old
            WHERE s.id = old.id RETURNING s.id, old.cash`,
        ),
      );
      for (const r of returned) {
        await m.query(
          `UPDATE trading.accounts a SET cash = a.cash + $2, updated_at = now()
             FROM trading.auto_strategies s WHERE s.id = $1 AND a.id = s.account_id AND s.broker_account_id IS NULL`,
          [r.id, r.cash],
        );
        await strategyLog(m, r.id, run.runKey, 'info', `sale proceeds of ${r.cash} KRW returned to the account`);
      }
      this.logger.log({ runKey: run.runKey, liquidated: liquidated.length }, 'execute finished');
      return { liquidated: liquidated.length };
    });
  }
}
