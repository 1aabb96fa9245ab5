import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { repoRoot, SERVICES, SERVICE_NAMES } from '../src/repo.js';

const root = repoRoot();
/** scripts/lib/bundle-externals.json: the packages the bundles leave to node_modules, and why */
const EXTERNAL = new Set(
  Object.keys(
    (JSON.parse(readFileSync(join(root, 'scripts/lib/bundle-externals.json'), 'utf8')) as { packages: object })
      .packages,
  ),
);

/**
 * Node's module hooks in the started process: every package a bundle file itself asks Node for
 * (an import of an external, or a require() esbuild could not see) and Node then loads, printed at
 * exit. Packages those load in turn (pg's pg-protocol) are theirs, not the bundle's.
 */
const HOOK = `
import { registerHooks } from 'node:module';
const fromBundle = new Map();
const loaded = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    const name = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url)?.[1];
    if (name && /\\/dist\\/bundle\\/[^/]+\\.js$/.test(context.parentURL ?? '')) {
      fromBundle.set(result.url, name);
    }
    return result;
  },
  load(url, context, next) {
    loaded.add(url);
    return next(url, context);
  },
});
process.on('exit', () => {
  const names = [...fromBundle].filter(([url]) => loaded.has(url)).map(([, name]) => name);
  process.stderr.write('BUNDLE-LOADED ' + JSON.stringify([...new Set(names)].sort()) + '\\n');
});
`;

describe('the bundled entry points (scripts/lib/bundle-service.mjs)', () => {
  let dir: string;
  let hook: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bundle-hooks-'));
    hook = join(dir, 'hooks.mjs');
    writeFileSync(hook, HOOK);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // the processes' entry points, and the backtest worker's thread entry (no configuration: it waits
  // for messages on its parent port, and exits at once without one)
  const entries = [
    ...SERVICE_NAMES.flatMap((service) => SERVICES[service].entryPoints.map((entry) => [service, entry, 78] as const)),
    ['backtest', 'dist/bundle/backtest-thread.js', 0] as const,
  ];

  it.each(entries)(
    '%s %s evaluates every module it holds and loads from node_modules only the packages left out on purpose',
    (service, entry, status) => {
      const run = spawnSync(process.execPath, ['--import', pathToFileURL(hook).href, entry], {
        cwd: join(root, 'services', service),
        // refused before the service opens anything: every module is evaluated by then
        env: { PATH: process.env.PATH ?? '', PORT: 'not-a-port' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(run.status, status, run.stderr);
      if (status === 78) {
        assert.match(run.stderr, /^Invalid configuration: PORT /m);
      }
      const line = /^BUNDLE-LOADED (.*)$/m.exec(run.stderr)?.[1];
      assert.ok(line !== undefined, run.stderr);
      const loaded = JSON.parse(line) as string[];
      // a package loaded from node_modules that is also bundled is a second copy of it (two
      // TypeORMs, two NestJS cores), which the bundle must not have
      assert.deepEqual(
        loaded.filter((name) => !EXTERNAL.has(name)),
        [],
        `${service} ${entry} loads these from node_modules as well as holding them`,
      );
      if (status === 78) {
        assert.ok(loaded.includes('pg'), 'the PostgreSQL driver is the one TypeORM loads, from node_modules');
      }
    },
  );
});
