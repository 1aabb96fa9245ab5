/**
 * The Dockerfile's prune stage: turns the build stage's /app (every workspace, every dependency
 * of the monorepo, dev ones included) into what one service's image ships, and nothing more:
 *
 *   node libs/deploy-checks/src/image-prune.ts services/<service>      (cwd: the repository root)
 *
 * Why not `npm ci --omit=dev --workspace services/<service>`: npm keeps every workspace linked at
 * the root out of `--omit=dev` (so @stocklab/test-support comes along with s3rver and
 * @aws-sdk/client-s3), installs a devDependency of the workspace itself, keeps optional peers
 * present in the lockfile (typescript, for @nestjs/swagger) and links workspaces the prune then
 * deletes. Here the production closure is resolved from package-lock.json, which describes the
 * tree `npm ci` laid out in the build stage exactly, and everything else is removed.
 *
 * Self-contained (node: modules only, erasable TypeScript): the build stage runs it from source
 * with Node's type stripping, before any of deploy-checks is built; the tests import it.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LockEntry {
  name?: string;
  version?: string;
  link?: boolean;
  resolved?: string;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bin?: Record<string, string> | string;
}

export interface Lockfile {
  packages: Record<string, LockEntry>;
}

export interface Closure {
  /** lockfile keys to keep: workspace folders, node_modules paths (workspace links included) */
  keep: Set<string>;
  /** the workspace folders among them, the service's first */
  workspaces: string[];
  /** "<from> -> <name>": a required dependency the lockfile cannot resolve */
  missing: string[];
}

/**
 * Type declarations only, never loaded at run time: @kubernetes/client-node lists @types/node
 * among its dependencies, which would otherwise ship in the trading image.
 */
const TYPES_ONLY = /^@types\//;

/** Node's lookup, on lockfile keys: <dir>/node_modules/<name>, then each parent folder's. */
export function resolveInLock(packages: Lockfile['packages'], from: string, name: string): string | undefined {
  const parts = from === '' ? [] : from.split('/');
  for (let i = parts.length; i >= 0; i -= 1) {
    const dir = parts.slice(0, i);
    if (dir[dir.length - 1] === 'node_modules') {
      continue;
    }
    const candidate = [...dir, 'node_modules', name].join('/');
    if (packages[candidate] !== undefined) {
      return candidate;
    }
  }
  return undefined;
}

/** What a package needs at run time: dependencies, optional ones, and peers not marked optional. */
function runtimeEdges(entry: LockEntry): { name: string; optional: boolean }[] {
  const edges = [
    ...Object.keys(entry.dependencies ?? {}).map((name) => ({ name, optional: false })),
    ...Object.keys(entry.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
    ...Object.keys(entry.peerDependencies ?? {})
      .filter((name) => entry.peerDependenciesMeta?.[name]?.optional !== true)
      .map((name) => ({ name, optional: false })),
  ];
  return edges.filter((e) => !TYPES_ONLY.test(e.name));
}

/** The production dependency closure of one workspace (e.g. "services/auth") in the lockfile. */
export function productionClosure(lock: Lockfile, workspace: string): Closure {
  const packages = lock.packages;
  if (packages[workspace] === undefined) {
    throw new Error(`${workspace} is not a workspace of package-lock.json`);
  }
  const keep = new Set<string>([workspace]);
  const workspaces = [workspace];
  const missing: string[] = [];
  const queue = [workspace];
  for (let from = queue.shift(); from !== undefined; from = queue.shift()) {
    for (const edge of runtimeEdges(packages[from] ?? {})) {
      const found = resolveInLock(packages, from, edge.name);
      if (found === undefined) {
        if (!edge.optional) {
          missing.push(`${from} -> ${edge.name}`);
        }
        continue;
      }
      if (keep.has(found)) {
        continue;
      }
      keep.add(found);
      const entry = packages[found] ?? {};
      if (entry.link !== true) {
        queue.push(found);
      } else if (entry.resolved !== undefined && !keep.has(entry.resolved)) {
        // a workspace link (node_modules/@stocklab/x -> libs/x): the linked folder is the package
        keep.add(entry.resolved);
        workspaces.push(entry.resolved);
        queue.push(entry.resolved);
      }
    }
  }
  return { keep, workspaces, missing };
}

/** Left in a kept workspace folder: what its build produced, not its sources, tests or settings. */
const WORKSPACE_DEV_ONLY = /^(src|test|bench|dist-spec|coverage|tsconfig(\..+)?\.json|jest\.config\.js)$/;
/** Left at the root of /app: the root package.json, the dependencies and the workspaces. */
const ROOT_KEPT = new Set(['package.json', 'node_modules', 'libs', 'services']);

function remove(path: string, removed: string[], root: string): void {
  rmSync(path, { recursive: true, force: true });
  removed.push(path.slice(root.length + 1));
}

/** Keeps, in the node_modules folder of `prefix` (and nested ones), only the closure's paths. */
function pruneNodeModules(root: string, prefix: string, keep: Set<string>, removed: string[]): void {
  const dir = join(root, prefix, 'node_modules');
  if (!existsSync(dir)) {
    return;
  }
  const key = (name: string): string => (prefix === '' ? `node_modules/${name}` : `${prefix}/node_modules/${name}`);
  const visit = (name: string): void => {
    const path = join(dir, name);
    if (!keep.has(key(name))) {
      remove(path, removed, root);
    } else if (!lstatSync(path).isSymbolicLink()) {
      pruneNodeModules(root, key(name), keep, removed);
    }
  };
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry.startsWith('@') && lstatSync(path).isDirectory()) {
      readdirSync(path).forEach((child) => visit(`${entry}/${child}`));
      if (readdirSync(path).length === 0) {
        rmdirSync(path);
      }
    } else {
      visit(entry);
    }
  }
  if (readdirSync(dir).length === 0) {
    rmdirSync(dir);
  }
}

/** Every symbolic link under `dir` whose target does not exist. */
export function danglingLinks(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) {
      if (!existsSync(path)) {
        out.push(path);
      }
    } else if (entry.isDirectory()) {
      out.push(...danglingLinks(path));
    }
  }
  return out;
}

/** Prunes `root` (the build stage's /app) to `workspace`'s production closure; returns what went. */
export function pruneForImage(root: string, workspace: string): { closure: Closure; removed: string[] } {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lockfile;
  const closure = productionClosure(lock, workspace);
  if (closure.missing.length > 0) {
    throw new Error(`package-lock.json cannot resolve: ${closure.missing.join(', ')}`);
  }
  const removed: string[] = [];
  for (const entry of readdirSync(root).filter((e) => !ROOT_KEPT.has(e))) {
    remove(join(root, entry), removed, root);
  }
  const workspaceFolders = Object.keys(lock.packages).filter((k) => k !== '' && !k.includes('node_modules'));
  for (const folder of workspaceFolders.filter((f) => !closure.keep.has(f))) {
    remove(join(root, folder), removed, root);
  }
  for (const folder of closure.workspaces) {
    for (const entry of readdirSync(join(root, folder)).filter((e) => WORKSPACE_DEV_ONLY.test(e))) {
      remove(join(root, folder, entry), removed, root);
    }
    const dist = join(root, folder, 'dist');
    if (existsSync(dist) && statSync(dist).isDirectory()) {
      for (const entry of readdirSync(dist).filter((e) => e.endsWith('.tsbuildinfo'))) {
        remove(join(dist, entry), removed, root);
      }
    }
    pruneNodeModules(root, folder, closure.keep, removed);
  }
  pruneNodeModules(root, '', closure.keep, removed);
  const dangling = danglingLinks(root);
  if (dangling.length > 0) {
    throw new Error(`dangling links left: ${dangling.join(', ')}`);
  }
  return { closure, removed };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const workspace = process.argv[2];
  if (workspace === undefined || !/^services\/[a-z-]+$/.test(workspace)) {
    process.stderr.write('usage: node image-prune.ts services/<service>   (in the repository root)\n');
    process.exit(2);
  }
  const { closure, removed } = pruneForImage(process.cwd(), workspace);
  process.stdout.write(
    `${workspace}: kept ${closure.keep.size} packages and workspaces (${closure.workspaces.join(', ')}), removed ${removed.length} paths\n`,
  );
}
