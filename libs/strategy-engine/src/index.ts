export * from './definition/strategy-definition.js';
export * from './definition/parse-definition.js';
export * from './definition/json-schema.js';
export * from './factors/catalog.js';
export * from './factors/compute.js';
export * from './data/market-data.js';
export { selectPicks, type Pick, type Selection } from './engine/selection.js';
export * from './engine/backtest.js';
export * from './engine/metrics.js';
