import { packageJestConfig } from '../../jest.config.base.js';

// Each file starts whole platforms of its own (ports, database, Redis prefix): two at a time.
// The leader-kill chaos alone runs about two minutes; the bound only stops a hung file.
// Coverage thresholds: what the suite measured when they were set, rounded down (they only go up).
export default packageJestConfig(import.meta.dirname, {
  maxWorkers: 2,
  testTimeout: 600_000,
  coverageThreshold: { statements: 84, branches: 79, functions: 87, lines: 84 },
});
