import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { KiwoomOrders } from '../broker/kiwoom-orders.js';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import type { JobBody, JobContext } from './job-context.js';
import { OrderBook } from './order-book.js';

/** One difference between what the platform books and what the broker holds. */
export interface Drift {
  /** a stock whose quantities differ, or the cash the strategies count on */
  item: string;
  platform: number;
  broker: number;
}

/**
 * 15:40, after the close: the day's session is over, so every order still open ends (fills,
 * partial fills and expiries booked from the brokers' own lists), then each linked account is
 * compared with the broker's balance (kt00018 holdings, kt00001 orderable cash) and every
 * difference is recorded, counted and logged; nothing is "fixed" here: a drift means something
 * happened that the platform did not do or did not see, and a person has to say which.
 */
@Injectable()
export class ReconcileJob implements JobBody {
  private readonly logger = new Logger(ReconcileJob.name);

  constructor(
    private readonly book: OrderBook,
    private readonly kiwoom: KiwoomOrders,
    private readonly metrics: TradingMetrics,
  ) {}

  async run(ctx: JobContext): Promise<Record<string, unknown>> {
    const date = ctx.run.tradingDate;
    // the day's own run: the broker's charges of today's fills can be read (ka10076)
    const booked = await this.book.reconcile((w) => ctx.fenced(w), date, ctx.signal, date, date);
    const accounts: Array<{ id: string }> = await ctx.fenced((m) =>
      m.query(
        `SELECT DISTINCT s.broker_account_id AS id FROM trading.auto_strategies s
          WHERE s.broker_account_id IS NOT NULL
            AND (s.status <> 'inactive' OR EXISTS (SELECT 1 FROM trading.positions p WHERE p.auto_strategy_id = s.id))
          ORDER BY 1`,
      ),
    );
    let drifting = 0;
    for (const { id } of accounts) {
      ctx.signal.throwIfAborted();
      const api = await this.kiwoom.apiOf(id);
      const holdings = await api.holdings();
      const brokerCash = await api.orderableCash();
      const drifts = await ctx.fenced(async (m) => {
        const found = await this.compare(m, id, holdings, brokerCash);
        await m.query(
          `INSERT INTO trading.broker_reconciliations
             (broker_account_id, trading_date, platform_cash, broker_cash, drifts, drift_count, run_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (broker_account_id, trading_date) DO UPDATE
             SET platform_cash = EXCLUDED.platform_cash, broker_cash = EXCLUDED.broker_cash, drifts = EXCLUDED.drifts,
                 drift_count = EXCLUDED.drift_count, run_key = EXCLUDED.run_key, checked_at = now()`,
          [id, date, found.platformCash, brokerCash, JSON.stringify(found.drifts), found.drifts.length, ctx.run.runKey],
        );
        return found.drifts;
      });
      if (drifts.length > 0) {
        drifting += 1;
        this.metrics.brokerDrifts.inc(drifts.length);
        this.logger.error({ brokerAccountId: id, date, drifts }, 'the broker disagrees with the platform');
      }
    }
    this.metrics.accountsDrifting.set(drifting);
    return { booked, accounts: accounts.length, drifting };
  }

  private async compare(
    m: EntityManager,
    brokerAccountId: string,
    holdings: ReadonlyArray<{ code: string; quantity: number }>,
    brokerCash: number,
  ): Promise<{ drifts: Drift[]; platformCash: number }> {
    const held: Array<{ code: string; quantity: string }> = await m.query(
      `SELECT p.code, sum(p.quantity) AS quantity FROM trading.positions p
         JOIN trading.auto_strategies s ON s.id = p.auto_strategy_id
        WHERE s.broker_account_id = $1 GROUP BY p.code`,
      [brokerAccountId],
    );
    const cash: Array<{ cash: string | null }> = await m.query(
      `SELECT sum(cash) AS cash FROM trading.auto_strategies WHERE broker_account_id = $1 AND status <> 'inactive'`,
      [brokerAccountId],
    );
    const platform = new Map(held.map((h) => [h.code, Number(h.quantity)]));
    const broker = new Map<string, number>();
    for (const h of holdings) {
      broker.set(h.code, (broker.get(h.code) ?? 0) + h.quantity);
    }
    const drifts: Drift[] = [];
    for (const code of [...new Set([...platform.keys(), ...broker.keys()])].sort()) {
      const mine = platform.get(code) ?? 0;
      const theirs = broker.get(code) ?? 0;
      if (mine !== theirs) {
        drifts.push({ item: code, platform: mine, broker: theirs });
      }
    }
    const platformCash = Number(cash[0]?.cash ?? 0);
    // the account may hold more than the strategies were given; less means they count on money that is not there
    if (brokerCash < platformCash) {
      drifts.push({ item: 'cash', platform: platformCash, broker: brokerCash });
    }
    return { drifts, platformCash };
  }
}
