import { createHash } from 'node:crypto';

/**
 * The deterministic client order id of an order: the same run, account, stock and side always
 * give the same id, so a retried or duplicated send is recognised by the broker (and by the
 * unique constraint on order_intents) as the same order. 32 hex characters (128 bits).
 */
export function clientOrderId(runKey: string, accountId: string, code: string, side: 'buy' | 'sell'): string {
  return createHash('sha256').update(`${runKey}|${accountId}|${code}|${side}`).digest('hex').slice(0, 32);
}
