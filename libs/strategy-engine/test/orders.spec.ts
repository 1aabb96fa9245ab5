import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  bookFill,
  fillOnBar,
  isRebalanceDay,
  rebalanceDays,
  sharesWithin,
  StrategyDecider,
  worstBuyCost,
  type PortfolioState,
} from '../src/index.js';
import { syntheticMarket } from './synthetic.js';
import { flat, newDefinition, newMarket } from './fixtures.js';

const bar = (open: number, high: number, low: number, volume = 1000) => ({ open, high, low, volume });
const costs = { commissionBps: 15, slippageBps: 30 };
/** 2024, KOSPI, no known previous close: no price limits. */
const day = { date: 20240603, market: 'KOSPI' as const, base: NaN };

describe('orders: how a day bar fills each kind', () => {
  it('fills a market sell at the open, and nothing on a day without a bar', () => {
    assert.deepEqual(fillOnBar('market_sell', NaN, bar(100, 110, 90), day), { price: 100, at: 'open' });
    assert.equal(fillOnBar('market_sell', NaN, bar(NaN, NaN, NaN), day), null);
  });

  it("on an ex-date, refuses what was priced on the old basis: the day's limits are the base price's", () => {
    // 50:1 split, previous close 2,650,000: base 53,000, limits 37,100..68,900 (30 %, 2024 grid)
    const exDate = { date: 20240603, market: 'KOSPI' as const, base: 2_650_000, exFactor: 50 };
    const newBar = bar(53_000, 54_000, 52_000);
    assert.equal(fillOnBar('stop_sell', 2_385_000, newBar, exDate), null, 'a stop 10 % under the old entry');
    assert.equal(fillOnBar('limit_buy', 2_782_000, newBar, exDate), null, 'a buy limit 5 % over the old close');
    assert.deepEqual(fillOnBar('market_sell', NaN, newBar, exDate), { price: 53_000, at: 'open' });
    // priced inside the new limits: an order like any other (without exFactor the same stop gaps)
    assert.deepEqual(fillOnBar('stop_sell', 52_500, newBar, exDate), { price: 52_500, at: 'level' });
    assert.deepEqual(fillOnBar('stop_sell', 2_385_000, newBar, { ...exDate, exFactor: undefined, base: NaN }), {
      price: 53_000,
      at: 'open',
    });
  });

  it('fills a limit buy at an open within the limit, at the limit when the day comes down to it, else not', () => {
    assert.deepEqual(fillOnBar('limit_buy', 105, bar(100, 120, 95), day), { price: 100, at: 'open' });
    assert.deepEqual(fillOnBar('limit_buy', 105, bar(110, 120, 104), day), { price: 105, at: 'level' });
    assert.equal(fillOnBar('limit_buy', 105, bar(110, 120, 106), day), null);
  });

  it('fills a stop at its level, or at an open below it; a target at its level, or at an open above it', () => {
    assert.deepEqual(fillOnBar('stop_sell', 90, bar(100, 101, 85), day), { price: 90, at: 'level' });
    assert.deepEqual(fillOnBar('stop_sell', 90, bar(80, 85, 75), day), { price: 80, at: 'open' });
    assert.equal(fillOnBar('stop_sell', 90, bar(100, 101, 91), day), null);
    assert.deepEqual(fillOnBar('target_sell', 120, bar(100, 125, 99), day), { price: 120, at: 'level' });
    assert.deepEqual(fillOnBar('target_sell', 120, bar(130, 135, 128), day), { price: 130, at: 'open' });
    assert.equal(fillOnBar('target_sell', 120, bar(100, 119, 99), day), null);
  });

  it('books slippage on every fill, rounded against the trader to the tick grid, money in whole won', () => {
    const session = { date: 20240603, market: 'KOSPI' as const };
    // 1001 x 1.003 = 1004.003 -> 1005 (tick 1 below 2,000, rounded up for a buy)
    const buy = bookFill('limit_buy', 7, { price: 1001, at: 'open' }, costs, session);
    assert.equal(buy.price, 1005);
    assert.equal(buy.amount, 7035);
    assert.equal(buy.commission, Math.floor(7035 * 0.0015));
    assert.equal(buy.cashDelta, -(buy.amount + buy.commission));
    // a stop gapped through fills at the open less slippage: 80 x 0.997 = 79.76 -> 79 (down for a sell)
    const stop = bookFill('stop_sell', 7, { price: 80, at: 'open' }, costs, session);
    assert.equal(stop.price, 79);
    // KOSPI 2024: 0.03 % transaction tax + 0.15 % rural tax, each truncated: floor(553 x 0.0003) + floor(553 x 0.0015)
    assert.equal(stop.tax, 0 + 0);
    assert.equal(stop.cashDelta, 553 - stop.commission - stop.tax);
    const target = bookFill('target_sell', 1000, { price: 12_000, at: 'level' }, costs, session);
    // 12,000 x 0.997 = 11,964 -> 11,960 (tick 10 from 5,000 to 20,000)
    assert.equal(target.price, 11_960);
    assert.equal(target.tax, 3588 + 17_940, 'floor(11,960,000 x 3 / 10,000) + floor(11,960,000 x 15 / 10,000)');
    const real = bookFill('market_sell', 7, { price: 80.5, at: 'open' }, costs, session, { marketPrice: true });
    assert.equal(real.price, 80.5, "a broker's own price: no slippage, no rounding");
  });

  it('sizes a buy so that its worst fill fits the budget, to the won', () => {
    const session = { date: 20240603, market: 'KOSDAQ' as const };
    for (const [budget, limit] of [
      [1_000_000, 1050],
      [999, 1000],
      [123_456_789, 77],
      [10_500, 10_500],
    ] as const) {
      const q = sharesWithin(budget, limit, costs, session);
      assert.ok(q === 0 || worstBuyCost(q, limit, costs, session) <= budget, `${budget} ${limit}`);
      assert.ok(
        worstBuyCost(q + 1, limit, costs, session) > budget,
        `${budget} ${limit}: one more share would not fit`,
      );
    }
    assert.equal(sharesWithin(0, 1000, costs, session), 0);
  });
});

describe('StrategyDecider', () => {
  const data = newMarket({ A: [flat(1000), flat(1000), flat(1000)], B: [flat(500), flat(500), flat(500)] });
  const held = (stock: number, entryPrice: number): PortfolioState['holdings'][number] => ({
    stock,
    quantity: 10,
    entryDay: 0,
    entryPrice,
    entryCost: 10 * entryPrice,
    pendingSell: null,
  });

  it('sells everything at the open and buys nothing when liquidating', () => {
    const decider = new StrategyDecider(newDefinition({ maxPositions: 2 }), data, [1], []);
    const d = decider.decide(
      1,
      { cash: 1e6, holdings: [held(0, 1000), held(1, 500)], wanted: [] },
      {
        rebalance: true,
        liquidate: true,
      },
    );
    assert.deepEqual(
      d.orders.map((o) => [o.kind, o.stock, o.quantity, o.reason]),
      [
        ['market_sell', 0, 10, 'liquidation'],
        ['market_sell', 1, 10, 'liquidation'],
      ],
    );
    assert.deepEqual(d.wanted, []);
  });

  it('keeps a pick it could not buy wanted, and sends a decided sell again until it fills', () => {
    const decider = new StrategyDecider(newDefinition({ maxPositions: 1 }), data, [1], []);
    const poor = decider.decide(1, { cash: 100, holdings: [], wanted: [] }, { rebalance: true });
    assert.deepEqual(poor.orders, []);
    assert.deepEqual(
      poor.wanted.map((w) => w.stock),
      [0],
    );
    const pending = { ...held(1, 500), pendingSell: 'rebalance' as const };
    const again = decider.decide(1, { cash: 0, holdings: [pending], wanted: [] }, { rebalance: false });
    assert.deepEqual(
      again.orders.map((o) => [o.kind, o.stock, o.reason]),
      [['market_sell', 1, 'rebalance']],
    );
  });
});

describe('rebalance days', () => {
  it('are the same days for a live decision (isRebalanceDay) as for a backtest (rebalanceDays)', () => {
    const data = syntheticMarket({ days: 400, stocks: 2, seed: 3 });
    for (const freq of ['daily', 'weekly', 'monthly', 'quarterly'] as const) {
      for (const d0 of [0, 17, 250]) {
        const backtest = Array.from(rebalanceDays(data, freq, d0, 399));
        const live: number[] = [];
        for (let t = d0; t <= 399; t++) {
          if (isRebalanceDay(data, freq, t, t === d0)) {
            live.push(t);
          }
        }
        assert.deepEqual(live, backtest, `${freq} from ${d0}`);
      }
    }
  });
});
