import { packageJestConfig } from '../../jest.config.base.js';

// Coverage thresholds: what the suite measured when they were set, rounded down less a point for
// run-to-run variance (retry paths taken or not); they only go up.
export default packageJestConfig(import.meta.dirname, {
  coverageThreshold: { statements: 90, branches: 75, functions: 93, lines: 90 },
});
