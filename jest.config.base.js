// Shared Jest configuration of every workspace package.
//
// Jest runs the ESM that `tsc -p tsconfig.spec.json` emits into dist-spec/ (no Jest transform):
// the tests exercise exactly the JavaScript and decorator metadata that production runs, built
// by the same compiler, and the child processes the multi-replica tests start (services' dist/,
// test fixtures in dist-spec/) are plain Node programs. Node's ESM loader inside Jest needs
// --experimental-vm-modules (see scripts/jest.sh). Coverage is V8's, mapped back to the .ts
// sources through tsc's source maps.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = dirname(fileURLToPath(import.meta.url));

/**
 * @param {string} packageDir the package's folder (import.meta.dirname of its jest.config.js)
 * @param {{ coverageThreshold?: Record<string, number>, maxWorkers?: number, testTimeout?: number,
 *   coverageFrom?: string[] }} options
 * @returns {import('jest').Config}
 */
export function packageJestConfig(packageDir, options = {}) {
  const name = packageDir.slice(repoRoot.length + 1);
  return {
    displayName: name,
    rootDir: packageDir,
    roots: ['<rootDir>/dist-spec'],
    testMatch: ['**/*.spec.js'],
    // Node's, plus the started service processes' output printed when a test fails
    testEnvironment: join(repoRoot, 'scripts/lib/jest-environment.mjs'),
    transform: {},
    // Jest's runtime, with the dependencies' sources and V8 code caches shared between test files
    runtime: join(repoRoot, 'scripts/lib/jest-runtime.cjs'),
    // A test file's own bounds are in the file; this only stops a hung one. Hooks share it.
    testTimeout: options.testTimeout ?? 180_000,
    maxWorkers: options.maxWorkers ?? 2,
    // the longest files first, by the suite's own measurements (a fresh clone has no Jest cache)
    testSequencer: join(repoRoot, 'scripts/lib/longest-first-sequencer.mjs'),
    // Replicas, servers and pools are closed by each file's afterAll; a handle left open is a
    // bug the file reports (--detectOpenHandles on demand), not a reason to hang the suite.
    forceExit: true,
    collectCoverage: process.env.COVERAGE !== 'false',
    coverageProvider: 'v8',
    collectCoverageFrom: options.coverageFrom ?? ['dist-spec/src/**/*.js', '!dist-spec/src/**/*.spec.js'],
    coverageDirectory: join(packageDir, 'coverage'),
    coverageReporters: ['text-summary', 'json-summary'],
    coverageThreshold: options.coverageThreshold ? { global: options.coverageThreshold } : undefined,
  };
}
