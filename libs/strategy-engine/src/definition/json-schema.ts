import { FACTOR_IDS } from '../factors/catalog.js';
import { MARKETS } from '../data/market-data.js';
import { DEFINITION_LIMITS as L } from './strategy-definition.js';

const factorRef = { $ref: '#/$defs/FactorId' };
const finite = { type: 'number' };
const bps = { type: 'number', minimum: 0, maximum: L.maxBps };
const stringList = {
  type: 'array',
  minItems: 1,
  maxItems: L.maxListLength,
  items: { type: 'string', minLength: 1, maxLength: L.maxStringLength },
};

/**
 * JSON Schema (draft 2020-12, usable as an OpenAPI 3.1 schema object) of StrategyDefinition.
 * parseStrategyDefinition is the authority: it also enforces what JSON Schema cannot say
 * (condition depth <= 8 and <= 200 nodes, min <= max, list fields matching the scope, each factor
 * at most once in a composite score).
 */
export const strategyDefinitionJsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://stocklab.example/schemas/strategy-definition-v1.json',
  title: 'StrategyDefinition',
  description: `A stock-selection strategy, schema version 1. Condition trees are limited to ${L.maxConditionDepth} levels and ${L.maxConditionNodes} nodes.`,
  type: 'object',
  additionalProperties: false,
  required: [
    'schemaVersion',
    'universe',
    'ranking',
    'maxPositions',
    'weighting',
    'rebalance',
    'costs',
    'initialCapital',
  ],
  properties: {
    schemaVersion: { const: 1 },
    universe: {
      type: 'object',
      additionalProperties: false,
      required: ['scope'],
      properties: {
        scope: { enum: ['all', 'markets', 'sectors', 'codes'] },
        markets: { type: 'array', minItems: 1, items: { enum: [...MARKETS] } },
        sectors: stringList,
        codes: stringList,
        minMarketCap: { type: 'number', minimum: 0, description: 'KRW' },
        minAvgTradingValue: { type: 'number', minimum: 0, description: 'KRW, 20-day average' },
      },
    },
    buyConditions: { $ref: '#/$defs/Condition' },
    ranking: {
      description:
        "One factor ({ factor, order }), or a composite score ({ score: [{ factor, order, weight }] }): per factor the percentile rank within the day's universe (a missing value ranks 0), weighted mean x 100, highest first.",
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['factor', 'order'],
          properties: { factor: factorRef, order: { enum: ['asc', 'desc'] } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['score'],
          properties: {
            score: {
              type: 'array',
              minItems: 1,
              maxItems: L.maxScoreTerms,
              description: 'each factor at most once',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['factor', 'order', 'weight'],
                properties: {
                  factor: factorRef,
                  order: { enum: ['asc', 'desc'], description: "'desc': the highest value scores best" },
                  weight: { type: 'number', exclusiveMinimum: 0, maximum: L.maxScoreWeight },
                },
              },
            },
          },
        },
      ],
    },
    maxPositions: { type: 'integer', minimum: 1, maximum: L.maxPositions },
    weighting: {
      type: 'object',
      additionalProperties: false,
      required: ['method'],
      properties: {
        method: { const: 'equal' },
        maxWeightPerStock: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        maxValuePerStock: { type: 'number', exclusiveMinimum: 0, maximum: L.maxCapital, description: 'KRW' },
      },
    },
    rebalance: { enum: ['daily', 'weekly', 'monthly', 'quarterly'] },
    sell: {
      type: 'object',
      additionalProperties: false,
      properties: {
        takeProfitPct: { type: 'number', exclusiveMinimum: 0, maximum: 10_000 },
        stopLossPct: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
        minHoldingDays: { type: 'integer', minimum: 0, maximum: L.maxHoldingDays },
        maxHoldingDays: { type: 'integer', minimum: 1, maximum: L.maxHoldingDays },
        conditions: { $ref: '#/$defs/Condition' },
      },
    },
    costs: {
      type: 'object',
      additionalProperties: false,
      required: ['commissionBps', 'slippageBps'],
      properties: {
        commissionBps: bps,
        sellTaxBps: {
          ...bps,
          deprecated: true,
          description:
            'Ignored: sells pay the KRX transaction tax of their date and market. Accepted for saved definitions.',
        },
        slippageBps: bps,
        maxTradingValueShare: {
          type: 'number',
          exclusiveMinimum: 0,
          maximum: 1,
          description:
            "Optional cap: each buy's value at its limit <= this share of the stock's trading value on the signal day.",
        },
        delistingHaircutPct: {
          type: 'number',
          minimum: 0,
          maximum: 100,
          default: 0,
          description:
            'Percent taken off the last price when a delisted holding is closed on its recorded delisting date.',
        },
      },
    },
    initialCapital: { type: 'number', exclusiveMinimum: 0, maximum: L.maxCapital, description: 'KRW' },
    benchmark: { type: 'string', minLength: 1, maxLength: L.maxStringLength },
  },
  $defs: {
    FactorId: { enum: [...FACTOR_IDS] },
    Operator: { enum: ['<', '<=', '>', '>=', '==', '!='] },
    Condition: {
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['and'],
          properties: { and: { type: 'array', minItems: 1, items: { $ref: '#/$defs/Condition' } } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['or'],
          properties: { or: { type: 'array', minItems: 1, items: { $ref: '#/$defs/Condition' } } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['factor', 'op', 'value'],
          properties: { factor: factorRef, op: { $ref: '#/$defs/Operator' }, value: finite },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['factor', 'op', 'otherFactor'],
          properties: { factor: factorRef, op: { $ref: '#/$defs/Operator' }, otherFactor: factorRef },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['factor', 'op', 'min', 'max'],
          properties: { factor: factorRef, op: { const: 'between' }, min: finite, max: finite },
        },
      ],
    },
  },
} as const;
