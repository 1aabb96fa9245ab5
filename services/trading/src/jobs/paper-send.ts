import type { CostDefinition } from '@stocklab/strategy-engine';
import type { Broker, BrokerOrder } from '../broker/broker.js';
import { perAccount } from './account-pipeline.js';
import type { JobContext } from './job-context.js';
import type { IntentRow, OrderBook, Outcome } from './order-book.js';

/**
 * Intents per round: read together (a day of 10,000 strategies has 100,000s: never all in
 * memory at once), and the pending ones marked sent in one fenced transaction before any of them
 * is placed. Bounds how many orders are marked but not yet placed at any moment.
 */
export const SEND_ROUND = 500;

/** The run's paper intents still to send with a seq above `afterSeq`, the first `limit` in seq order. */
export type RoundLoader = (afterSeq: number, limit: number) => Promise<Array<IntentRow & { seq: number }>>;

/**
 * Sends a run's paper intents (seq order) in rounds read by `load`; per round:
 * 1. its pending intents are marked sent in one fenced transaction, before the broker sees any
 *    of them (a successor finds them sent and looks them up before sending again);
 * 2. they go to the broker per account in seq order, several accounts at once, and the answers
 *    are booked as they arrive (see perAccount). An intent marked sent before this run is first
 *    looked up at the broker and placed only if it never arrived. Nothing more is placed once
 *    the term has ended, a call failed or a booking was refused; what was answered is booked.
 */
export async function sendPaperIntents(
  ctx: JobContext,
  load: RoundLoader,
  broker: Broker,
  book: OrderBook,
  concurrency: number,
): Promise<{ accepted: number; rejected: number }> {
  let accepted = 0;
  let rejected = 0;
  for (let after = 0; ;) {
    ctx.signal.throwIfAborted();
    const round = await load(after, SEND_ROUND);
    if (round.length === 0) {
      break;
    }
    after = round[round.length - 1].seq;
    const pending = round.filter((intent) => intent.status === 'pending').map((intent) => intent.id);
    if (pending.length > 0) {
      await ctx.fenced((m) =>
        m.query(
          `UPDATE trading.order_intents SET status = 'sent', sent_at = now() WHERE id = ANY($1::uuid[]) AND status = 'pending'`,
          [pending],
        ),
      );
    }
    const outcomes = await perAccount<IntentRow, BrokerOrder, Outcome>({
      items: round,
      accountOf: (intent) => intent.account_id,
      concurrency,
      signal: ctx.signal,
      ask: (intent) => sendOne(broker, intent),
      book: async (m, answers) => {
        // a strategy's rules do not change: read and parsed once per strategy of the batch
        const costs = new Map<string, CostDefinition>();
        const booked: Outcome[] = [];
        for (const { item, answer } of answers) {
          booked.push(await book.book(m, item, answer, costs));
        }
        return booked;
      },
      fenced: (work) => ctx.fenced(work),
    });
    for (const outcome of outcomes) {
      if (outcome === 'rejected') {
        rejected += 1;
      } else {
        accepted += 1;
      }
    }
  }
  return { accepted, rejected };
}

/** One intent at the paper broker: looked up first when it was marked sent before this run. */
async function sendOne(broker: Broker, intent: IntentRow): Promise<BrokerOrder> {
  if (intent.status === 'sent') {
    // sent before a crash or a fail-over: the broker may or may not have received it
    const known = await broker.getOrder(intent.account_id, intent.client_order_id);
    if (known) {
      return known;
    }
  }
  return broker.placeOrder({
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
