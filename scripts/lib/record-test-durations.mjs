// Writes scripts/lib/test-durations.json (each test file's seconds, as the last suite measured
// them: .run/test-results/*.json) for the longest-first order of longest-first-sequencer.mjs.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testKey } from './longest-first-sequencer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const results = join(here, '..', '..', '.run', 'test-results');
const durations = {};
for (const file of readdirSync(results).filter((name) => name.endsWith('.json'))) {
  for (const test of JSON.parse(readFileSync(join(results, file), 'utf8')).testResults) {
    durations[testKey(test.name)] = Math.round((test.endTime - test.startTime) / 1000);
  }
}
const sorted = Object.fromEntries(Object.entries(durations).toSorted(([a], [b]) => a.localeCompare(b)));
writeFileSync(join(here, 'test-durations.json'), `${JSON.stringify(sorted, null, 2)}\n`);
console.log(`${Object.keys(sorted).length} test files' durations written to scripts/lib/test-durations.json`);
