import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { repoRoot, SERVICES, SERVICE_NAMES } from './repo.js';
import type { Problems } from './rules.js';

export interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions (line continuations joined, comments dropped). */
export function parseDockerfile(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const space = l.search(/\s/);
      return { op: l.slice(0, space).toUpperCase(), args: l.slice(space + 1).trim() };
    });
}

/** The script that prunes the build stage to one service's production closure (src/image-prune.ts). */
export const IMAGE_PRUNE_SCRIPT = 'libs/deploy-checks/src/image-prune.ts';

/** A RUN line's words, double and single quotes removed (enough for the lines checked here). */
function words(args: string): string[] {
  return [...args.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

/**
 * The step that decides what the image ships: in the stage the runtime stage copies /app from,
 * `node libs/deploy-checks/src/image-prune.ts services/${SERVICE}`, with no install after it.
 * Returns its argv (${SERVICE} unexpanded), for the tests to run it as the build does.
 */
export function pruneStep(ins: Instruction[]): { argv: string[] } | { problem: string } {
  const froms = ins.map((i, n) => ({ i, n })).filter((x) => x.i.op === 'FROM');
  const runtimeStart = froms[froms.length - 1]?.n ?? 0;
  const copy = ins
    .slice(runtimeStart)
    .find((i) => i.op === 'COPY' && /--from=\S+/.test(i.args) && /\s\/app\s+\/app$/.test(i.args));
  const source = /--from=(\S+)/.exec(copy?.args ?? '')?.[1];
  const start = froms.find((f) => new RegExp(`\\s+AS\\s+${source ?? '-'}$`, 'i').test(f.i.args));
  if (source === undefined || start === undefined) {
    return { problem: 'the runtime stage does not copy /app from a prune stage' };
  }
  const end = froms.find((f) => f.n > start.n)?.n ?? ins.length;
  const runs = ins.slice(start.n + 1, end).filter((i) => i.op === 'RUN');
  const index = runs.findIndex((r) => {
    const argv = words(r.args);
    return (
      argv.length === 3 && argv[0] === 'node' && argv[1] === IMAGE_PRUNE_SCRIPT && argv[2] === 'services/${SERVICE}'
    );
  });
  if (index < 0) {
    return { problem: `the ${source} stage does not run node ${IMAGE_PRUNE_SCRIPT} "services/\${SERVICE}"` };
  }
  if (runs.slice(index + 1).some((r) => /\bnpm\s+(ci|install|i)\b/.test(r.args))) {
    return { problem: `the ${source} stage installs dependencies after pruning` };
  }
  return { argv: words(runs[index]?.args ?? '') };
}

const NODE_PINNED = /^node:24\.\d+\.\d+-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/;
const SECRETISH = /(\.env\b|\.pem\b|\.key\b|id_rsa|secret|credential|\.npmrc)/i;

/**
 * The service image, statically: Node 24 slim base pinned to an exact version, a multi-stage
 * build whose runtime stage copies /app from a stage pruned by image-prune.ts to the service's
 * production closure (test/image-contents runs that step), runs as a non-root USER and starts
 * `node dist/bundle/main.js`, an entry point every service's build produces, with the services' glibc
 * tunables in its ENV; nothing secret is copied
 * or baked into ENV/ARG; .dockerignore keeps node_modules, keys and .env files out of the context.
 */
export function checkDockerfile(root = repoRoot(), text = readFileSync(join(root, 'Dockerfile'), 'utf8')): Problems {
  const problems: Problems = [];
  const ins = parseDockerfile(text);
  const args = new Map<string, string>();
  for (const i of ins.filter((x) => x.op === 'ARG')) {
    const [name, value] = i.args.split('=', 2);
    if (name !== undefined && value !== undefined) {
      args.set(name, value);
    }
  }
  const froms = ins.filter((i) => i.op === 'FROM');
  if (froms.length < 2) {
    problems.push('Dockerfile: not a multi-stage build');
  }
  const stages = new Set<string>();
  for (const from of froms) {
    const [imageRef, as, stage] = from.args.split(/\s+/);
    const image = (imageRef ?? '').replace(/^\$\{?(\w+)\}?$/, (_m, name: string) => args.get(name) ?? '');
    if (!stages.has(imageRef ?? '') && !NODE_PINNED.test(image)) {
      problems.push(`Dockerfile: base image ${imageRef} (${image}) is not node:24.x.y-<debian>-slim pinned`);
    }
    if (as?.toUpperCase() === 'AS' && stage !== undefined) {
      stages.add(stage);
    }
  }
  const last = froms[froms.length - 1];
  const lastFrom = last === undefined ? 0 : ins.lastIndexOf(last);
  const runtime = ins.slice(lastFrom);
  const user = runtime.filter((i) => i.op === 'USER').pop()?.args;
  if (user === undefined || user === 'root' || user === '0' || user.startsWith('0:')) {
    problems.push(`Dockerfile: the runtime stage must switch to a non-root USER (found ${String(user)})`);
  }
  if (runtime.some((i) => i.op === 'RUN' && /npm (ci|install)(?![^&]*--omit=dev)/.test(i.args))) {
    problems.push('Dockerfile: the runtime stage installs dependencies other than production ones');
  }
  const prune = pruneStep(ins);
  if ('problem' in prune) {
    problems.push(`Dockerfile: ${prune.problem}`);
  }
  for (const i of ins.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
    if (SECRETISH.test(i.args)) {
      problems.push(`Dockerfile: ${i.op} ${i.args} may copy a secret`);
    }
  }
  for (const i of ins.filter((x) => x.op === 'ENV' || x.op === 'ARG')) {
    if (/(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|DATABASE_URL|REDIS_URL)/i.test(i.args)) {
      problems.push(`Dockerfile: ${i.op} ${i.args} bakes a secret into the image`);
    }
  }
  // the services' process environment (libs/platform SERVICE_PROCESS_ENV): huge pages for the market's columns
  const runtimeEnv = runtime.filter((i) => i.op === 'ENV').map((i) => i.args);
  if (!runtimeEnv.some((e) => /^GLIBC_TUNABLES=\S*\bglibc\.malloc\.hugetlb=1\b/.test(e))) {
    problems.push('Dockerfile: the runtime stage must set ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1');
  }
  // V8's code cache, compiled at build time by the user the processes run as (Node keeps a folder
  // per user id: a cache written by root is never read by uid 1000)
  if (!runtimeEnv.some((e) => /^NODE_COMPILE_CACHE=\/\S+/.test(e))) {
    problems.push('Dockerfile: the runtime stage must set ENV NODE_COMPILE_CACHE to a folder in the image');
  }
  const lastUser = runtime.findLastIndex((i) => i.op === 'USER');
  const warm = runtime.findIndex(
    (i) => i.op === 'RUN' && /warm-compile-cache\.js .*--entry dist\/bundle\/main\.js/.test(i.args),
  );
  if (warm === -1) {
    problems.push(
      'Dockerfile: the runtime stage must fill the compile cache (warm-compile-cache.js --entry dist/bundle/main.js)',
    );
  } else if (warm < lastUser) {
    problems.push('Dockerfile: the compile cache must be filled after the last USER, as the user the processes run as');
  }
  const cmd = runtime.filter((i) => i.op === 'CMD').pop()?.args;
  const argv = cmd === undefined ? [] : (JSON.parse(cmd) as string[]);
  const script = argv[1];
  if (argv[0] !== 'node' || script === undefined) {
    problems.push(`Dockerfile: CMD must be ["node", "dist/bundle/main.js"], found ${String(cmd)}`);
  } else {
    for (const service of SERVICE_NAMES) {
      if (!existsSync(join(root, 'services', service, script))) {
        problems.push(`Dockerfile: CMD runs ${script}, which services/${service} does not build`);
      }
      for (const entry of SERVICES[service].entryPoints) {
        if (!existsSync(join(root, 'services', service, entry))) {
          problems.push(`services/${service}: the image's entry point ${entry} is not built`);
        }
      }
    }
  }
  const ignore = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  for (const required of ['**/node_modules', '**/dist', '.env', '**/*.pem', '.git']) {
    if (!ignore.includes(required)) {
      problems.push(`.dockerignore: must exclude ${required}`);
    }
  }
  const buildStage = ins.slice(0, ins.indexOf(froms[1] ?? ins[ins.length - 1] ?? { op: '', args: '' }));
  const copied = buildStage
    .filter((i) => i.op === 'COPY')
    .flatMap((i) =>
      words(i.args)
        .filter((w) => !w.startsWith('--'))
        .slice(0, -1),
    );
  for (const file of buildTimeFiles(root)) {
    if (!copied.some((source) => file === source || file.startsWith(source.endsWith('/') ? source : `${source}/`))) {
      problems.push(`Dockerfile: the build stage does not copy ${file}, which a service's build runs`);
    }
    if (dockerIgnored(ignore, file)) {
      problems.push(`.dockerignore: keeps ${file} out of the build context, and a service's build runs it`);
    }
  }
  return problems;
}

/**
 * The repository's files outside the services' folders that their builds run: what each build
 * script names (`node ../../scripts/lib/bundle-service.mjs`) and what those import by a relative
 * path (its bundle-externals.json), repository-relative.
 */
export function buildTimeFiles(root: string): string[] {
  const files = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file) || !existsSync(join(root, file))) {
      return;
    }
    files.add(file);
    if (/\.m?js$/.test(file)) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const [, spec] of text.matchAll(/^import\s+(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm)) {
        visit(posix.normalize(posix.join(posix.dirname(file), spec ?? '')));
      }
    }
  };
  for (const service of SERVICE_NAMES) {
    const manifest = JSON.parse(readFileSync(join(root, 'services', service, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    for (const [, path] of (manifest.scripts?.build ?? '').matchAll(/\.\.\/\.\.\/([\w./-]+)/g)) {
      visit(path ?? '');
    }
  }
  return [...files].sort();
}

/** Whether .dockerignore's patterns (the last one that matches wins; `!` lets a path back in) exclude `file`. */
export function dockerIgnored(patterns: string[], file: string): boolean {
  let ignored = false;
  for (const line of patterns) {
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const negated = line.startsWith('!');
    const pattern = negated ? line.slice(1) : line;
    const regex = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\0')
        .replace(/\*/g, '[^/]*')
        .replace(/\0/g, '(?:.*/)?')}(?:/.*)?$`,
    );
    if (regex.test(file)) {
      ignored = !negated;
    }
  }
  return ignored;
}
