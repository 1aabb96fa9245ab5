import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { danglingLinks, type Lockfile } from './image-prune.js';
import type { ServiceName } from './repo.js';
import type { Problems } from './rules.js';

/** Build and test tooling: never in any service image. */
const NEVER_SHIPPED = [
  /^typescript$/,
  /^@types\//,
  /^@stocklab\/(test-support|deploy-checks|e2e|local-platform)$/,
  /^s3rver$/,
  /^(jest|nx|eslint|prettier|supertest|@nestjs\/testing)$/,
];
/** Per image: packages its service does not use (auth stores nothing in S3). */
const NOT_IN: Record<ServiceName, RegExp[]> = {
  auth: [/^@aws-sdk\//],
  backtest: [],
  trading: [],
};

/**
 * The build stage's /app as `npm ci` and the nx build leave it, laid out from package-lock.json
 * (which is what `npm ci` follows): every package a stub with its lockfile manifest, workspace
 * links, `.bin` links, the hidden lockfile; every workspace with its real package.json, sources,
 * tests, settings and a dist; nx's state at the root. No registry needed.
 */
export function layOutBuildStage(root: string, dir: string): void {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lockfile;
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  for (const file of ['package.json', 'package-lock.json', 'nx.json', 'tsconfig.base.json']) {
    write(file, readFileSync(join(root, file), 'utf8'));
  }
  write('.nx/workspace-data/project-graph.json', '{}');
  write('node_modules/.package-lock.json', '{}');
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '') {
      continue;
    }
    if (entry.link === true && entry.resolved !== undefined) {
      mkdirSync(dirname(join(dir, key)), { recursive: true });
      symlinkSync(relative(dirname(join(dir, key)), join(dir, entry.resolved)), join(dir, key));
    } else if (!key.includes('node_modules')) {
      write(`${key}/package.json`, readFileSync(join(root, key, 'package.json'), 'utf8'));
      for (const file of ['src/index.ts', 'test/a.spec.ts', 'dist/index.js', 'dist/.tsbuildinfo', 'tsconfig.json']) {
        write(`${key}/${file}`, '');
      }
    } else {
      const { name, version, dependencies, optionalDependencies, peerDependencies, peerDependenciesMeta } = entry;
      const manifest = { name: name ?? key.slice(key.lastIndexOf('node_modules/') + 13), version };
      write(
        `${key}/package.json`,
        JSON.stringify({ ...manifest, dependencies, optionalDependencies, peerDependencies, peerDependenciesMeta }),
      );
      const bins = typeof entry.bin === 'string' ? { [manifest.name]: entry.bin } : (entry.bin ?? {});
      for (const [bin, file] of Object.entries(bins)) {
        write(`${key}/${file}`, '');
        const binDir = join(dir, key.slice(0, key.lastIndexOf('node_modules/') + 12), '.bin');
        mkdirSync(binDir, { recursive: true });
        if (!existsSync(join(binDir, bin))) {
          symlinkSync(relative(binDir, join(dir, key, file)), join(binDir, bin));
        }
      }
    }
  }
}

/** Node's lookup from `from` (a real path), bounded by the image root: the package folder, or undefined. */
function resolveOnDisk(imageRoot: string, from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (!dir.endsWith('/node_modules') && existsSync(join(dir, 'node_modules', name, 'package.json'))) {
      return join(dir, 'node_modules', name);
    }
    if (dir === imageRoot || !dir.startsWith(imageRoot)) {
      return undefined;
    }
  }
}

interface Manifest {
  name?: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** Every package folder under `dir`/node_modules, nested ones and workspace links included. */
function packageFolders(dir: string): string[] {
  const modules = join(dir, 'node_modules');
  if (!existsSync(modules)) {
    return [];
  }
  return readdirSync(modules)
    .filter((entry) => !entry.startsWith('.')) // .bin, npm's hidden lockfile: no packages
    .flatMap((entry) =>
      entry.startsWith('@') ? readdirSync(join(modules, entry)).map((c) => `${entry}/${c}`) : [entry],
    )
    .flatMap((name) => {
      const path = join(modules, name);
      return lstatSync(path).isSymbolicLink() ? [path] : [path, ...packageFolders(path)];
    });
}

/** The package names a workspace's built JavaScript imports (static and dynamic; builtins left out). */
export function importedPackages(distDir: string): Set<string> {
  const names = new Set<string>();
  if (!existsSync(distDir)) {
    return names;
  }
  for (const entry of readdirSync(distDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.js')) {
      continue;
    }
    const text = readFileSync(join(entry.parentPath, entry.name), 'utf8');
    const specifiers = [
      ...text.matchAll(/^\s*(?:import|export)\s+(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm),
      ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1] ?? '');
    for (const spec of specifiers) {
      if (spec.startsWith('.') || spec.startsWith('/') || isBuiltin(spec)) {
        continue;
      }
      names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec));
    }
  }
  return names;
}

/**
 * Packages the bundled entry points import only when used and that are not installed (NestJS's
 * optional peers: scripts/lib/bundle-externals.json): their loaders handle the failure, as
 * NestJS's own code in node_modules did before the bundles inlined it into dist/.
 */
function optionalNotInstalled(repo: string): Set<string> {
  const externals = JSON.parse(readFileSync(join(repo, 'scripts/lib/bundle-externals.json'), 'utf8')) as {
    optionalNotInstalled: Record<string, string>;
  };
  return new Set(Object.keys(externals.optionalNotInstalled));
}

/**
 * What one service's image holds after the prune stage (`dir`, its /app): no build or test tooling
 * and nothing its service does not use; no dangling link; only its own service folder; no sources,
 * tests or settings in the workspaces left; every dependency of every package left resolvable from
 * where it is, and every package the service's and its libraries' built code (in `repo`) imports.
 */
export function imageContentProblems(dir: string, service: ServiceName, repo: string): Problems {
  const problems: Problems = [];
  const root = realpathSync(dir);
  const forbidden = [...NEVER_SHIPPED, ...NOT_IN[service]];
  for (const link of danglingLinks(root)) {
    problems.push(`dangling link ${relative(root, link)}`);
  }
  const services = existsSync(join(root, 'services')) ? readdirSync(join(root, 'services')) : [];
  if (services.join() !== service) {
    problems.push(`services/ holds ${services.join(', ') || 'nothing'}, expected ${service} alone`);
  }
  const workspaces = ['libs', 'services'].flatMap((d) =>
    existsSync(join(root, d)) ? readdirSync(join(root, d)).map((w) => `${d}/${w}`) : [],
  );
  for (const ws of workspaces) {
    const leftovers = readdirSync(join(root, ws)).filter((e) =>
      /^(src|test|bench|dist-spec|tsconfig.*\.json)$/.test(e),
    );
    if (leftovers.length > 0) {
      problems.push(`${ws}: ships ${leftovers.join(', ')}`);
    }
  }
  const folders = [root, ...workspaces.map((ws) => join(root, ws))].flatMap((d) => packageFolders(d));
  // links are checked where they point (the workspace folders, below)
  const packages = [
    ...folders.filter((f) => !lstatSync(f).isSymbolicLink()),
    ...workspaces.map((ws) => join(root, ws)),
  ];
  for (const folder of packages) {
    const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as Manifest;
    const name = manifest.name ?? relative(root, folder);
    if (forbidden.some((re) => re.test(name))) {
      problems.push(`ships ${name} (${relative(root, folder)})`);
    }
    const required = [
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}).filter(
        (p) => manifest.peerDependenciesMeta?.[p]?.optional !== true,
      ),
    ].filter((d) => !d.startsWith('@types/'));
    for (const dep of required.filter((d) => resolveOnDisk(root, folder, d) === undefined)) {
      problems.push(`${name} needs ${dep}, which is not in the image`);
    }
  }
  for (const link of folders.filter((f) => lstatSync(f).isSymbolicLink())) {
    const name = relative(join(root, 'node_modules'), link);
    if (forbidden.some((re) => re.test(name))) {
      problems.push(`ships ${name} (a link)`);
    }
  }
  const optional = optionalNotInstalled(repo);
  for (const ws of workspaces) {
    for (const imported of importedPackages(join(repo, ws, 'dist'))) {
      if (!optional.has(imported) && resolveOnDisk(root, join(root, ws), imported) === undefined) {
        problems.push(`${ws}/dist imports ${imported}, which is not in the image`);
      }
    }
  }
  return problems;
}
