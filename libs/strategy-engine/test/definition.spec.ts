import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { FACTOR_CATALOG, FACTOR_IDS, parseStrategyDefinition, strategyDefinitionJsonSchema } from '../src/index.js';
import { newDefinition } from './fixtures.js';

const valid = (): Record<string, unknown> =>
  JSON.parse(
    JSON.stringify(
      newDefinition({
        universe: { scope: 'markets', markets: ['KOSPI'], minMarketCap: 1e10 },
        buyConditions: {
          and: [
            { factor: 'per', op: 'between', min: 0, max: 10 },
            {
              or: [
                { factor: 'roe', op: '>', value: 15 },
                { factor: 'sma_ratio_5', op: '>', otherFactor: 'sma_ratio_20' },
              ],
            },
          ],
        },
        sell: { takeProfitPct: 20, stopLossPct: 10, minHoldingDays: 2, maxHoldingDays: 60 },
        benchmark: 'KOSPI',
      }),
    ),
  ) as Record<string, unknown>;

function nest(depth: number): unknown {
  let node: unknown = { factor: 'per', op: '<', value: 10 };
  for (let i = 0; i < depth; i++) {
    node = { and: [node] };
  }
  return node;
}

describe('parseStrategyDefinition', () => {
  it('accepts a valid definition and returns it unchanged', () => {
    const input = valid();
    const r = parseStrategyDefinition(input);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value, input);
  });

  it('rejects an unknown factor with its path', () => {
    const input = valid();
    (input.buyConditions as { and: unknown[] }).and[1] = {
      or: [
        { factor: 'roe', op: '>', value: 1 },
        { factor: 'magic', op: '>', value: 1 },
      ],
    };
    const r = parseStrategyDefinition(input);
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.errors, [
      { path: 'buyConditions.and[1].or[1].factor', message: "unknown factor 'magic'" },
    ]);
  });

  it('rejects unknown keys at any level', () => {
    const input = valid();
    input.colour = 'red';
    (input.costs as Record<string, unknown>).fee = 1;
    const r = parseStrategyDefinition(input);
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.errors.map((e) => e.path), ['colour', 'costs.fee']);
  });

  it('range-checks numbers', () => {
    for (const [key, value, path] of [
      ['maxPositions', 0, 'maxPositions'],
      ['maxPositions', 101, 'maxPositions'],
      ['maxPositions', 2.5, 'maxPositions'],
      ['initialCapital', 0, 'initialCapital'],
      ['initialCapital', Number.NaN, 'initialCapital'],
    ] as const) {
      const input = valid();
      input[key] = value;
      const r = parseStrategyDefinition(input);
      assert.equal(r.ok, false, `${key}=${value}`);
      assert.equal(!r.ok && r.errors[0]?.path, path);
    }
    const input = valid();
    input.costs = { commissionBps: 10_001, sellTaxBps: -1, slippageBps: 5 };
    const r = parseStrategyDefinition(input);
    assert.deepEqual(!r.ok && r.errors.map((e) => e.path), ['costs.commissionBps', 'costs.sellTaxBps']);
  });

  it('rejects a 5,000-level nested condition without recursing (no stack overflow) with a clear error, and accepts depth 8', () => {
    const input = valid();
    input.buyConditions = nest(5000);
    const r = parseStrategyDefinition(input);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? (r.errors[0]?.message ?? '') : '', /nested deeper than 8 levels/);
    const ok = valid();
    ok.buyConditions = nest(7); // 7 groups + the comparison = 8 levels
    assert.equal(parseStrategyDefinition(ok).ok, true);
    const tooDeep = valid();
    tooDeep.buyConditions = nest(8);
    assert.equal(parseStrategyDefinition(tooDeep).ok, false);
  });

  it('rejects condition trees with too many nodes', () => {
    const input = valid();
    input.buyConditions = { or: Array.from({ length: 250 }, () => ({ factor: 'per', op: '<', value: 1 })) };
    const r = parseStrategyDefinition(input);
    assert.match(!r.ok ? (r.errors[0]?.message ?? '') : '', /more than 200 nodes/);
  });

  it('requires the list matching the universe scope and a consistent holding range', () => {
    const input = valid();
    input.universe = { scope: 'codes', markets: ['KOSPI'] };
    input.sell = { minHoldingDays: 10, maxHoldingDays: 5 };
    const r = parseStrategyDefinition(input);
    assert.deepEqual(!r.ok && r.errors.map((e) => e.path), [
      'universe.markets',
      'universe.codes',
      'sell.maxHoldingDays',
    ]);
  });

  it('rejects a wrong schema version and non-object input', () => {
    const input = valid();
    input.schemaVersion = 2;
    assert.deepEqual(parseStrategyDefinition(input), {
      ok: false,
      errors: [{ path: 'schemaVersion', message: 'must be 1' }],
    });
    assert.equal(parseStrategyDefinition([]).ok, false);
    assert.equal(parseStrategyDefinition(null).ok, false);
  });

  describe('a composite score ranking', () => {
    const withRanking = (ranking: unknown): Record<string, unknown> => ({ ...valid(), ranking });
    const score = [
      { factor: 'per', order: 'asc', weight: 2 },
      { factor: 'mom_12_1', order: 'desc', weight: 1 },
      { factor: 'roe', order: 'desc', weight: 0.5 },
    ];

    it('is accepted and returned unchanged', () => {
      const input = withRanking({ score });
      const r = parseStrategyDefinition(input);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.value, input);
    });

    it('is checked strictly, each error with its path', () => {
      const errors = (ranking: unknown): unknown => {
        const r = parseStrategyDefinition(withRanking(ranking));
        assert.equal(r.ok, false);
        return !r.ok && r.errors;
      };
      assert.deepEqual(errors({ score: [] }), [
        { path: 'ranking.score', message: 'must be a non-empty array of { factor, order, weight }' },
      ]);
      assert.deepEqual(
        errors({
          score: [
            { factor: 'per', order: 'asc', weight: 0 },
            { factor: 'magic', order: 'up', weight: 1, extra: true },
            { factor: 'per', order: 'desc', weight: 1 },
            'roe',
          ],
        }),
        [
          { path: 'ranking.score[0].weight', message: 'must be > 0' },
          { path: 'ranking.score[1].extra', message: "unknown key 'extra' (allowed: factor, order, weight)" },
          { path: 'ranking.score[1].factor', message: "unknown factor 'magic'" },
          { path: 'ranking.score[1].order', message: 'must be one of asc, desc' },
          { path: 'ranking.score[2].factor', message: "factor 'per' is already in the score" },
          { path: 'ranking.score[3]', message: 'must be an object' },
        ],
      );
      assert.deepEqual(errors({ score, factor: 'per', order: 'asc' }), [
        { path: 'ranking.factor', message: "unknown key 'factor' (allowed: score)" },
        { path: 'ranking.order', message: "unknown key 'order' (allowed: score)" },
      ]);
      const many = FACTOR_IDS.slice(0, 21).map((factor) => ({ factor, order: 'desc', weight: 1 }));
      assert.deepEqual(errors({ score: many }), [{ path: 'ranking.score', message: 'must have at most 20 factors' }]);
      assert.deepEqual(errors({ score: [{ factor: 'per', order: 'asc', weight: 2e6 }] }), [
        { path: 'ranking.score[0].weight', message: 'must be <= 1000000' },
      ]);
    });

    it('is in the JSON Schema next to the single-factor form', () => {
      const forms = strategyDefinitionJsonSchema.properties.ranking.oneOf;
      assert.deepEqual(forms[0].required, ['factor', 'order']);
      assert.deepEqual(forms[1].required, ['score']);
      const term = forms[1].properties.score.items;
      assert.deepEqual(term.required, ['factor', 'order', 'weight']);
      assert.deepEqual(term.properties.factor, { $ref: '#/$defs/FactorId' });
      assert.equal(forms[1].properties.score.maxItems, 20);
    });
  });

  it('exports a JSON Schema listing every factor id and required field', () => {
    assert.deepEqual(strategyDefinitionJsonSchema.$defs.FactorId.enum, [...FACTOR_IDS]);
    assert.equal(strategyDefinitionJsonSchema.additionalProperties, false);
    assert.ok(strategyDefinitionJsonSchema.required.includes('ranking'));
    assert.deepEqual(
      FACTOR_CATALOG.map((f) => f.id),
      [...FACTOR_IDS],
    );
  });
});
