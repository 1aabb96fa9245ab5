import { packageJestConfig } from '../../jest.config.base.js';

// Coverage thresholds: what the suite measured when they were set, rounded down (they only go up).
// Branches went from 99 to 89 when the PostgreSQL-reading code (loads, increments) got tests of its
// own here: V8 counts the branches of the functions that run, and those had run only in the
// services' tests before; statements, lines and functions rose from 75/75/67.
export default packageJestConfig(import.meta.dirname, {
  coverageThreshold: { statements: 91, branches: 89, functions: 93, lines: 91 },
});
