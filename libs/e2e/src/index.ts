export * from './harness.js';
export * from './scenarios.js';
