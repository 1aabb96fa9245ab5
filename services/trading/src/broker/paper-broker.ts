import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import { DataSource, type EntityManager } from 'typeorm';
import type { TradingConfig } from '../config.js';
import { TradingClock } from '../scheduler/trading-clock.js';
import type { AccountBalance, Broker, BrokerOrder, FillPriceSource, PlaceOrderRequest } from './broker.js';

interface PaperOrderRow {
  client_order_id: string;
  broker_order_id: string;
  status: 'filled' | 'rejected';
  quantity: string;
  reject_reason: string | null;
  fill_price: string | null;
  fill_price_source: FillPriceSource | null;
  fill_price_date: string | null;
  amount: string | null;
}

function toOrder(row: PaperOrderRow): BrokerOrder {
  return {
    clientOrderId: row.client_order_id,
    brokerOrderId: row.broker_order_id,
    status: row.status,
    quantity: Number(row.quantity),
    ...(row.reject_reason !== null ? { rejectReason: row.reject_reason } : {}),
    ...(row.fill_price !== null ? { fillPrice: Number(row.fill_price) } : {}),
    ...(row.fill_price_source !== null ? { fillPriceSource: row.fill_price_source } : {}),
    ...(row.fill_price_date !== null ? { fillPriceDate: row.fill_price_date } : {}),
    ...(row.amount !== null ? { amount: Number(row.amount) } : {}),
  };
}

const ORDER_COLUMNS = `client_order_id, broker_order_id, status, quantity, reject_reason, fill_price, fill_price_source,
  to_char(fill_price_date, 'YYYY-MM-DD') AS fill_price_date, amount`;

/**
 * A broker simulated on the platform's market data. Market orders fill at once at the trading
 * day's open when the platform has that bar, else at the latest close it has (recorded as such);
 * limit orders fill at that price only if it is at or better than the limit. Every call is
 * recorded in paper_order_requests; a repeated client order id is answered with the existing
 * order, never filled twice. PAPER_BROKER_LATENCY_MS delays each call like a remote system.
 */
@Injectable()
export class PaperBroker implements Broker {
  readonly name = 'paper';

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: TradingClock,
    @Inject(CONFIG) private readonly config: TradingConfig,
  ) {}

  private async latency(): Promise<void> {
    if (this.config.PAPER_BROKER_LATENCY_MS > 0) {
      await sleep(this.config.PAPER_BROKER_LATENCY_MS);
    }
  }

  async token(): Promise<string> {
    return `paper-${randomUUID()}`;
  }

  async openAccount(accountId: string, initialCash: number): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO trading.paper_accounts (account_id, cash) VALUES ($1, $2) ON CONFLICT (account_id) DO NOTHING`,
      [accountId, initialCash],
    );
  }

  async getOrder(accountId: string, clientOrderId: string): Promise<BrokerOrder | undefined> {
    await this.latency();
    const rows: PaperOrderRow[] = await this.dataSource.query(
      `SELECT ${ORDER_COLUMNS} FROM trading.paper_orders WHERE client_order_id = $1 AND account_id = $2`,
      [clientOrderId, accountId],
    );
    return rows[0] ? toOrder(rows[0]) : undefined;
  }

  async getBalance(accountId: string): Promise<AccountBalance> {
    await this.latency();
    const cash: Array<{ cash: string }> = await this.dataSource.query(
      `SELECT cash FROM trading.paper_accounts WHERE account_id = $1`,
      [accountId],
    );
    const holdings: Array<{ code: string; quantity: string }> = await this.dataSource.query(
      `SELECT code, quantity FROM trading.paper_holdings WHERE account_id = $1 ORDER BY code`,
      [accountId],
    );
    return {
      accountId,
      cash: Number(cash[0]?.cash ?? 0),
      holdings: holdings.map((h) => ({ code: h.code, quantity: Number(h.quantity) })),
    };
  }

  async placeOrder(request: PlaceOrderRequest): Promise<BrokerOrder> {
    // the request travels to the broker first: a caller that dies meanwhile was never heard
    await this.latency();
    const tradingDate = this.clock.tradingDate();
    return this.dataSource.transaction(async (m) => {
      // one order at a time per account (cash and holdings are checked and moved together)
      const account: Array<{ cash: string }> = await m.query(
        `SELECT cash FROM trading.paper_accounts WHERE account_id = $1 FOR UPDATE`,
        [request.accountId],
      );
      const existing: PaperOrderRow[] = await m.query(
        `SELECT ${ORDER_COLUMNS} FROM trading.paper_orders WHERE client_order_id = $1 FOR UPDATE`,
        [request.clientOrderId],
      );
      await m.query(`INSERT INTO trading.paper_order_requests (client_order_id, repeated) VALUES ($1, $2)`, [
        request.clientOrderId,
        existing.length > 0,
      ]);
      if (existing[0]) {
        return toOrder(existing[0]);
      }
      const decision = await this.decide(m, request, account[0] ? Number(account[0].cash) : undefined, tradingDate);
      const rows: PaperOrderRow[] = await m.query(
        `INSERT INTO trading.paper_orders (client_order_id, account_id, code, side, order_type, quantity, limit_price, status,
           reject_reason, fill_price, fill_price_source, fill_price_date, amount, trading_date)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         RETURNING ${ORDER_COLUMNS}`,
        [
          request.clientOrderId,
          request.accountId,
          request.code,
          request.side,
          request.orderType,
          request.quantity,
          request.limitPrice ?? null,
          decision.status,
          decision.rejectReason ?? null,
          decision.fillPrice ?? null,
          decision.source ?? null,
          decision.priceDate ?? null,
          decision.amount ?? null,
          tradingDate,
        ],
      );
      if (decision.status === 'filled') {
        const amount = decision.amount as number;
        if (request.side === 'buy') {
          await m.query(`UPDATE trading.paper_accounts SET cash = cash - $2 WHERE account_id = $1`, [
            request.accountId,
            amount,
          ]);
          await m.query(
            `INSERT INTO trading.paper_holdings (account_id, code, quantity) VALUES ($1, $2, $3)
             ON CONFLICT (account_id, code) DO UPDATE SET quantity = paper_holdings.quantity + EXCLUDED.quantity`,
            [request.accountId, request.code, request.quantity],
          );
        } else {
          await m.query(`UPDATE trading.paper_accounts SET cash = cash + $2 WHERE account_id = $1`, [
            request.accountId,
            amount,
          ]);
          // selling the whole holding deletes it (quantity 0 would violate ck_paper_holdings_quantity)
          await m.query(`DELETE FROM trading.paper_holdings WHERE account_id = $1 AND code = $2 AND quantity = $3`, [
            request.accountId,
            request.code,
            request.quantity,
          ]);
          await m.query(
            `UPDATE trading.paper_holdings SET quantity = quantity - $3 WHERE account_id = $1 AND code = $2 AND quantity > $3`,
            [request.accountId, request.code, request.quantity],
          );
        }
      }
      return toOrder(rows[0]);
    });
  }

  private async decide(
    m: EntityManager,
    request: PlaceOrderRequest,
    cash: number | undefined,
    tradingDate: string,
  ): Promise<{
    status: 'filled' | 'rejected';
    rejectReason?: string;
    fillPrice?: number;
    source?: FillPriceSource;
    priceDate?: string;
    amount?: number;
  }> {
    if (cash === undefined) {
      return { status: 'rejected', rejectReason: 'unknown account' };
    }
    if (!Number.isSafeInteger(request.quantity) || request.quantity <= 0) {
      return { status: 'rejected', rejectReason: 'invalid quantity' };
    }
    const known: unknown[] = await m.query(`SELECT 1 FROM market.securities WHERE code = $1`, [request.code]);
    if (known.length === 0) {
      return { status: 'rejected', rejectReason: 'unknown code' };
    }
    const price = await paperFillPrice(m, request.code, tradingDate);
    if (!price) {
      return { status: 'rejected', rejectReason: 'no price' };
    }
    if (request.orderType === 'limit') {
      const limit = request.limitPrice ?? Number.NaN;
      const reachable = request.side === 'buy' ? price.price <= limit : price.price >= limit;
      if (!reachable) {
        return { status: 'rejected', rejectReason: 'limit price not reached' };
      }
    }
    const amount = Math.round(request.quantity * price.price);
    if (request.side === 'buy' && amount > cash) {
      return { status: 'rejected', rejectReason: 'insufficient cash' };
    }
    if (request.side === 'sell') {
      const held: Array<{ quantity: string }> = await m.query(
        `SELECT quantity FROM trading.paper_holdings WHERE account_id = $1 AND code = $2`,
        [request.accountId, request.code],
      );
      if (Number(held[0]?.quantity ?? 0) < request.quantity) {
        return { status: 'rejected', rejectReason: 'insufficient holdings' };
      }
    }
    return { status: 'filled', fillPrice: price.price, source: price.source, priceDate: price.date, amount };
  }
}

/** The day's open when the platform has that bar, else the latest close on or before the day. */
export async function paperFillPrice(
  m: Pick<EntityManager, 'query'>,
  code: string,
  tradingDate: string,
): Promise<{ price: number; source: FillPriceSource; date: string } | undefined> {
  const open: Array<{ open: number }> = await m.query(
    `SELECT open FROM market.daily_bars WHERE code = $1 AND date = $2 AND open > 0`,
    [code, tradingDate],
  );
  if (open[0]) {
    return { price: open[0].open, source: 'open', date: tradingDate };
  }
  const close: Array<{ close: number; date: string }> = await m.query(
    `SELECT close, to_char(date, 'YYYY-MM-DD') AS date FROM market.daily_bars
      WHERE code = $1 AND date <= $2 AND close > 0 ORDER BY date DESC LIMIT 1`,
    [code, tradingDate],
  );
  return close[0] ? { price: close[0].close, source: 'latest_close', date: close[0].date } : undefined;
}
