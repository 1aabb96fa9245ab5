import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { KiwoomDouble } from '@stocklab/kiwoom';
import { request } from '@stocklab/test-support';
import type pg from 'pg';
import { definition, seedStrategy } from './support.js';

/** The first trading day after the trading tests' market ends (AS_OF, 2026-03-10). */
export const TODAY = '2026-03-11';

/** A key-encryption key for a test's broker credentials. */
export const testKek = (): string => `kek-test:${randomBytes(32).toString('base64')}`;

/** The broker's order clock on `isoDate` at the real time of day (Korea), so attempts and order times compare. */
export function orderClockOn(isoDate: string): () => Date {
  return () => {
    const sinceMidnight = (Date.now() + 9 * 3600_000) % 86_400_000;
    return new Date(Date.parse(`${isoDate}T00:00:00+09:00`) + sinceMidnight);
  };
}

/**
 * Fixture of the leader-kill tests: a fresh strategy on the linked account whose quantities
 * (`shares` per stock at the 10,500 limit) no other iteration uses, so look-alikes can only be
 * among one run's own intents. The earlier ones stay active with their orders open, so they do
 * not decide again.
 */
export async function seedLinkedStrategy(
  pool: pg.Pool,
  user: string,
  brokerAccountId: string,
  codes: readonly string[],
  shares: number,
): Promise<string> {
  const strategy = await seedStrategy(pool, user, codes, codes.length * shares * 10_500, definition(codes));
  await pool.query(`UPDATE trading.auto_strategies SET broker_account_id = $2 WHERE id = $1`, [
    strategy,
    brokerAccountId,
  ]);
  return strategy;
}

/**
 * Every order at the double is bound to exactly one intent, and every intent has one or waits for
 * a person; answers what the test prints.
 */
export async function assertOneOrderPerIntent(
  pool: pg.Pool,
  double: KiwoomDouble,
  appKey: string,
  brokerAccountId: string,
  intended: number,
): Promise<{ atBroker: number; unbound: number; review: number }> {
  const atBroker = double.ordersOf(appKey);
  const { rows: intents } = await pool.query<{
    status: string;
    broker_order_id: string | null;
    quantity: string;
    code: string;
  }>(`SELECT status, broker_order_id, quantity, code FROM trading.order_intents WHERE broker_account_id = $1`, [
    brokerAccountId,
  ]);
  const bound = new Map(intents.flatMap((r) => (r.broker_order_id ? [[r.broker_order_id, r] as const] : [])));
  const unbound = atBroker.filter((o) => !bound.has(o.ordNo));
  const review = intents.filter((r) => r.status === 'needs_review').length;
  assert.equal(unbound.length, 0, `orders at the broker no intent owns: ${JSON.stringify(unbound)}`);
  assert.equal(atBroker.length + review, intended, 'one broker order per intent, or a person decides');
  for (const o of atBroker) {
    const intent = bound.get(o.ordNo);
    assert.equal(Number(intent?.quantity), o.quantity);
    assert.equal(intent?.code, o.code);
  }
  return { atBroker: atBroker.length, unbound: unbound.length, review };
}

/** The session of `date` at the double: every open order of `codes` fills at 10,000, then the day ends. */
export function fillTheDay(double: KiwoomDouble, date: string, codes: readonly string[]): void {
  const day = date.replaceAll('-', '');
  for (const code of codes) {
    double.trade(day, code, { open: 10_000, high: 10_000, low: 10_000, close: 10_000 });
  }
  double.closeDay(day);
}

/** After the day-end run: every intent of the account ended (or waits for a person) and the broker agrees. */
export async function assertSettledWithoutDrift(
  pool: pg.Pool,
  tradingUrl: string,
  token: string,
  brokerAccountId: string,
): Promise<void> {
  const open = await pool.query(
    `SELECT status FROM trading.order_intents WHERE broker_account_id = $1 AND status NOT IN ('filled', 'needs_review')`,
    [brokerAccountId],
  );
  assert.deepEqual(open.rows, []);
  const checks = await request<Array<{ drifts: unknown[] }>>(
    'GET',
    `${tradingUrl}/api/trading/broker-accounts/${brokerAccountId}/reconciliations`,
    { token },
  );
  assert.deepEqual(checks.body[0]?.drifts, []);
}
