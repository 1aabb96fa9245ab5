import { Inject, Injectable, Logger } from '@nestjs/common';
import { lowerBoundDate, parseStrategyDefinition, type StrategyDefinition } from '@stocklab/strategy-engine';
import type { EntityManager } from 'typeorm';
import { BROKER, type Broker, type BrokerOrder } from '../broker/broker.js';
import { clientOrderId } from '../broker/client-order-id.js';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import { MarketDataService, yyyymmdd } from '../market/market-data.service.js';
import { strategyLog, type JobBody, type JobContext } from './job-context.js';
import { ConditionEvaluator, sellReason, type SellReason } from './sell-rules.js';
import { returnedRows } from '../database/returning.js';

interface StrategyRow {
  id: string;
  account_id: string;
  rules: unknown;
  cash: string;
  status: 'active' | 'liquidating';
}

interface IntentRow {
  id: string;
  client_order_id: string;
  auto_strategy_id: string;
  account_id: string;
  code: string;
  side: 'buy' | 'sell';
  quantity: string;
  reference_price: string | null;
  reason: string;
  status: 'pending' | 'sent' | 'filled' | 'rejected';
}

interface PlannedIntent {
  strategyId: string;
  accountId: string;
  code: string;
  side: 'buy' | 'sell';
  quantity: number;
  referencePrice: number | null;
  reason: SellReason | 'pick';
}

/**
 * 09:00. Three phases, each restartable by a newer leader under the same run key:
 * 1. plan: from the state at the start of the run, every order of the day is written as an
 *    intent with its deterministic client order id, all in one fenced transaction, before any is
 *    sent (a resumed run finds the plan and never makes a second one);
 * 2. send: each pending intent goes to the broker with its client order id; an intent already
 *    marked sent is first looked up at the broker (it may have arrived before a crash), so a
 *    repeated id is never needed; each fill updates cash and positions in one transaction;
 * 3. finish: liquidated strategies are deactivated and the day's performance is written.
 */
@Injectable()
export class ExecuteJob implements JobBody {
  private readonly logger = new Logger(ExecuteJob.name);

  constructor(
    private readonly market: MarketDataService,
    @Inject(BROKER) private readonly broker: Broker,
    private readonly metrics: TradingMetrics,
  ) {}

  async run(ctx: JobContext): Promise<Record<string, unknown>> {
    const planned = await this.plan(ctx);
    const sent = await this.send(ctx);
    const finished = await this.finish(ctx);
    return { ...planned, ...sent, ...finished };
  }

  private async plan(ctx: JobContext): Promise<Record<string, unknown>> {
    const { run } = ctx;
    const snapshot = await this.market.snapshot();
    const data = snapshot.data;
    const today = yyyymmdd(run.tradingDate);
    const signalIndex = lowerBoundDate(data.dates, today) - 1;
    const evaluator = signalIndex >= 0 ? new ConditionEvaluator(data, signalIndex) : undefined;
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
        `SELECT id, account_id, rules, cash, status FROM trading.auto_strategies
          WHERE status IN ('active', 'liquidating') ORDER BY id FOR UPDATE`,
      );
      const intents: PlannedIntent[] = [];
      for (const s of strategies) {
        const parsed = parseStrategyDefinition(s.rules);
        if (!parsed.ok) {
          await strategyLog(m, s.id, run.runKey, 'error', 'execute skipped: stored rules are invalid');
          continue;
        }
        intents.push(...(await this.planStrategy(m, ctx, s, parsed.value, today, data, evaluator)));
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
      // sells first, so that their proceeds are booked before the buys are checked against cash
      const ordered = [...intents.filter((i) => i.side === 'sell'), ...intents.filter((i) => i.side === 'buy')];
      let seq = 0;
      for (const i of ordered) {
        seq += 1;
        await m.query(
          `INSERT INTO trading.order_intents (client_order_id, run_key, seq, auto_strategy_id, account_id, trading_date,
             code, side, quantity, reference_price, reason, status, epoch)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12)`,
          [
            clientOrderId(run.runKey, i.strategyId, i.code, i.side),
            run.runKey,
            seq,
            i.strategyId,
            i.accountId,
            run.tradingDate,
            i.code,
            i.side,
            i.quantity,
            i.referencePrice,
            i.reason,
            ctx.epoch,
          ],
        );
      }
      await m.query(`UPDATE trading.job_runs SET planned_at = now() WHERE id = $1`, [run.id]);
      return { intents: ordered.length, strategies: strategies.length, resumedPlan: false };
    });
  }

  private async planStrategy(
    m: EntityManager,
    ctx: JobContext,
    s: StrategyRow,
    def: StrategyDefinition,
    today: number,
    data: Awaited<ReturnType<MarketDataService['snapshot']>>['data'],
    evaluator: ConditionEvaluator | undefined,
  ): Promise<PlannedIntent[]> {
    const runKey = ctx.run.runKey;
    const positions: Array<{ code: string; quantity: string; entry_price: string; entry_date: string }> = await m.query(
      `SELECT code, quantity, entry_price, to_char(entry_date, 'YYYYMMDD') AS entry_date FROM trading.positions
        WHERE auto_strategy_id = $1 ORDER BY code`,
      [s.id],
    );
    const out: PlannedIntent[] = [];
    const selling = new Set<string>();
    for (const p of positions) {
      const reason: SellReason | undefined =
        s.status === 'liquidating'
          ? 'liquidation'
          : sellReason(
              def,
              data,
              { code: p.code, entryPrice: Number(p.entry_price), entryDate: Number(p.entry_date) },
              today,
              evaluator,
            );
      if (reason) {
        selling.add(p.code);
        out.push({
          strategyId: s.id,
          accountId: s.account_id,
          code: p.code,
          side: 'sell',
          quantity: Number(p.quantity),
          referencePrice: null,
          reason,
        });
        await strategyLog(m, s.id, runKey, 'info', `sell ${p.quantity} ${p.code}: ${reason}`);
      }
    }
    if (s.status === 'liquidating') {
      return out;
    }
    // only the picks made for this trading date: never those of another day
    const picks: Array<{ code: string; weight: string; reference_price: string }> = await m.query(
      `SELECT code, weight, reference_price FROM trading.picks WHERE auto_strategy_id = $1 AND trading_date = $2 ORDER BY rank`,
      [s.id, ctx.run.tradingDate],
    );
    const cash = Number(s.cash);
    let holdings = positions.length - selling.size;
    for (const pick of picks) {
      if (positions.some((p) => p.code === pick.code)) {
        await strategyLog(m, s.id, runKey, 'info', `not buying ${pick.code}: already held`);
        continue;
      }
      if (holdings >= def.maxPositions) {
        await strategyLog(m, s.id, runKey, 'info', `not buying ${pick.code}: ${def.maxPositions} positions held`);
        continue;
      }
      const price = Number(pick.reference_price);
      const quantity = Math.floor((cash * Number(pick.weight)) / price);
      if (!(quantity > 0)) {
        await strategyLog(m, s.id, runKey, 'warn', `not buying ${pick.code}: insufficient cash for one share`, {
          cash,
          weight: Number(pick.weight),
          referencePrice: price,
        });
        continue;
      }
      holdings += 1;
      out.push({
        strategyId: s.id,
        accountId: s.account_id,
        code: pick.code,
        side: 'buy',
        quantity,
        referencePrice: price,
        reason: 'pick',
      });
    }
    if (picks.length === 0) {
      await strategyLog(m, s.id, runKey, 'info', `no picks for ${ctx.run.tradingDate}`);
    }
    return out;
  }

  private async send(ctx: JobContext): Promise<Record<string, unknown>> {
    const intents: IntentRow[] = await ctx.fenced((m) =>
      m.query(
        `SELECT id, client_order_id, auto_strategy_id, account_id, code, side, quantity, reference_price, reason, status
           FROM trading.order_intents WHERE run_key = $1 AND status IN ('pending', 'sent') ORDER BY seq`,
        [ctx.run.runKey],
      ),
    );
    let filled = 0;
    let rejected = 0;
    for (const intent of intents) {
      ctx.signal.throwIfAborted();
      let order: BrokerOrder | undefined;
      if (intent.status === 'sent') {
        // sent before a crash or a fail-over: the broker may or may not have received it
        order = await this.broker.getOrder(intent.account_id, intent.client_order_id);
      }
      if (!order) {
        if (intent.side === 'buy') {
          const cashOk = await ctx.fenced(async (m) => {
            const rows: Array<{ cash: string }> = await m.query(
              `SELECT cash FROM trading.auto_strategies WHERE id = $1`,
              [intent.auto_strategy_id],
            );
            const needed = Number(intent.quantity) * Number(intent.reference_price);
            if (Number(rows[0]?.cash ?? 0) >= needed) {
              return true;
            }
            await this.complete(m, intent, undefined, 'insufficient cash');
            return false;
          });
          if (!cashOk) {
            rejected += 1;
            continue;
          }
        }
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
          orderType: 'market',
          quantity: Number(intent.quantity),
        });
      }
      const result = order;
      // the order happened at the broker: book it even if this term just ended (the epoch still guards it)
      const outcome = await ctx.fenced((m) => this.complete(m, intent, result));
      if (outcome === 'filled') {
        filled += 1;
      } else if (outcome === 'rejected') {
        rejected += 1;
      }
    }
    return { filled, rejected };
  }

  /** Books a broker answer (or a local rejection) on the intent, once; a fill moves cash and positions. */
  private async complete(
    m: EntityManager,
    intent: IntentRow,
    order: BrokerOrder | undefined,
    localReject?: string,
  ): Promise<'filled' | 'rejected' | 'pending' | 'already'> {
    if (order && order.status === 'accepted') {
      return 'pending';
    }
    const status = order?.status === 'filled' ? 'filled' : 'rejected';
    const reason = localReject ?? order?.rejectReason ?? null;
    const updated = returnedRows<{ id: string }>(
      await m.query(
        `UPDATE trading.order_intents
          SET status = $2, broker_order_id = $3, broker_result = $4, reject_reason = $5, fill_price = $6,
              fill_price_source = $7, fill_price_date = $8, fill_amount = $9, completed_at = now()
        WHERE id = $1 AND status IN ('pending', 'sent') RETURNING id`,
        [
          intent.id,
          status,
          order?.brokerOrderId ?? null,
          order ? JSON.stringify(order) : null,
          reason,
          order?.fillPrice ?? null,
          order?.fillPriceSource ?? null,
          order?.fillPriceDate ?? null,
          order?.amount ?? null,
        ],
      ),
    );
    if (updated.length === 0) {
      return 'already';
    }
    this.metrics.orders.inc({ side: intent.side, status });
    const qty = Number(intent.quantity);
    if (status === 'rejected') {
      await strategyLog(
        m,
        intent.auto_strategy_id,
        null,
        'warn',
        `${intent.side} ${qty} ${intent.code} rejected: ${reason}`,
        {
          clientOrderId: intent.client_order_id,
        },
      );
      return 'rejected';
    }
    const amount = order?.amount as number;
    const price = order?.fillPrice as number;
    if (intent.side === 'buy') {
      await m.query(`UPDATE trading.auto_strategies SET cash = cash - $2, updated_at = now() WHERE id = $1`, [
        intent.auto_strategy_id,
        amount,
      ]);
      await m.query(
        `INSERT INTO trading.positions (auto_strategy_id, code, quantity, entry_price, entry_date, cost)
         VALUES ($1, $2, $3, $4, (SELECT trading_date FROM trading.order_intents WHERE id = $6), $5)
         ON CONFLICT (auto_strategy_id, code) DO UPDATE SET
           quantity = positions.quantity + EXCLUDED.quantity,
           cost = positions.cost + EXCLUDED.cost,
           entry_price = (positions.cost + EXCLUDED.cost)::numeric / (positions.quantity + EXCLUDED.quantity),
           updated_at = now()`,
        [intent.auto_strategy_id, intent.code, qty, price, amount, intent.id],
      );
    } else {
      await m.query(`UPDATE trading.auto_strategies SET cash = cash + $2, updated_at = now() WHERE id = $1`, [
        intent.auto_strategy_id,
        amount,
      ]);
      // a sell of the whole position deletes it (quantity 0 would violate ck_positions_quantity)
      await m.query(`DELETE FROM trading.positions WHERE auto_strategy_id = $1 AND code = $2 AND quantity <= $3`, [
        intent.auto_strategy_id,
        intent.code,
        qty,
      ]);
      await m.query(
        `UPDATE trading.positions SET quantity = quantity - $3,
            cost = cost - round(cost::numeric * $3 / quantity), updated_at = now()
          WHERE auto_strategy_id = $1 AND code = $2 AND quantity > $3`,
        [intent.auto_strategy_id, intent.code, qty],
      );
    }
    await strategyLog(
      m,
      intent.auto_strategy_id,
      null,
      'info',
      `${intent.side} ${qty} ${intent.code} filled at ${price} (${order?.fillPriceSource})`,
      { clientOrderId: intent.client_order_id, amount, priceDate: order?.fillPriceDate },
    );
    return 'filled';
  }

  private async finish(ctx: JobContext): Promise<Record<string, unknown>> {
    const { run } = ctx;
    return ctx.fenced(async (m) => {
      const liquidated = returnedRows<{ id: string }>(
        await m.query(
          `UPDATE trading.auto_strategies s SET status = 'inactive', deactivated_at = now(), updated_at = now()
          WHERE s.status = 'liquidating'
            AND NOT EXISTS (SELECT 1 FROM trading.positions p WHERE p.auto_strategy_id = s.id)
            AND NOT EXISTS (SELECT 1 FROM trading.order_intents i WHERE i.auto_strategy_id = s.id AND i.status IN ('pending', 'sent'))
          RETURNING s.id`,
        ),
      );
      for (const l of liquidated) {
        await m.query(
          `UPDATE trading.accounts a SET cash = a.cash + s.cash, updated_at = now()
             FROM trading.auto_strategies s WHERE s.id = $1 AND a.id = s.account_id`,
          [l.id],
        );
        await m.query(`UPDATE trading.auto_strategies SET cash = 0 WHERE id = $1`, [l.id]);
        await strategyLog(m, l.id, run.runKey, 'info', 'liquidated: deactivated, cash returned to the account');
      }
      // the day's value: cash + holdings at the latest close on or before the trading date
      const perf: unknown[] = await m.query(
        `INSERT INTO trading.daily_performance (auto_strategy_id, date, value, cash, invested, run_key)
         SELECT s.id, $1::date, s.cash + coalesce(v.invested, 0), s.cash, coalesce(v.invested, 0), $2
           FROM trading.auto_strategies s
           LEFT JOIN LATERAL (
             SELECT round(sum(p.quantity * coalesce(
                      (SELECT b.close FROM market.daily_bars b WHERE b.code = p.code AND b.date <= $1::date
                        ORDER BY b.date DESC LIMIT 1), p.entry_price::double precision)))::bigint AS invested
               FROM trading.positions p WHERE p.auto_strategy_id = s.id
           ) v ON true
          WHERE s.status IN ('active', 'liquidating') OR s.id = ANY($3::uuid[])
         ON CONFLICT (auto_strategy_id, date) DO UPDATE
           SET value = EXCLUDED.value, cash = EXCLUDED.cash, invested = EXCLUDED.invested, run_key = EXCLUDED.run_key
         RETURNING auto_strategy_id`,
        [run.tradingDate, run.runKey, liquidated.map((l) => l.id)],
      );
      this.logger.log({ runKey: run.runKey, liquidated: liquidated.length }, 'execute finished');
      return { liquidated: liquidated.length, performanceRows: perf.length };
    });
  }
}
