import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { FactorCache, selectPicks, StrategyDecider, type Holding, type StrategyDefinition } from '../src/index.js';
import { newDefinition } from './fixtures.js';
import { syntheticMarket } from './synthetic.js';

/**
 * A live run compiles thousands of strategies on one day with a shared FactorCache: each must
 * pick and decide exactly as it does alone (the backtest's way), and each factor is computed once.
 */
describe('FactorCache: strategies on the same day share their factors', () => {
  const data = syntheticMarket({ days: 300, stocks: 120, seed: 14, gaps: true });
  const t = 280;
  const definitions: StrategyDefinition[] = [
    newDefinition({
      ranking: { factor: 'mom_6m', order: 'desc' },
      buyConditions: {
        and: [
          { factor: 'per', op: 'between', min: 0, max: 25 },
          { factor: 'roe', op: '>', value: 0 },
        ],
      },
      maxPositions: 8,
    }),
    newDefinition({
      universe: { scope: 'markets', markets: ['KOSDAQ'] },
      ranking: { factor: 'volatility_20d', order: 'asc' },
      buyConditions: {
        or: [
          { factor: 'rsi_14', op: '<', value: 45 },
          { factor: 'pbr', op: '<', value: 1 },
        ],
      },
      maxPositions: 5,
      sell: { conditions: { factor: 'sma_ratio_20', op: '>', value: 1.03 }, stopLossPct: 10 },
    }),
    newDefinition({
      universe: { scope: 'all', minAvgTradingValue: 1e8 },
      ranking: { factor: 'per', order: 'asc' },
      buyConditions: { factor: 'sma_ratio_5', op: '>', otherFactor: 'sma_ratio_20' },
      maxPositions: 6,
      sell: { conditions: { factor: 'rsi_14', op: '>', value: 70 }, takeProfitPct: 20 },
    }),
  ];
  const holdings = (): Holding[] =>
    [3, 17, 40, 77].map((stock, k) => ({
      stock,
      quantity: 10 + k,
      entryDay: t - 20 * (k + 1),
      entryPrice: 10_000 + k * 500,
      entryCost: 100_000,
      pendingSell: null,
    }));

  it('picks what each strategy picks alone', () => {
    const cache = new FactorCache(data);
    // the same definitions twice: the second round reads only cached rows
    for (const def of [...definitions, ...definitions]) {
      const alone = selectPicks(def, data, t);
      assert.ok(alone.picks.length > 0, 'the strategy picks something');
      assert.deepEqual(selectPicks(def, data, t, cache), alone);
    }
  });

  it('decides the orders each strategy decides alone, sell conditions included', () => {
    const cache = new FactorCache(data);
    let orders = 0;
    for (const def of [...definitions, ...definitions]) {
      const state = { cash: 5_000_000, holdings: holdings(), wanted: [] };
      const shared = new StrategyDecider(def, data, [t], [t], cache).decide(t, state, { rebalance: true });
      const alone = new StrategyDecider(def, data, [t], [t]).decide(
        t,
        { cash: 5_000_000, holdings: holdings(), wanted: [] },
        { rebalance: true },
      );
      assert.deepEqual(shared, alone);
      orders += alone.orders.length;
    }
    assert.ok(orders > 0, 'the strategies order something');
  });

  it('computes each factor once for the day, whatever the number of strategies', () => {
    const cache = new FactorCache(data);
    for (let i = 0; i < 50; i++) {
      for (const def of definitions) {
        new StrategyDecider(def, data, [t], [t], cache).decide(
          t,
          { cash: 5_000_000, holdings: holdings(), wanted: [] },
          { rebalance: true },
        );
      }
    }
    // mom_6m, per, roe, volatility_20d, rsi_14, pbr, sma_ratio_20, avg_trading_value_20d, sma_ratio_5
    assert.equal(cache.computed, 9);
  });

  it('shares composite scores: their factors with the other strategies, each score once', () => {
    const score = {
      score: [
        { factor: 'per' as const, order: 'asc' as const, weight: 1 },
        { factor: 'mom_6m' as const, order: 'desc' as const, weight: 2 },
      ],
    };
    const scored = [
      newDefinition({ ranking: score, buyConditions: { factor: 'roe', op: '>', value: 0 }, maxPositions: 7 }),
      newDefinition({ universe: { scope: 'markets', markets: ['KOSDAQ'] }, ranking: score, maxPositions: 4 }),
    ];
    const cache = new FactorCache(data);
    for (const def of definitions) {
      selectPicks(def, data, t, cache);
    }
    const before = cache.computed;
    for (const def of [...scored, ...scored]) {
      const alone = selectPicks(def, data, t);
      assert.ok(alone.picks.length > 0, 'the strategy picks something');
      assert.deepEqual(selectPicks(def, data, t, cache), alone);
    }
    assert.equal(cache.computed, before, 'per, mom_6m and roe were already there');
    assert.equal(cache.computedScores, 2, 'one score per universe');
  });

  it('refuses market data other than its own', () => {
    const other = syntheticMarket({ days: 50, stocks: 10, seed: 1 });
    assert.throws(() => selectPicks(definitions[0], other, 40, new FactorCache(data)), /other market data/);
  });
});
