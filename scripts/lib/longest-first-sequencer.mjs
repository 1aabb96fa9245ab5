// Jest's test order for every package: the files the suite measured as longest first, so that a
// package's last minutes are not one long file running alone on one worker after the short ones.
// Jest's own order needs its timing cache, which a fresh clone (CI) never has: it falls back to
// file size, which put a 100 s failover test last. The durations come from
// scripts/lib/test-durations.json (`node scripts/lib/record-test-durations.mjs` after a run
// rewrites it); a file it does not know yet goes first, since it may be long.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const file = join(here, 'test-durations.json');
const durations = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};

/** "services/trading/test/failover.spec" for services/trading/dist-spec/test/failover.spec.js */
export const testKey = (path) =>
  relative(root, path)
    .replace(/\/dist-spec\//, '/')
    .replace(/\.js$/, '');

export default class LongestFirstSequencer {
  sort(tests) {
    const seconds = (test) => durations[testKey(test.path)] ?? Number.POSITIVE_INFINITY;
    return tests.toSorted((a, b) => seconds(b) - seconds(a) || a.path.localeCompare(b.path));
  }

  shard(tests) {
    return tests;
  }

  allFailedTests(tests) {
    return tests;
  }

  cacheResults() {}
}
