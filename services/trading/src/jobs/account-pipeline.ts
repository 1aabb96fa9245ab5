import type { EntityManager } from 'typeorm';
import type { Fenced } from './order-book.js';

/** What perAccount does with a list of items (intents) at a broker, and how their answers are booked. */
export interface AccountPipeline<I, A, R> {
  /** in the order each account must see them */
  items: readonly I[];
  accountOf(item: I): string;
  /** accounts served at once */
  concurrency: number;
  /** once aborted no new call starts (the calls under way end, and their answers are booked) */
  signal?: AbortSignal;
  /** the broker step of one item (a call, or none) */
  ask(item: I): Promise<A>;
  /** records answers in a (fenced) transaction, in the order given */
  book(m: EntityManager, answers: ReadonlyArray<{ item: I; answer: A }>): Promise<R[]>;
  fenced: Fenced;
}

/**
 * Each account's items go to the broker one at a time, in order (a paper account's cash and
 * holdings are checked and matched order by order, so they must arrive as they always did);
 * accounts share nothing at the paper broker, so up to `concurrency` of them are served side by
 * side. The answers are booked as they come: each booking transaction takes every answer that
 * arrived while the previous one ran (one per answer when the broker is slow, hundreds when it
 * is fast), so an account's answers are booked in its order. After a failed call, a refused
 * booking or the abort signal, no new call starts; what was answered is still booked (the broker
 * acted on it; the epoch still guards the booking), then the error is thrown. Returns the
 * bookings' results in booking order.
 */
export async function perAccount<I, A, R>(p: AccountPipeline<I, A, R>): Promise<R[]> {
  const stop: { error?: unknown } = {};
  const arrived: Array<{ item: I; answer: A }> = [];
  let wake: (() => void) | undefined;
  let asking = true;
  const asked = askAll(p, stop, (item, answer) => {
    arrived.push({ item, answer });
    wake?.();
  }).finally(() => {
    asking = false;
    wake?.();
  });
  const results: R[] = [];
  while (asking || arrived.length > 0) {
    if (arrived.length === 0) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      continue;
    }
    const batch = arrived.splice(0);
    try {
      results.push(...(await p.fenced((m) => p.book(m, batch))));
    } catch (error) {
      // refused (a newer epoch) or failed: nothing more is asked; a successor looks the rest up
      stop.error ??= error;
      break;
    }
  }
  await asked;
  if (stop.error !== undefined) {
    throw stop.error instanceof Error ? stop.error : new Error(`broker pipeline failed: ${JSON.stringify(stop.error)}`);
  }
  p.signal?.throwIfAborted();
  return results;
}

/** Asks every account's items in order, up to `concurrency` accounts at once, handing each answer on. */
async function askAll<I, A, R>(
  p: AccountPipeline<I, A, R>,
  stop: { error?: unknown },
  answered: (item: I, answer: A) => void,
): Promise<void> {
  const byAccount = new Map<string, I[]>();
  for (const item of p.items) {
    const account = p.accountOf(item);
    const list = byAccount.get(account);
    if (list) {
      list.push(item);
    } else {
      byAccount.set(account, [item]);
    }
  }
  const queue = [...byAccount.values()];
  const worker = async (): Promise<void> => {
    for (let account = queue.shift(); account; account = queue.shift()) {
      for (const item of account) {
        if (stop.error !== undefined || p.signal?.aborted) {
          return;
        }
        try {
          answered(item, await p.ask(item));
        } catch (error) {
          stop.error ??= error;
          return;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(p.concurrency, queue.length) }, worker));
}
