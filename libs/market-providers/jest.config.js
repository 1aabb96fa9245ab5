import { packageJestConfig } from '../../jest.config.base.js';

// Coverage thresholds: what the suite measured when they were set, rounded down less a point for
// run-to-run variance (retry paths taken or not); they only go up.
export default packageJestConfig(import.meta.dirname, {
  coverageThreshold: { statements: 94, branches: 81, functions: 97, lines: 94 },
});
