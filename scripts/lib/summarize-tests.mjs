// Adds up the Jest results every package wrote (.run/test-results/<package>.json, see
// scripts/jest.sh) and prints one closing line for the whole suite. A package whose tests were
// due but left no results (it did not compile, Jest crashed) counts as one failure, so that a
// broken package can never pass for an empty one; a package whose run failed with every test
// passing (coverage under its threshold) counts as one failure too.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const [resultsDir, ...expected] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
const failures = [];
for (const name of expected) {
  const file = join(resultsDir, `${name}.json`);
  if (!existsSync(file)) {
    failed += 1;
    rows.push([name, 'no results (did not compile or did not run)', '', '', '']);
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  failures.push(...failuresOf(name, r));
  if (r.success === false && r.numFailedTests === 0 && (r.numRuntimeErrorTestSuites ?? 0) === 0) {
    failures.push(
      `FAILED ${name}: every test passed, the run did not (coverage under a threshold: see its coverage summary)`,
    );
  }
  // a run whose tests all passed can still fail as a whole: coverage under its threshold
  const crashed = (r.numRuntimeErrorTestSuites ?? 0) + (r.success === false && r.numFailedTests === 0 ? 1 : 0);
  passed += r.numPassedTests;
  failed += r.numFailedTests + crashed;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  const seconds = Math.round(
    (Math.max(...r.testResults.map((t) => t.endTime ?? r.startTime), r.startTime) - r.startTime) / 1000,
  );
  rows.push([
    name,
    String(r.numPassedTests),
    String(r.numFailedTests + crashed),
    String(r.numPendingTests),
    `${seconds} s`,
  ]);
}
const unexpected = readdirSync(resultsDir).filter((f) => f.endsWith('.json') && !expected.includes(f.slice(0, -5)));
if (unexpected.length > 0) {
  console.log(`(ignored stale results: ${unexpected.join(', ')})`);
}
// CI keeps only the tail of a run's output: the reasons of its failures belong there, next to
// the table, not only scrolled away in the interleaved output of parallel packages.
for (const failure of failures) {
  console.log(failure);
}
const widths = [0, 1, 2, 3, 4].map((i) =>
  Math.max(...[['package', 'passed', 'failed', 'skipped', 'time'], ...rows].map((row) => row[i].length)),
);
for (const row of [['package', 'passed', 'failed', 'skipped', 'time'], ...rows]) {
  console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
}
console.log(`suite: ${passed} passed, ${failed} failed, ${skipped} skipped`);

/** One block per failed test (or suite that failed outside its tests): file, name, first lines of the message. */
function failuresOf(name, results) {
  const blocks = [];
  for (const suite of results.testResults) {
    const file = suite.name.slice(suite.name.indexOf('dist-spec/'));
    const failedTests = suite.assertionResults.filter((t) => t.status === 'failed');
    // a failed beforeAll fails every test of the file with one message: say it once
    const byMessage = new Map();
    for (const test of failedTests) {
      const message = test.failureMessages.join('\n');
      byMessage.set(message, [...(byMessage.get(message) ?? []), test.fullName]);
    }
    for (const [message, tests] of byMessage) {
      const which = tests.length === 1 ? tests[0] : `${tests.length} tests, first: ${tests[0]}`;
      blocks.push(block(`${name} ${file} > ${which}`, message));
    }
    if (failedTests.length === 0 && suite.status === 'failed') {
      blocks.push(block(`${name} ${file}`, suite.message));
    }
  }
  return blocks;
}

function block(title, message) {
  const lines = String(message ?? '')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(0, 12)
    .map((line) => `    ${line.slice(0, 400)}`);
  return [`FAILED ${title}`, ...lines].join('\n');
}
