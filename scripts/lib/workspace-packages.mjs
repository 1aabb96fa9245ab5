// Prints the folders of the workspace packages (package.json "workspaces"), one per line:
//   node scripts/lib/workspace-packages.mjs [--exclude NAME]... [--longest-first]
// in folder order, or with --longest-first by the sum of their files' durations in
// scripts/lib/test-durations.json, longest first (a package it does not know yet goes first).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const excluded = new Set();
let longestFirst = false;
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--exclude') {
    excluded.add(args[(i += 1)]);
  } else if (args[i] === '--longest-first') {
    longestFirst = true;
  } else {
    throw new Error(`unknown argument ${args[i]}`);
  }
}
const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const folders = workspaces
  .flatMap((glob) => {
    const parent = glob.replace(/\/\*$/, '');
    return readdirSync(join(root, parent)).map((name) => `${parent}/${name}`);
  })
  .filter((folder) => existsSync(join(root, folder, 'package.json')))
  .filter((folder) => !excluded.has(basename(folder)));
const durations = longestFirst
  ? JSON.parse(readFileSync(join(root, 'scripts', 'lib', 'test-durations.json'), 'utf8'))
  : {};
/** seconds of the package's files as last measured; Infinity for a package with none recorded */
const seconds = (folder) => {
  const own = Object.entries(durations).filter(([key]) => key.startsWith(`${folder}/`));
  return own.length === 0 ? Number.POSITIVE_INFINITY : own.reduce((sum, [, s]) => sum + s, 0);
};
const ordered = longestFirst ? folders.toSorted((a, b) => seconds(b) - seconds(a)) : folders;
for (const folder of ordered) {
  console.log(folder);
}
