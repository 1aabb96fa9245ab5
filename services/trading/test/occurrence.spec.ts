import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { clientOrderId } from '../src/broker/client-order-id.js';
import { nonTradingReason, zonedParts } from '../src/calendar/trading-calendar.js';
import { SEEDED_HOLIDAYS } from '../src/migrations/1764160000000-create-trading-tables.js';
import { catchUpDecision, firstFireOn, occurrenceOn } from '../src/scheduler/occurrence.js';

const holidays = new Set(SEEDED_HOLIDAYS.map(([d]) => d));

describe('occurrences', () => {
  it('names a run by job, trading date and the cron time in Asia/Seoul', () => {
    const o = occurrenceOn('execute', '0 0 9 * * *', 'Asia/Seoul', '2026-11-27', '2026-11-27');
    assert.equal(o.runKey, 'execute:2026-11-27T09:00+09:00');
    assert.equal(o.scheduledAt.toISOString(), '2026-11-27T00:00:00.000Z');
    const s = occurrenceOn('select', '30 15 7 * * *', 'Asia/Seoul', '2026-11-27', '2026-11-27');
    assert.equal(s.runKey, 'select:2026-11-27T07:15:30+09:00');
  });

  it('keeps the run key of a replayed trading date independent of the real day', () => {
    const a = occurrenceOn('select', '0 0 7 * * *', 'Asia/Seoul', '2026-03-10', '2026-11-27');
    const b = occurrenceOn('select', '0 0 7 * * *', 'Asia/Seoul', '2026-03-10', '2026-03-10');
    assert.equal(a.runKey, b.runKey);
  });

  it('finds no fire on a day a weekday-only cron skips', () => {
    assert.equal(firstFireOn('0 0 9 * * 1-5', 'Asia/Seoul', '2026-11-28'), undefined);
  });

  it('runs a missed occurrence within the grace window and skips older ones', () => {
    const o = { scheduledAt: new Date('2026-11-27T00:00:00Z') };
    const grace = 30 * 60_000;
    assert.equal(catchUpDecision(o, new Date('2026-11-26T23:59:59Z'), grace), 'not-due');
    assert.equal(catchUpDecision(o, new Date('2026-11-27T00:00:00Z'), grace), 'run');
    assert.equal(catchUpDecision(o, new Date('2026-11-27T00:30:00Z'), grace), 'run');
    assert.equal(catchUpDecision(o, new Date('2026-11-27T00:30:01Z'), grace), 'missed');
  });
});

describe('trading calendar', () => {
  it('closes on weekends and seeded holidays', () => {
    assert.equal(nonTradingReason('2026-11-28', holidays), 'weekend');
    assert.equal(nonTradingReason('2026-11-29', holidays), 'weekend');
    assert.equal(nonTradingReason('2026-09-25', holidays), 'holiday');
    assert.equal(nonTradingReason('2026-12-31', holidays), 'holiday');
    assert.equal(nonTradingReason('2027-02-09', holidays), 'holiday');
    assert.equal(nonTradingReason('2026-11-27', holidays), undefined);
  });

  it('tells the Seoul date of an instant', () => {
    assert.deepEqual(zonedParts(new Date('2026-11-26T15:30:00Z'), 'Asia/Seoul'), {
      date: '2026-11-27',
      time: '00:30:00',
      offset: '+09:00',
    });
  });
});

describe('clientOrderId', () => {
  it('is deterministic and differs by run, account, symbol and side', () => {
    const id = clientOrderId('execute:2026-11-27T09:00+09:00', 'acc', '005930', 'buy');
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(id, clientOrderId('execute:2026-11-27T09:00+09:00', 'acc', '005930', 'buy'));
    const others = [
      clientOrderId('execute:2026-11-30T09:00+09:00', 'acc', '005930', 'buy'),
      clientOrderId('execute:2026-11-27T09:00+09:00', 'acc2', '005930', 'buy'),
      clientOrderId('execute:2026-11-27T09:00+09:00', 'acc', '000660', 'buy'),
      clientOrderId('execute:2026-11-27T09:00+09:00', 'acc', '005930', 'sell'),
    ];
    assert.equal(new Set([id, ...others]).size, 5);
  });
});
