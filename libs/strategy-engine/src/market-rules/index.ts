export * from './tax.js';
export * from './ticks.js';
export * from './limits.js';
