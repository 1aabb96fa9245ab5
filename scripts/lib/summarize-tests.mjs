// Adds up the summaries that node's test runner printed for each package and prints one
// closing line for the whole suite.
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2], 'utf8');
const sum = (label) =>
  [...text.matchAll(new RegExp(`ℹ ${label} (\\d+)`, 'g'))].reduce((total, match) => total + Number(match[1]), 0);
const passed = sum('pass');
const failed = sum('fail') + sum('cancelled');
const skipped = sum('skipped') + sum('todo');
console.log(`suite: ${passed} passed, ${failed} failed, ${skipped} skipped`);
