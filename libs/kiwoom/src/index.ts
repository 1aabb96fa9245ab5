export * from './errors.js';
export * from './shared-token.js';
export * from './shared-rate-limit.js';
export * from './client.js';
export * from './account-api.js';
export * from './ticks.js';
export * from './exactly-once.js';
export * from './testing/kiwoom-double.js';
