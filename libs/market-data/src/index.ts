export * from './load-market-data.js';
export * from './market-snapshot-cache.js';
export * from './snapshot-codec.js';
export * from './price-columns.js';
export * from './extend-market-data.js';
export * from './statement-columns.js';
