// Prints each package's coverage (from the json-summary Jest's V8 coverage wrote) in one table,
// so that CI's output shows every figure next to the threshold its jest.config.js holds.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const metrics = ['statements', 'branches', 'functions', 'lines'];
const rows = [['coverage %', ...metrics]];
for (const name of process.argv.slice(2)) {
  const dir = ['libs', 'services'].map((g) => join(g, name)).find((d) => existsSync(d));
  const file = dir && join(dir, 'coverage', 'coverage-summary.json');
  if (!file || !existsSync(file)) {
    rows.push([name, ...metrics.map(() => '-')]);
    continue;
  }
  const total = JSON.parse(readFileSync(file, 'utf8')).total;
  rows.push([name, ...metrics.map((m) => total[m].pct.toFixed(1))]);
}
const widths = metrics
  .map((_, i) => i)
  .concat(metrics.length)
  .map((i) => Math.max(...rows.map((r) => r[i].length)));
for (const row of rows) {
  console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
}
