import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, SERVICES, SERVICE_NAMES } from './repo.js';
import type { Problems } from './rules.js';

interface Instruction {
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

const NODE_PINNED = /^node:24\.\d+\.\d+-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/;
const SECRETISH = /(\.env\b|\.pem\b|\.key\b|id_rsa|secret|credential|\.npmrc)/i;

/**
 * The service image, statically: Node 24 slim base pinned to an exact version, a multi-stage
 * build whose runtime stage installs no dev dependencies, runs as a non-root USER and starts
 * `node dist/main.js`, an entry point every service's build produces; nothing secret is copied
 * or baked into ENV/ARG; .dockerignore keeps node_modules, keys and .env files out of the context.
 */
export function checkDockerfile(root = repoRoot()): Problems {
  const problems: Problems = [];
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
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
  if (!ins.some((i) => i.op === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args))) {
    problems.push('Dockerfile: production dependencies are not installed with npm ci --omit=dev');
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
  const cmd = runtime.filter((i) => i.op === 'CMD').pop()?.args;
  const argv = cmd === undefined ? [] : (JSON.parse(cmd) as string[]);
  const script = argv[1];
  if (argv[0] !== 'node' || script === undefined) {
    problems.push(`Dockerfile: CMD must be ["node", "dist/main.js"], found ${String(cmd)}`);
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
  return problems;
}
