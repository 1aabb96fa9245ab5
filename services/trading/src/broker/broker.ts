import type { OrderKind } from '@stocklab/strategy-engine';

/**
 * What the trading service needs from a broker. Shaped after Kiwoom's REST API (OAuth token,
 * orders by stock code and quantity with a KRX order type, order status queries, account balance)
 * so that adapter can be added without changing the jobs; the paper broker implements it on the
 * platform's market data. Orders are accepted before the open and filled later: the answer to
 * placeOrder is usually 'accepted', and getOrder tells the fill once the market made it.
 */
export type OrderSide = 'buy' | 'sell';
export type OrderType = 'market' | 'limit' | 'stop';
/**
 * 'open': the opening auction; 'level': the order's own price (a limit, stop or target reached);
 * 'broker': the average price a real broker reports (no slippage model: it is the market's own).
 */
export type FillPriceSource = 'open' | 'level' | 'broker';

/** The KRX order type of each of the engine's order kinds (Kiwoom trde_tp 3, 0, 28, 0). */
export const ORDER_TYPE_OF: Readonly<Record<OrderKind, OrderType>> = {
  market_sell: 'market',
  limit_buy: 'limit',
  stop_sell: 'stop',
  target_sell: 'limit',
};

export interface PlaceOrderRequest {
  accountId: string;
  /** deterministic id of this order: a repeated id is the same order, never a second one */
  clientOrderId: string;
  code: string;
  side: OrderSide;
  kind: OrderKind;
  /** whole shares */
  quantity: number;
  /** KRW: the limit (limit_buy), the stop (stop_sell) or the target (target_sell); none for market */
  price?: number;
  /** the KRX session the order is for (a day order: it expires at that day's close) */
  tradingDate: string;
}

export interface BrokerOrder {
  clientOrderId: string;
  brokerOrderId: string;
  /** accepted: waiting for the market; expired: a day order the day did not fill */
  status: 'accepted' | 'filled' | 'expired' | 'rejected';
  quantity: number;
  /** filled: the shares that filled, when fewer than ordered (a partial fill the session ended) */
  filledQuantity?: number;
  rejectReason?: string;
  /** the market price of the fill (before the strategy's slippage model) */
  fillPrice?: number;
  fillPriceSource?: FillPriceSource;
  fillPriceDate?: string;
  /** filled: what the broker itself charged (KRW), when it says; otherwise the strategy's cost model applies */
  charged?: { commission: number; tax: number };
}

export interface AccountBalance {
  accountId: string;
  cash: number;
  holdings: Array<{ code: string; quantity: number }>;
}

export interface Broker {
  readonly name: string;
  /** an access token for the broker's API (Kiwoom: OAuth client credentials) */
  token(): Promise<string>;
  /** makes sure the account exists at the broker (paper: opened with the initial cash) */
  openAccount(accountId: string, initialCash: number): Promise<void>;
  placeOrder(request: PlaceOrderRequest): Promise<BrokerOrder>;
  /** the order with this client order id, or undefined when the broker never received it */
  getOrder(accountId: string, clientOrderId: string): Promise<BrokerOrder | undefined>;
  getBalance(accountId: string): Promise<AccountBalance>;
}

export const BROKER = Symbol('trading:broker');
