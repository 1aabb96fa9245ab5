import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import { fillOnBar, type Market, type OrderKind } from '@stocklab/strategy-engine';
import { DataSource, type EntityManager } from 'typeorm';
import type { TradingConfig } from '../config.js';
import { returnedRows } from '../database/returning.js';
import { ORDER_TYPE_OF, type AccountBalance, type Broker, type BrokerOrder, type PlaceOrderRequest } from './broker.js';

interface PaperOrderRow {
  client_order_id: string;
  broker_order_id: string;
  account_id: string;
  code: string;
  side: 'buy' | 'sell';
  kind: OrderKind;
  status: BrokerOrder['status'];
  quantity: string;
  limit_price: string | null;
  reject_reason: string | null;
  fill_price: string | null;
  fill_price_source: 'open' | 'level' | null;
  fill_price_date: string | null;
  trading_date: string;
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
  };
}

const ORDER_COLUMNS = `client_order_id, broker_order_id, account_id, code, side, kind, status, quantity, limit_price,
  reject_reason, fill_price, fill_price_source, to_char(fill_price_date, 'YYYY-MM-DD') AS fill_price_date,
  to_char(trading_date, 'YYYY-MM-DD') AS trading_date`;

/**
 * A broker simulated on the platform's market data, with a broker's timing: an order is accepted
 * when it arrives (cash or shares are checked against what the account's open orders have not
 * taken yet) and filled only once its trading day's bar exists, by the engine's own fill rules
 * (fillOnBar), so a paper fill is exactly the fill the backtest simulates and never at a price
 * known when the order was sent. A day whose bars are imported without one for the stock
 * (suspended) expires the order unfilled. The market is matched lazily: whenever an order is
 * placed or asked about, which is when its owner could first learn the outcome.
 *
 * Every call is recorded in paper_order_requests; a repeated client order id is answered with the
 * existing order, never a second one. PAPER_BROKER_LATENCY_MS delays each call like a remote
 * system. Amounts are quantity x fill price in whole won; the paper broker charges no fees (the
 * strategy's cost model books commission, tax and slippage on the trading side).
 */
@Injectable()
export class PaperBroker implements Broker {
  readonly name = 'paper';

  constructor(
    private readonly dataSource: DataSource,
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
    // Only an accepted order whose day is imported changes by being asked about (it is matched):
    // only then is the account locked. Any other answer is read as it is, in one statement and
    // without a write transaction (a reconciliation asks about 100,000s of accepted orders
    // before their day has traded).
    const seen: Array<PaperOrderRow & { day_imported: boolean }> = await this.dataSource.query(
      `SELECT ${ORDER_COLUMNS},
              EXISTS (SELECT 1 FROM market.daily_bars b WHERE b.date = o.trading_date) AS day_imported
         FROM trading.paper_orders o WHERE client_order_id = $1 AND account_id = $2`,
      [clientOrderId, accountId],
    );
    if (!seen[0] || seen[0].status !== 'accepted' || !seen[0].day_imported) {
      return seen[0] ? toOrder(seen[0]) : undefined;
    }
    return this.dataSource.transaction(async (m) => {
      await lockAccount(m, accountId);
      // read again under the lock: another call may have matched it meanwhile
      const rows: PaperOrderRow[] = await m.query(
        `SELECT ${ORDER_COLUMNS} FROM trading.paper_orders WHERE client_order_id = $1 AND account_id = $2`,
        [clientOrderId, accountId],
      );
      return rows[0] ? toOrder(await this.match(m, rows[0])) : undefined;
    });
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
    return this.dataSource.transaction(async (m) => {
      // one order at a time per account (cash and holdings are checked and moved together)
      const cash = await lockAccount(m, request.accountId);
      const existing: PaperOrderRow[] = await m.query(
        `SELECT ${ORDER_COLUMNS} FROM trading.paper_orders WHERE client_order_id = $1 FOR UPDATE`,
        [request.clientOrderId],
      );
      await m.query(`INSERT INTO trading.paper_order_requests (client_order_id, repeated) VALUES ($1, $2)`, [
        request.clientOrderId,
        existing.length > 0,
      ]);
      if (existing[0]) {
        return toOrder(await this.match(m, existing[0]));
      }
      const rejectReason = await this.check(m, request, cash);
      const rows: PaperOrderRow[] = await m.query(
        `INSERT INTO trading.paper_orders (client_order_id, account_id, code, side, kind, order_type, quantity, limit_price,
           status, reject_reason, trading_date)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING ${ORDER_COLUMNS}`,
        [
          request.clientOrderId,
          request.accountId,
          request.code,
          request.side,
          request.kind,
          ORDER_TYPE_OF[request.kind],
          // a rejected order is recorded too; a quantity that is not a whole number is recorded as 0
          Number.isSafeInteger(request.quantity) ? request.quantity : 0,
          request.price ?? null,
          rejectReason ? 'rejected' : 'accepted',
          rejectReason ?? null,
          request.tradingDate,
        ],
      );
      return toOrder(await this.match(m, rows[0]));
    });
  }

  /** Why the order cannot be accepted, or undefined. */
  private async check(
    m: EntityManager,
    request: PlaceOrderRequest,
    cash: number | undefined,
  ): Promise<string | undefined> {
    if (cash === undefined) {
      return 'unknown account';
    }
    if (!Number.isSafeInteger(request.quantity) || request.quantity <= 0) {
      return 'invalid quantity';
    }
    if (request.side !== (request.kind === 'limit_buy' ? 'buy' : 'sell')) {
      return 'order type does not match the side';
    }
    const priced = request.kind !== 'market_sell';
    if (priced !== (request.price !== undefined) || (priced && !((request.price as number) > 0))) {
      return 'invalid price';
    }
    const known: unknown[] = await m.query(`SELECT 1 FROM market.securities WHERE code = $1`, [request.code]);
    if (known.length === 0) {
      return 'unknown code';
    }
    if (request.side === 'buy') {
      // a limit buy holds quantity x limit until it fills or expires
      const held: Array<{ reserved: string }> = await m.query(
        `SELECT coalesce(sum(quantity * limit_price), 0) AS reserved FROM trading.paper_orders
          WHERE account_id = $1 AND status = 'accepted' AND side = 'buy'`,
        [request.accountId],
      );
      if (request.quantity * (request.price as number) > cash - Number(held[0]?.reserved ?? 0)) {
        return 'insufficient cash';
      }
      return undefined;
    }
    const shares: Array<{ free: string }> = await m.query(
      `SELECT coalesce((SELECT quantity FROM trading.paper_holdings WHERE account_id = $1 AND code = $2), 0)
            - coalesce((SELECT sum(quantity) FROM trading.paper_orders
                         WHERE account_id = $1 AND code = $2 AND status = 'accepted' AND side = 'sell'), 0) AS free`,
      [request.accountId, request.code],
    );
    return Number(shares[0]?.free ?? 0) < request.quantity ? 'insufficient holdings' : undefined;
  }

  /** Matches an accepted order against its day's bar once the day is imported; returns it as it now is. */
  private async match(m: EntityManager, order: PaperOrderRow): Promise<PaperOrderRow> {
    if (order.status !== 'accepted') {
      return order;
    }
    // the bar, its volume, the stock's market, the previous close (the base of the day's price
    // limits) and, on a corporate action's ex-date, the event's price factor (the base moves by it)
    const day: Array<{
      open: number | null;
      high: number | null;
      low: number | null;
      volume: string | null;
      market: Market | null;
      base: number | null;
      ex_factor: number | null;
    }> = await m.query(
      `SELECT b.open, b.high, b.low, b.volume,
              (SELECT s.market FROM market.securities s WHERE s.code = $2) AS market,
              (SELECT p.close FROM market.daily_bars p WHERE p.code = $2 AND p.date < $1 ORDER BY p.date DESC LIMIT 1) AS base,
              (SELECT a.price_factor FROM market.corporate_actions a WHERE a.code = $2 AND a.ex_date = $1) AS ex_factor
         FROM (SELECT 1 FROM market.daily_bars WHERE date = $1 LIMIT 1) imported
         LEFT JOIN market.daily_bars b ON b.code = $2 AND b.date = $1`,
      [order.trading_date, order.code],
    );
    if (day.length === 0) {
      return order; // the day has not traded yet, or its bars are not imported yet
    }
    const bar = day[0];
    const level = order.limit_price === null ? Number.NaN : Number(order.limit_price);
    // the engine's rules, as in a backtest: no fill without trading (volume 0), none against a
    // day locked at its price limit
    const fill =
      bar.open === null
        ? null
        : fillOnBar(
            order.kind,
            level,
            { open: bar.open, high: bar.high as number, low: bar.low as number, volume: Number(bar.volume) },
            {
              date: Number(order.trading_date.replaceAll('-', '')),
              market: bar.market ?? 'KOSPI',
              base: bar.base ?? Number.NaN,
              ...(bar.ex_factor === null ? {} : { exFactor: bar.ex_factor }),
            },
          );
    const quantity = Number(order.quantity);
    if (!fill) {
      const rows = returnedRows<PaperOrderRow>(
        await m.query(
          `UPDATE trading.paper_orders SET status = 'expired', matched_at = now(), reject_reason = $2
            WHERE client_order_id = $1 RETURNING ${ORDER_COLUMNS}`,
          [
            order.client_order_id,
            bar.open === null || !(Number(bar.volume) > 0)
              ? 'no trading in the stock that day'
              : 'not reached that day', // a day locked at its price limit included
          ],
        ),
      );
      return rows[0];
    }
    const amount = Math.round(quantity * fill.price);
    if (order.side === 'buy') {
      await m.query(`UPDATE trading.paper_accounts SET cash = cash - $2 WHERE account_id = $1`, [
        order.account_id,
        amount,
      ]);
      await m.query(
        `INSERT INTO trading.paper_holdings (account_id, code, quantity) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, code) DO UPDATE SET quantity = paper_holdings.quantity + EXCLUDED.quantity`,
        [order.account_id, order.code, quantity],
      );
    } else {
      await m.query(`UPDATE trading.paper_accounts SET cash = cash + $2 WHERE account_id = $1`, [
        order.account_id,
        amount,
      ]);
      // selling the whole holding deletes it (quantity 0 would violate ck_paper_holdings_quantity)
      await m.query(`DELETE FROM trading.paper_holdings WHERE account_id = $1 AND code = $2 AND quantity = $3`, [
        order.account_id,
        order.code,
        quantity,
      ]);
      await m.query(
        `UPDATE trading.paper_holdings SET quantity = quantity - $3 WHERE account_id = $1 AND code = $2 AND quantity > $3`,
        [order.account_id, order.code, quantity],
      );
    }
    const rows = returnedRows<PaperOrderRow>(
      await m.query(
        `UPDATE trading.paper_orders SET status = 'filled', matched_at = now(), fill_price = $2, fill_price_source = $3,
                fill_price_date = trading_date, amount = $4
          WHERE client_order_id = $1 RETURNING ${ORDER_COLUMNS}`,
        [order.client_order_id, fill.price, fill.at, amount],
      ),
    );
    return rows[0];
  }
}

/** Locks the paper account (one order operation at a time per account); its cash, or undefined. */
async function lockAccount(m: EntityManager, accountId: string): Promise<number | undefined> {
  const rows: Array<{ cash: string }> = await m.query(
    `SELECT cash FROM trading.paper_accounts WHERE account_id = $1 FOR UPDATE`,
    [accountId],
  );
  return rows[0] ? Number(rows[0].cash) : undefined;
}
