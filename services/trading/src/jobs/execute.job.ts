import { Inject, Injectable, Logger } from '@nestjs/common';
import type { MarketData } from '@stocklab/strategy-engine';
import type { EntityManager } from 'typeorm';
import { BROKER, type Broker } from '../broker/broker.js';
import { KiwoomOrders } from '../broker/kiwoom-orders.js';
import { returnedRows } from '../database/returning.js';
import { MarketDataService } from '../market/market-data.service.js';
import { applyCorporateActions } from '../portfolio/corporate-actions.js';
import { CalendarService } from '../calendar/calendar.service.js';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import { signalDayOf, StaleMarketDataError } from './data-freshness.js';
import { planDay } from './day-plan.js';
import { strategyLog, type JobBody, type JobContext } from './job-context.js';
import { INTENT_COLUMNS, OPEN_INTENT_STATUSES, OrderBook, type IntentRow, type Outcome } from './order-book.js';
import { sendPaperIntents } from './paper-send.js';

/**
 * 09:00. Four phases, each restartable by a newer leader under the same run key:
 * 1. reconcile: the broker's answers on every order still open (earlier days' fills are booked
 *    before anything is decided on them);
 * 2. plan: positions held through a corporate action are adjusted, once each (applyCorporateActions);
 *    then per strategy, the engine's StrategyDecider decides on the signal day's close (the last
 *    market day before the trading date) from the state held in PostgreSQL, exactly as a backtest
 *    decides; its orders are written as intents with deterministic client order ids, the day's
 *    performance row is written at the value the decision saw, all in one fenced transaction,
 *    before any order is sent (a resumed run finds the plan and never makes a second one). The
 *    state is read and the rows written set-based, and the strategies share each factor of the
 *    day (see planDay), so the plan's cost grows with rows written, not with queries per strategy;
 * 3. send: each pending intent goes to the broker, which accepts it for the trading day; an intent
 *    already marked sent is first looked up at the broker (it may have arrived before a crash).
 *    Linked accounts one order at a time (KiwoomOrders); paper intents marked sent by the round,
 *    several accounts at once, booked as answered (see sendPaperIntents);
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
    // each phase's duration is reported with the run (what the daily-jobs benchmark reads)
    const ms: Record<string, number> = {};
    const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await work();
      } finally {
        ms[phase] = Math.round(performance.now() - started);
      }
    };
    const before = await timed('reconcile', () =>
      this.book.reconcile((w) => ctx.fenced(w), ctx.run.tradingDate, ctx.signal),
    );
    const planned = await timed('plan', () => this.plan(ctx));
    const sent = await timed('send', () => this.send(ctx));
    const after = await timed('reconcileAfter', () =>
      this.book.reconcile((w) => ctx.fenced(w), ctx.run.tradingDate, ctx.signal),
    );
    const finished = await timed('finish', () => this.finish(ctx));
    return {
      ...planned,
      ...sent,
      booked: { earlier: before.filled + before.expired + before.rejected, today: after.filled + after.expired },
      open: after.accepted,
      ...finished,
      ms,
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
      // positions held through a split or issue first, once each: the decision values and sells them adjusted
      const adjusted = await applyCorporateActions(m, snapshot, signalDay, run.runKey);
      const planned = await planDay(
        m,
        { runKey: run.runKey, tradingDate: run.tradingDate, epoch: ctx.epoch },
        snapshot,
        signalDay,
      );
      await m.query(`UPDATE trading.job_runs SET planned_at = now() WHERE id = $1`, [run.id]);
      return {
        intents: planned.intents,
        strategies: planned.strategies,
        decided: planned.decided,
        signalDate: planned.signalDate,
        corporateActions: adjusted.positions,
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

  private async send(ctx: JobContext): Promise<Record<string, unknown>> {
    const unsent = `SELECT ${INTENT_COLUMNS}, seq FROM trading.order_intents
      WHERE run_key = $1 AND status IN ('pending', 'sending', 'sent')`;
    const intents: IntentRow[] = await ctx.fenced((m) =>
      m.query(`${unsent} AND broker_account_id IS NOT NULL ORDER BY seq`, [ctx.run.runKey]),
    );
    let accepted = 0;
    let rejected = 0;
    let review = 0;
    // linked Kiwoom accounts keep their own path: one order at a time, under the broker's rate limit
    for (const intent of intents) {
      ctx.signal.throwIfAborted();
      const outcome = await this.sendToLinkedAccount(ctx, intent);
      if (outcome === 'rejected') {
        rejected += 1;
      } else if (outcome === 'needs_review') {
        review += 1;
      } else {
        accepted += 1;
      }
    }
    const paper = await sendPaperIntents(
      ctx,
      (afterSeq, limit) =>
        ctx.fenced((m) =>
          m.query(`${unsent} AND broker_account_id IS NULL AND seq > $2 ORDER BY seq LIMIT $3`, [
            ctx.run.runKey,
            afterSeq,
            limit,
          ]),
        ),
      this.broker,
      this.book,
      this.book.concurrency,
    );
    return { accepted: accepted + paper.accepted, rejected: rejected + paper.rejected, needsReview: review };
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
