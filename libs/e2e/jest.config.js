import { packageJestConfig } from '../../jest.config.base.js';

// Each file starts whole platforms of its own (ports, database, Redis prefix): two at a time.
// The leader-kill chaos alone runs about two minutes; the bound only stops a hung file.
// Coverage thresholds: what the suite measured when they were set, rounded down (they only go up).
// Branches 78: the load generator's retry after 503 + Retry-After runs only when the machine stalls
// during the replica chaos, so e2e's branch figure moves with timing (78.99 to 80.4 measured).
export default packageJestConfig(import.meta.dirname, {
  maxWorkers: 2,
  testTimeout: 600_000,
  coverageThreshold: { statements: 84, branches: 78, functions: 87, lines: 84 },
});
