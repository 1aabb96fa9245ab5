import { setTimeout as sleep } from 'node:timers/promises';
import { TRDE_TP, type KiwoomAccountApi, type KiwoomOrderRequest, type KiwoomOrderRow } from './account-api.js';
import { KiwoomError } from './errors.js';

/**
 * Exactly once at a broker without an idempotency key: an order whose answer was lost is looked
 * up in the day's order list (kt00007) before anything is sent again. A broker order matches an
 * attempt when it has the same side, stock, quantity, order type and prices, was placed no
 * earlier than the attempt (less a clock skew), and is not already bound to another intent.
 * One match is adopted; none, once the broker has had time to show it, means the order never
 * arrived and may be sent; more than one cannot be told apart and goes to a person.
 */

export interface OrderAttempt extends KiwoomOrderRequest {
  /** when this attempt's request left (the sender's clock) */
  sentAt: Date;
}

export type AttemptMatch =
  { kind: 'adopt'; order: KiwoomOrderRow } | { kind: 'absent' } | { kind: 'ambiguous'; candidates: KiwoomOrderRow[] };

/** Seconds of the day in Korea time, of an instant or of a kt00007 `ord_tm` (HH:mm:ss or HHmmss). */
function koreaSeconds(at: Date): number {
  const kst = new Date(at.getTime() + 9 * 3600_000);
  return kst.getUTCHours() * 3600 + kst.getUTCMinutes() * 60 + kst.getUTCSeconds();
}

function rowSeconds(time: string): number | undefined {
  const digits = time.replace(/:/g, '');
  if (!/^\d{6}$/.test(digits)) {
    return undefined;
  }
  return Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4)) * 60 + Number(digits.slice(4, 6));
}

/** The broker orders that may be this attempt (see above); `bound` holds order numbers other intents own. */
export function matchAttempt(
  attempt: OrderAttempt,
  rows: readonly KiwoomOrderRow[],
  bound: ReadonlySet<string>,
  skewSeconds = 5,
): AttemptMatch {
  const from = koreaSeconds(attempt.sentAt) - skewSeconds;
  const candidates = rows.filter((row) => {
    const placed = rowSeconds(row.time);
    return (
      !bound.has(row.ordNo) &&
      row.side === attempt.side &&
      row.code === attempt.code &&
      row.quantity === attempt.quantity &&
      row.type === TRDE_TP[attempt.type] &&
      (attempt.type === 'market' || row.price === attempt.price) &&
      (attempt.type !== 'stop' || row.stopPrice === attempt.stopPrice) &&
      // an order number the broker has no time for cannot be this attempt's: refuse to guess
      placed !== undefined &&
      placed >= from
    );
  });
  if (candidates.length === 1) {
    return { kind: 'adopt', order: candidates[0] };
  }
  return candidates.length === 0 ? { kind: 'absent' } : { kind: 'ambiguous', candidates };
}

export class NeedsReview extends Error {
  constructor(
    message: string,
    readonly candidates: readonly KiwoomOrderRow[],
  ) {
    super(message);
    this.name = 'NeedsReview';
  }
}

export interface PlacedOrder {
  ordNo: string;
  /** answer: the broker answered; reconciled: the answer was lost and the order found */
  via: 'answer' | 'reconciled';
  attempts: number;
}

export interface SendOptions {
  /** order numbers already bound to other intents of the account */
  bound: ReadonlySet<string>;
  /** yyyymmdd of the session (kt00007's ord_dt) */
  date: string;
  /** how long after a lost answer the order list is trusted to show the order, if it exists */
  settleMs?: number;
  /** attempts before giving up (each resend follows a confirmed absence) */
  maxAttempts?: number;
  /** called before each attempt leaves: where a durable sender records `sending` and the attempt */
  beforeSend?: (attempt: OrderAttempt, n: number) => Promise<void>;
  /**
   * How long after its instant (`sentAt`, before `beforeSend`) an attempt may still leave: one
   * still waiting for its token or rate-limit turn by then is not sent (a `retry` error, code
   * `send-deadline`), so whoever resumes a recorded attempt knows the latest it can have reached
   * the broker (`sentAt` + this + the call's timeout). Unbounded when absent.
   */
  sendBudgetMs?: number;
}

/**
 * Places an order once: sends it; on an answer that may hide a placed order (timeout, dropped
 * connection, 5xx), waits `settleMs`, reads the day's orders for the stock and adopts the match,
 * or sends again only when there is none; several candidates end in `NeedsReview`. A refusal
 * (reject, or 1700 for an order: not processed) is thrown as the broker's error.
 */
export async function placeExactlyOnce(
  api: KiwoomAccountApi,
  order: KiwoomOrderRequest,
  options: SendOptions,
): Promise<PlacedOrder> {
  const maxAttempts = options.maxAttempts ?? 3;
  for (let n = 1; n <= maxAttempts; n += 1) {
    const attempt: OrderAttempt = { ...order, sentAt: new Date() };
    const sendBy = options.sendBudgetMs === undefined ? undefined : attempt.sentAt.getTime() + options.sendBudgetMs;
    await options.beforeSend?.(attempt, n);
    try {
      return { ordNo: await api.placeOrder(order, sendBy), via: 'answer', attempts: n };
    } catch (error) {
      if (!(error instanceof KiwoomError) || error.category !== 'ambiguous') {
        throw error;
      }
    }
    await sleep(options.settleMs ?? 2000);
    const match = matchAttempt(attempt, await api.ordersOf(options.date, order.code), options.bound);
    if (match.kind === 'adopt') {
      return { ordNo: match.order.ordNo, via: 'reconciled', attempts: n };
    }
    if (match.kind === 'ambiguous') {
      throw new NeedsReview(
        `${match.candidates.length} broker orders could be this one: ${match.candidates.map((c) => c.ordNo).join(', ')}`,
        match.candidates,
      );
    }
  }
  throw new NeedsReview(`no answer and no order at the broker after ${maxAttempts} attempts`, []);
}
