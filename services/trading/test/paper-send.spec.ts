import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { seedStrategy, type TestDatabase } from '@stocklab/test-support';
import pg from 'pg';
import type { Broker, BrokerOrder, PlaceOrderRequest } from '../src/broker/broker.js';
import type { KiwoomOrders } from '../src/broker/kiwoom-orders.js';
import type { JobContext } from '../src/jobs/job-context.js';
import type { JobRun } from '../src/jobs/job-runs.service.js';
import { INTENT_COLUMNS, OrderBook, type IntentRow } from '../src/jobs/order-book.js';
import { sendPaperIntents, SEND_ROUND } from '../src/jobs/paper-send.js';
import type { TradingMetrics } from '../src/metrics/trading-metrics.js';
import { inTransaction, migratedDatabase } from './migrated-database.js';
import { AS_OF } from './support.js';

/**
 * The paper send keeps exactly-once while it marks intents sent by the round and serves several
 * accounts at once: a broker double checks, at every order it receives, that the intent was
 * already marked sent in a committed transaction, and records the order of each account's calls.
 * A send interrupted by a failing call or by the end of the term is resumed by another run that
 * looks the sent intents up first: no client order id reaches the broker twice, none is lost.
 */

const RUN_KEY = `execute:${AS_OF}T09:00+09:00`;

/** A broker that accepts every order, remembers it, and checks what the platform recorded first. */
class RecordingBroker implements Broker {
  readonly name = 'recording';
  readonly orders = new Map<string, BrokerOrder>();
  readonly placed: PlaceOrderRequest[] = [];
  readonly lookedUp: string[] = [];
  readonly unmarked: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** throws on this client order id (once) */
  failOn: string | undefined;

  constructor(private readonly pool: pg.Pool) {}

  token(): Promise<string> {
    return Promise.resolve('recording');
  }

  openAccount(): Promise<void> {
    return Promise.resolve();
  }

  getBalance(accountId: string): Promise<{ accountId: string; cash: number; holdings: [] }> {
    return Promise.resolve({ accountId, cash: 0, holdings: [] });
  }

  async getOrder(_accountId: string, clientOrderId: string): Promise<BrokerOrder | undefined> {
    this.lookedUp.push(clientOrderId);
    await sleep(1);
    return this.orders.get(clientOrderId);
  }

  async placeOrder(request: PlaceOrderRequest): Promise<BrokerOrder> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      // what another connection sees: the mark must be committed before the order arrives
      const { rows } = await this.pool.query<{ status: string }>(
        `SELECT status FROM trading.order_intents WHERE client_order_id = $1`,
        [request.clientOrderId],
      );
      if (rows[0]?.status !== 'sent') {
        this.unmarked.push(request.clientOrderId);
      }
      await sleep(2);
      if (this.failOn === request.clientOrderId) {
        this.failOn = undefined;
        throw new Error('the broker did not answer');
      }
      this.placed.push(request);
      const order: BrokerOrder = {
        clientOrderId: request.clientOrderId,
        brokerOrderId: `B-${request.clientOrderId}`,
        status: 'accepted',
        quantity: request.quantity,
      };
      this.orders.set(request.clientOrderId, order);
      return order;
    } finally {
      this.inFlight -= 1;
    }
  }
}

describe('the paper send: rounds marked sent, accounts side by side, exactly once', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  /** intent client order ids per account, in seq order */
  const byAccount = new Map<string, string[]>();
  let total = 0;

  const openIntents = async (afterSeq: number, limit: number): Promise<Array<IntentRow & { seq: number }>> =>
    (
      await pool.query<IntentRow & { seq: number }>(
        `SELECT ${INTENT_COLUMNS}, seq FROM trading.order_intents
          WHERE run_key = $1 AND status IN ('pending', 'sending', 'sent') AND seq > $2 ORDER BY seq LIMIT $3`,
        [RUN_KEY, afterSeq, limit],
      )
    ).rows;

  /** A send as a run makes it; with `refuseAfter`, the transactions after that many are refused (a newer epoch). */
  const send = (
    broker: RecordingBroker,
    signal: AbortSignal = new AbortController().signal,
    refuseAfter = Infinity,
  ): (() => Promise<{ accepted: number; rejected: number }>) => {
    const book = new OrderBook(
      broker,
      {} as KiwoomOrders,
      { orders: { inc: () => undefined } } as unknown as TradingMetrics,
      { DB_POOL_SIZE: 6 },
    );
    let transactions = 0;
    const ctx: JobContext = {
      run: { id: randomUUID(), runKey: RUN_KEY, tradingDate: AS_OF } as unknown as JobRun,
      epoch: 1,
      signal,
      fenced: (work) => {
        transactions += 1;
        if (transactions > refuseAfter) {
          return Promise.reject(new Error('fenced: epoch 1 is stale (current epoch 2)'));
        }
        return inTransaction(pool, (m) => work(m as Parameters<typeof work>[0]));
      },
    };
    return () => sendPaperIntents(ctx, openIntents, broker, book, 3);
  };

  const resetIntents = (): Promise<unknown> =>
    pool.query(
      `UPDATE trading.order_intents SET status = 'pending', broker_order_id = NULL, sent_at = NULL WHERE run_key = $1`,
      [RUN_KEY],
    );

  beforeAll(async () => {
    db = await migratedDatabase('stocklab_paper_send');
    pool = new pg.Pool({ connectionString: db.url, max: 6 });
    // 7 accounts, one of them with two strategies; more intents than one round, interleaved across accounts
    const strategies: Array<{ id: string; account: string }> = [];
    for (let a = 0; a < 7; a++) {
      const user = randomUUID();
      for (let k = 0; k < (a === 0 ? 2 : 1); k++) {
        const id = await seedStrategy(pool, user, ['000010'], 1_000_000);
        const { rows } = await pool.query<{ account_id: string }>(
          `SELECT account_id FROM trading.auto_strategies WHERE id = $1`,
          [id],
        );
        strategies.push({ id, account: String(rows[0]?.account_id) });
      }
    }
    total = SEND_ROUND + 150;
    for (let seq = 1; seq <= total; seq++) {
      const s = strategies[seq % strategies.length];
      const clientOrderId = `send-${String(seq).padStart(4, '0')}`;
      await pool.query(
        `INSERT INTO trading.order_intents (client_order_id, run_key, seq, auto_strategy_id, account_id, trading_date, code,
           side, kind, order_type, quantity, level, reason, status, epoch)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'buy', 'limit_buy', 'limit', 3, 10500, 'signal', 'pending', 1)`,
        [clientOrderId, RUN_KEY, seq, s.id, s.account, AS_OF, `C${String(seq).padStart(5, '0')}`],
      );
      byAccount.set(s.account, [...(byAccount.get(s.account) ?? []), clientOrderId]);
    }
  }, 60_000);

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('stops at a failed call, books what was answered; a resumed send looks up the sent intents and completes once', async () => {
    const broker = new RecordingBroker(pool);
    broker.failOn = 'send-0040';
    await assert.rejects(send(broker)(), /did not answer/);
    const { rows: half } = await pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM trading.order_intents WHERE run_key = $1 GROUP BY status ORDER BY status`,
      [RUN_KEY],
    );
    const status = Object.fromEntries(half.map((r) => [r.status, r.n]));
    // the first round was marked sent as a whole; what the broker answered is booked, the rest waits
    assert.equal(status.accepted, broker.placed.length);
    assert.equal((status.sent ?? 0) + (status.accepted ?? 0), SEND_ROUND);
    assert.equal(status.pending, total - SEND_ROUND);

    // a successor (the same broker, answering now): every sent intent is looked up before anything is placed
    await send(broker)();
    const { rows } = await pool.query<{ client_order_id: string; status: string; broker_order_id: string }>(
      `SELECT client_order_id, status, broker_order_id FROM trading.order_intents WHERE run_key = $1 ORDER BY seq`,
      [RUN_KEY],
    );
    assert.equal(rows.length, total);
    for (const r of rows) {
      assert.equal(r.status, 'accepted', r.client_order_id);
      assert.equal(r.broker_order_id, `B-${r.client_order_id}`);
    }
    const placed = broker.placed.map((p) => p.clientOrderId);
    assert.equal(new Set(placed).size, placed.length, 'no client order id placed twice');
    assert.equal(placed.length, total, 'every intent placed');
    assert.deepEqual(broker.unmarked, [], 'every order arrived after its intent was marked sent');
    assert.ok(broker.lookedUp.includes('send-0040'), 'the failed one was looked up before it was placed again');
    // each account's orders arrived in its seq order; accounts were served side by side, within the bound
    for (const [account, ids] of byAccount) {
      assert.deepEqual(
        broker.placed.filter((p) => p.accountId === account).map((p) => p.clientOrderId),
        ids,
        account,
      );
    }
    assert.ok(broker.maxInFlight > 1 && broker.maxInFlight <= 3, `in flight at once: ${broker.maxInFlight}`);
  });

  it('places nothing more once the term has ended, and the successor finishes the run exactly once', async () => {
    await resetIntents();
    const broker = new RecordingBroker(pool);
    const term = new AbortController();
    const original = broker.placeOrder.bind(broker);
    broker.placeOrder = async (request) => {
      const order = await original(request);
      if (broker.placed.length === 25) {
        term.abort(new Error('no longer the leader'));
      }
      return order;
    };
    await assert.rejects(send(broker, term.signal)(), /no longer the leader/);
    const placedBefore = broker.placed.length;
    // the calls already under way when the term ended complete; no new one starts
    assert.ok(placedBefore >= 25 && placedBefore <= 27, `placed ${placedBefore}`);
    const { rows: booked } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM trading.order_intents WHERE run_key = $1 AND status = 'accepted'`,
      [RUN_KEY],
    );
    assert.equal(booked[0]?.n, placedBefore, 'what was answered is booked');

    broker.placeOrder = original;
    await send(broker)();
    const placed = broker.placed.map((p) => p.clientOrderId);
    assert.equal(placed.length, total);
    assert.equal(new Set(placed).size, total);
    assert.deepEqual(broker.unmarked, []);
  });

  it('a refused booking stops the send; the successor finds the orders it held at the broker and does not place them again', async () => {
    await resetIntents();
    const broker = new RecordingBroker(pool);
    // the mark and the first booking commit, then this leader's epoch is superseded
    await assert.rejects(send(broker, undefined, 2)(), /epoch 1 is stale/);
    const placedBefore = broker.placed.length;
    const { rows } = await pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM trading.order_intents WHERE run_key = $1 GROUP BY status`,
      [RUN_KEY],
    );
    const status = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    assert.ok(status.accepted > 0 && status.accepted < placedBefore, JSON.stringify({ status, placedBefore }));

    await send(broker)();
    const placed = broker.placed.map((p) => p.clientOrderId);
    assert.equal(new Set(placed).size, placed.length, 'no client order id placed twice');
    assert.equal(placed.length, total);
    const { rows: done } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM trading.order_intents WHERE run_key = $1 AND status = 'accepted'`,
      [RUN_KEY],
    );
    assert.equal(done[0]?.n, total);
  });
});
