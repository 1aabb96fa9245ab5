export * from './harness.js';
export * from './scenarios.js';
export * from './leader-chaos.js';
