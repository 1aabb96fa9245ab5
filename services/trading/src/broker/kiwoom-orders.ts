import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  KiwoomError,
  matchAttempt,
  NeedsReview,
  placeExactlyOnce,
  type KiwoomAccountApi,
  type KiwoomFillCharges,
  type KiwoomOrderRequest,
  type KiwoomOrderRow,
} from '@stocklab/kiwoom';
import { CONFIG } from '@stocklab/platform';
import { MARKETS, orderPrice, priceLimits, type Market, type PriceLimits } from '@stocklab/strategy-engine';
import { DataSource } from 'typeorm';
import { BrokerAccountsService } from '../broker-accounts/broker-accounts.service.js';
import type { TradingConfig } from '../config.js';
import { returnedRows } from '../database/returning.js';
import type { BrokerOrder } from './broker.js';
import type { Fenced, IntentRow } from '../jobs/order-book.js';

/** What became of an intent sent to a linked account. */
export type KiwoomSendOutcome =
  | { kind: 'accepted'; ordNo: string; via: 'answer' | 'reconciled' }
  | { kind: 'rejected'; reason: string }
  | { kind: 'review'; reason: string };

/** What the broker's order list says of an intent: its order, or why there is none to book. */
export type KiwoomObservation =
  | { kind: 'order'; order: BrokerOrder }
  | { kind: 'open' }
  | { kind: 'expired'; reason: string }
  | { kind: 'review'; reason: string; ordNo?: string };

const ymd = (isoDate: string): string => isoDate.replaceAll('-', '');

/**
 * The day's price limits of a reference (previous) close on an ISO trading date: the engine's KRX
 * rule (±30 %, KONEX ±15 %; the upper limit rounded down and the lower up to the tick grid).
 */
export function priceBand(reference: number, isoDate: string, market: Market = 'KOSPI'): PriceLimits {
  return priceLimits(reference, Number(ymd(isoDate)), market);
}

/**
 * The KRX order an intent becomes, priced by the engine's `orderPrice` (the one place of the KRX
 * market rules, the same the decider and the backtest price with): a buy limit rounded down to the
 * tick grid of the trading date (it never pays more than decided, so the engine's sizing still
 * holds), a take-profit limit rounded up (never sells for less), a stop-loss as a stop-limit (28)
 * whose stop is the level rounded up and whose limit is the day's lower price limit (once
 * triggered it sells at the market, as the engine's stop does); every price inside the day's
 * price limits of the signal close, which the exchange refuses to exceed.
 */
export function kiwoomRequestOf(intent: IntentRow, market: Market = 'KOSPI'): KiwoomOrderRequest {
  const quantity = Number(intent.quantity);
  const reference = Number(intent.reference_price);
  if (intent.kind === 'market_sell') {
    return { side: 'sell', code: intent.code, quantity, type: 'market' };
  }
  const level = Number(intent.level);
  if (!(reference > 0) || !(level > 0)) {
    throw new Error(`intent ${intent.id}: a ${intent.kind} needs its level and the signal close`);
  }
  const session = { date: Number(ymd(intent.trading_date)), market };
  if (intent.kind === 'limit_buy') {
    return {
      side: 'buy',
      code: intent.code,
      quantity,
      type: 'limit',
      price: orderPrice(intent.kind, level, reference, session),
    };
  }
  if (intent.kind === 'target_sell') {
    return {
      side: 'sell',
      code: intent.code,
      quantity,
      type: 'limit',
      price: orderPrice(intent.kind, level, reference, session),
    };
  }
  return {
    side: 'sell',
    code: intent.code,
    quantity,
    type: 'stop',
    stopPrice: orderPrice('stop_sell', level, reference, session),
    price: priceBand(reference, intent.trading_date, market).lower,
  };
}

/**
 * Orders at a linked Kiwoom account, which has no client order id: each attempt is recorded
 * (`sending`, its number and instant) in a fenced transaction before it leaves, so a successor
 * never sends blindly; it looks the attempt up in the day's orders (kt00007) after the settle
 * time, adopts the one match, sends again only when the broker shows none, and leaves look-alikes
 * to a person. Fills are read from the same list.
 */
@Injectable()
export class KiwoomOrders {
  private readonly logger = new Logger(KiwoomOrders.name);
  private readonly apis = new Map<string, Promise<KiwoomAccountApi>>();

  constructor(
    private readonly accounts: BrokerAccountsService,
    private readonly dataSource: DataSource,
    @Inject(CONFIG) private readonly config: TradingConfig,
  ) {}

  /** The account's API; one client per account and process (token and rate limit are shared in Redis). */
  apiOf(brokerAccountId: string): Promise<KiwoomAccountApi> {
    let api = this.apis.get(brokerAccountId);
    if (!api) {
      api = this.accounts.credentialsOf(brokerAccountId).then((c) => this.accounts.apiFor(c));
      api.catch(() => this.apis.delete(brokerAccountId));
      this.apis.set(brokerAccountId, api);
    }
    return api;
  }

  /** The stock's market (its price limits); KOSPI for a code the market tables lack. */
  private async marketOf(code: string): Promise<Market> {
    const rows: Array<{ market: string }> = await this.dataSource.query(
      `SELECT market FROM market.securities WHERE code = $1`,
      [code],
    );
    const market = rows[0]?.market ?? '';
    return (MARKETS as readonly string[]).includes(market) ? (market as Market) : 'KOSPI';
  }

  /** Places an intent once; `intent.status` 'sending' means an earlier attempt's answer was never stored. */
  async send(fenced: Fenced, intent: IntentRow): Promise<KiwoomSendOutcome> {
    const accountId = intent.broker_account_id as string;
    const api = await this.apiOf(accountId);
    const request = kiwoomRequestOf(intent, await this.marketOf(intent.code));
    const bound = await this.boundOrders(
      (sql, params) => fenced((m) => m.query(sql, params)),
      intent.broker_account_id as string,
      intent.trading_date,
      intent.id,
    );
    if (intent.status === 'sending') {
      const found = await this.lookUp(api, intent, request, bound);
      if (found.kind === 'adopt') {
        return { kind: 'accepted', ordNo: found.order.ordNo, via: 'reconciled' };
      }
      if (found.kind === 'ambiguous') {
        return { kind: 'review', reason: found.reason };
      }
    }
    for (let refused = 0; ; refused += 1) {
      try {
        return await this.place(fenced, intent, api, request, bound);
      } catch (error) {
        // 1700 on an order, or its send deadline passed before it left: nothing reached the broker;
        // a new attempt (recorded afresh) after a pause is safe
        if (!(error instanceof KiwoomError && error.category === 'retry') || refused >= 2) {
          throw error;
        }
        await sleep(1000 * (refused + 1));
      }
    }
  }

  private async place(
    fenced: Fenced,
    intent: IntentRow,
    api: KiwoomAccountApi,
    request: KiwoomOrderRequest,
    bound: ReadonlySet<string>,
  ): Promise<KiwoomSendOutcome> {
    const date = ymd(intent.trading_date);
    try {
      const placed = await placeExactlyOnce(api, request, {
        bound,
        date,
        settleMs: this.config.KIWOOM_SETTLE_MS,
        sendBudgetMs: this.config.KIWOOM_SEND_BUDGET_MS,
        beforeSend: async (attempt) => {
          const marked = await fenced(async (m) =>
            returnedRows<{ id: string }>(
              await m.query(
                `UPDATE trading.order_intents SET status = 'sending', attempt = attempt + 1, attempt_sent_at = $2,
                        sent_at = coalesce(sent_at, $2)
                  WHERE id = $1 AND status IN ('pending', 'sending') RETURNING id`,
                [intent.id, attempt.sentAt],
              ),
            ),
          );
          if (marked.length === 0) {
            throw new Error(`intent ${intent.id} is no longer to be sent`);
          }
        },
      });
      return { kind: 'accepted', ordNo: placed.ordNo, via: placed.via };
    } catch (error) {
      if (error instanceof NeedsReview) {
        return { kind: 'review', reason: error.message };
      }
      if (error instanceof KiwoomError && error.category === 'reject') {
        return { kind: 'rejected', reason: `${error.code ?? 'refused'}: ${error.message}` };
      }
      // 1700 (retried above), reauth twice, or the fence: the intent stays `sending` and the next
      // attempt (this run resumed, or the next one) looks it up before anything is sent
      throw error;
    }
  }

  /**
   * What the broker's order lists say of open intents on linked accounts (one kt00007 read per
   * account and day). `closedThrough`: sessions up to this date are over, so what is still open
   * there ended unfilled (day orders) and a partial fill is final.
   */
  async observe(
    intents: readonly IntentRow[],
    closedThrough: string,
    today?: string,
  ): Promise<Map<string, KiwoomObservation>> {
    const seen = new Map<string, KiwoomObservation>();
    const groups = new Map<string, IntentRow[]>();
    for (const intent of intents) {
      const key = `${intent.broker_account_id}|${intent.trading_date}`;
      groups.set(key, [...(groups.get(key) ?? []), intent]);
    }
    for (const group of groups.values()) {
      const first = group[0];
      const api = await this.apiOf(first.broker_account_id as string);
      const rows = await api.ordersOf(ymd(first.trading_date));
      const byNo = new Map(rows.map((r) => [r.ordNo, r]));
      const closed = first.trading_date <= closedThrough;
      // the broker tells its charges for today's fills only (ka10076): read on the day-end run of that day
      const charges = first.trading_date === today ? await api.chargesToday() : undefined;
      // every order number of the account's day already bound, the ended intents' included
      const bound = new Set([
        ...group.flatMap((i) => (i.broker_order_id ? [i.broker_order_id] : [])),
        ...(await this.boundOrders(
          (sql, params) => this.dataSource.query(sql, params),
          first.broker_account_id as string,
          first.trading_date,
        )),
      ]);
      for (const intent of group) {
        let ordNo = intent.broker_order_id ?? undefined;
        if (!ordNo && intent.status === 'sending') {
          // sent before a crash whose successor never ran: the attempt is looked up the same way
          const match = matchAttempt(attemptOf(intent, await this.marketOf(intent.code)), rows, bound, 5);
          if (match.kind === 'ambiguous') {
            seen.set(intent.id, { kind: 'review', reason: lookAlikes(match.candidates) });
            continue;
          }
          if (match.kind === 'absent') {
            seen.set(
              intent.id,
              closed ? { kind: 'expired', reason: 'never reached the broker before its day ended' } : { kind: 'open' },
            );
            continue;
          }
          ordNo = match.order.ordNo;
          bound.add(ordNo);
        }
        const row = ordNo ? byNo.get(ordNo) : undefined;
        if (!row) {
          seen.set(
            intent.id,
            closed
              ? { kind: 'review', reason: `the broker does not list order ${ordNo ?? '(none)'} of that day` }
              : { kind: 'open' },
          );
          continue;
        }
        const observed = withCharges(observationOf(intent, row, closed), charges?.get(row.ordNo));
        // an adopted attempt still open: its order number is stored now, so it is never looked up again
        seen.set(
          intent.id,
          observed.kind === 'open' && !intent.broker_order_id
            ? { kind: 'order', order: { ...orderOf(intent, row), status: 'accepted' } }
            : observed,
        );
      }
    }
    return seen;
  }

  /**
   * Order numbers the intents of an account's day own (all of them, or all but `exceptIntent`'s):
   * never adopted for another intent.
   */
  private async boundOrders(
    query: (sql: string, params: unknown[]) => Promise<Array<{ broker_order_id: string }>>,
    brokerAccountId: string,
    tradingDate: string,
    exceptIntent?: string,
  ): Promise<Set<string>> {
    const rows = await query(
      `SELECT broker_order_id FROM trading.order_intents
        WHERE broker_account_id = $1 AND trading_date = $2 AND broker_order_id IS NOT NULL AND id IS DISTINCT FROM $3::uuid`,
      [brokerAccountId, tradingDate, exceptIntent ?? null],
    );
    return new Set(rows.map((r) => r.broker_order_id));
  }

  /**
   * An earlier attempt whose answer was never stored, looked up once the broker has had time to list
   * it. The attempt left at the latest KIWOOM_SEND_BUDGET_MS after its mark (the client sends nothing
   * later: a deposed leader still waiting for its token or rate-limit turn gives up), the broker may
   * have taken it as late as the call's timeout after that (its answer then lost with the write that
   * would have stored it), and lists it within KIWOOM_SETTLE_MS of taking it. Looked up sooner (a run
   * resumed at once), it may not be listed yet, and would be sent a second time. And never sooner
   * than KIWOOM_SETTLE_MS from now (in this process, an earlier call has ended by now, so the broker
   * took it by now at the latest).
   */
  private async lookUp(
    api: KiwoomAccountApi,
    intent: IntentRow,
    request: KiwoomOrderRequest,
    bound: ReadonlySet<string>,
  ): Promise<{ kind: 'adopt'; order: KiwoomOrderRow } | { kind: 'absent' } | { kind: 'ambiguous'; reason: string }> {
    const sentAt = intent.attempt_sent_at as Date;
    const { KIWOOM_SEND_BUDGET_MS: budget, KIWOOM_TIMEOUT_MS: timeout, KIWOOM_SETTLE_MS: settle } = this.config;
    await sleep(Math.max(sentAt.getTime() + budget + timeout + settle - Date.now(), settle));
    const match = matchAttempt(
      { ...request, sentAt },
      await api.ordersOf(ymd(intent.trading_date), intent.code),
      bound,
    );
    if (match.kind === 'ambiguous') {
      return { kind: 'ambiguous', reason: lookAlikes(match.candidates) };
    }
    if (match.kind === 'adopt') {
      this.logger.warn(
        { intentId: intent.id, ordNo: match.order.ordNo, attempt: intent.attempt },
        'an unanswered attempt was found at the broker: adopted, not sent again',
      );
    }
    return match;
  }
}

function attemptOf(intent: IntentRow, market: Market): KiwoomOrderRequest & { sentAt: Date } {
  return { ...kiwoomRequestOf(intent, market), sentAt: intent.attempt_sent_at as Date };
}

function lookAlikes(candidates: readonly KiwoomOrderRow[]): string {
  return `${candidates.length} broker orders could be this one (${candidates.map((c) => c.ordNo).join(', ')}): a person decides`;
}

/** A fill with the broker's own commission and tax, when its charges cover exactly that fill. */
function withCharges(seen: KiwoomObservation, charges: KiwoomFillCharges | undefined): KiwoomObservation {
  if (seen.kind !== 'order' || seen.order.status !== 'filled' || !charges) {
    return seen;
  }
  if (charges.filledQuantity !== seen.order.filledQuantity) {
    return seen;
  }
  return { kind: 'order', order: { ...seen.order, charged: { commission: charges.commission, tax: charges.tax } } };
}

function orderOf(
  intent: IntentRow,
  row: KiwoomOrderRow,
): Pick<BrokerOrder, 'clientOrderId' | 'brokerOrderId' | 'quantity'> {
  return { clientOrderId: intent.client_order_id, brokerOrderId: row.ordNo, quantity: row.quantity };
}

/** One kt00007 row as the booking sees it. */
function observationOf(intent: IntentRow, row: KiwoomOrderRow, closed: boolean): KiwoomObservation {
  if (row.acceptType.includes('거부')) {
    return {
      kind: 'order',
      order: { ...orderOf(intent, row), status: 'rejected', rejectReason: `the broker refused order ${row.ordNo}` },
    };
  }
  const whole = row.filledQuantity >= Number(intent.quantity);
  if (!whole && row.remaining > 0 && !closed) {
    return { kind: 'open' };
  }
  if (row.filledQuantity === 0) {
    return {
      kind: 'order',
      order: { ...orderOf(intent, row), status: 'expired', rejectReason: 'the session ended without a fill' },
    };
  }
  return {
    kind: 'order',
    order: {
      ...orderOf(intent, row),
      status: 'filled',
      filledQuantity: Math.min(row.filledQuantity, Number(intent.quantity)),
      fillPrice: row.filledPrice,
      fillPriceSource: 'broker',
      fillPriceDate: intent.trading_date,
    },
  };
}
