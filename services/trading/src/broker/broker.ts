/**
 * What the trading service needs from a broker. Shaped after Kiwoom's REST API (OAuth token,
 * market or limit orders by stock code and quantity, order status, account balance) so that
 * adapter can be added without changing the jobs; the paper broker implements it in-process.
 */
export type OrderSide = 'buy' | 'sell';
export type OrderType = 'market' | 'limit';
export type FillPriceSource = 'open' | 'latest_close';

export interface PlaceOrderRequest {
  accountId: string;
  /** deterministic id of this order: a repeated id is the same order, never a second one */
  clientOrderId: string;
  code: string;
  side: OrderSide;
  orderType: OrderType;
  /** whole shares */
  quantity: number;
  /** KRW, limit orders only */
  limitPrice?: number;
}

export interface BrokerOrder {
  clientOrderId: string;
  brokerOrderId: string;
  status: 'accepted' | 'filled' | 'rejected';
  quantity: number;
  rejectReason?: string;
  fillPrice?: number;
  /** the paper broker fills at the day's open when it has that bar, else at the latest close it has */
  fillPriceSource?: FillPriceSource;
  fillPriceDate?: string;
  /** KRW, quantity x fill price rounded to whole won */
  amount?: number;
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
