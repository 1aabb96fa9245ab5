// Prints the folders of the workspace packages (package.json "workspaces"), one per line:
//   node scripts/lib/workspace-packages.mjs [--exclude NAME]... [NAME...]
// NAMEs (folder names) come first, in the order given; the packages not named follow in folder
// order, so that a package added later is never left out of a list that predates it.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const excluded = new Set();
const first = [];
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--exclude') {
    excluded.add(args[(i += 1)]);
  } else {
    first.push(args[i]);
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
const rank = (folder) => {
  const at = first.indexOf(basename(folder));
  return at === -1 ? first.length : at;
};
for (const folder of folders.toSorted((a, b) => rank(a) - rank(b))) {
  console.log(folder);
}
