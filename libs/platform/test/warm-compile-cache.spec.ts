import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';

// the compiled script, as the image runs it from libs/platform/dist
const WARM = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'bootstrap', 'warm-compile-cache.js');

/**
 * A service folder in miniature: an ES module importing another (the static graph the script
 * follows) and a CommonJS package required only at run time (as TypeORM requires pg).
 */
function lay(dir: string): void {
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  write('package.json', JSON.stringify({ name: 'svc', type: 'module' }));
  write('dist/service-options.js', "import { port } from './config.js';\nexport const options = { port };\n");
  write('dist/config.js', 'export const port = 3002;\n');
  // an entry point as the services' are: it refuses a configuration (exit 78) before it starts
  // anything, unless IGNORES_CONFIG=1 makes it one that would start whatever it is given
  write(
    'dist/bundle/main.js',
    "import { port } from '../config.js';\n" +
      "if (process.env.PORT !== String(port) && process.env.IGNORES_CONFIG !== '1') {\n" +
      '  process.stderr.write(`Invalid configuration: PORT must be ${port}, got ${process.env.PORT}\\n`);\n' +
      '  process.exit(78);\n' +
      '}\n' +
      "process.stdout.write('started\\n');\n",
  );
  write('node_modules/driver/package.json', JSON.stringify({ name: 'driver', main: 'index.js' }));
  write('node_modules/driver/index.js', 'module.exports = { connect() { return 1; } };\n');
  write(
    'load.js',
    "import { createRequire } from 'node:module';\nawait import('./dist/service-options.js');\ncreateRequire(import.meta.url)('driver');\n",
  );
}

/** What Node's compile cache did for each file a fresh process loaded (NODE_DEBUG_NATIVE's lines). */
function cacheVerdicts(
  dir: string,
  cache: string,
  script = 'load.js',
  env: NodeJS.ProcessEnv = {},
): Map<string, string> {
  const run = spawnSync(process.execPath, [script], {
    cwd: dir,
    env: { ...process.env, ...env, NODE_COMPILE_CACHE: cache, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
    encoding: 'utf8',
  });
  assert.equal(run.status, script === 'load.js' ? 0 : 78, run.stderr);
  const verdicts = new Map<string, string>();
  for (const match of `${run.stdout}${run.stderr}`.matchAll(/V8 code cache for \w+ (\S+) was (accepted|rejected)/g)) {
    verdicts.set((match[1] ?? '').replace(/^file:\/\//, '').slice(dir.length + 1), match[2] ?? '');
  }
  return verdicts;
}

describe('warm-compile-cache: the image build compiles the modules once, every process reads them', () => {
  let dir: string;
  let cache: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'warm-cache-'));
    cache = join(dir, '.node-compile-cache');
    lay(dir);
    const out = execFileSync(process.execPath, [WARM, 'driver', 'dist/service-options.js'], {
      cwd: dir,
      env: { ...process.env, NODE_COMPILE_CACHE: cache },
      encoding: 'utf8',
    });
    assert.match(out, /compile cache of driver, dist\/service-options\.js written to /);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("serves a fresh process's ES modules (the static graph) and run-time CommonJS package from the cache", () => {
    const verdicts = cacheVerdicts(dir, cache);
    assert.equal(verdicts.get('dist/service-options.js'), 'accepted');
    assert.equal(verdicts.get('dist/config.js'), 'accepted', 'imported by the module named, not named itself');
    assert.equal(verdicts.get('node_modules/driver/index.js'), 'accepted');
  });

  it('never serves a changed file its old code: the entry is keyed by content and compiled anew', () => {
    writeFileSync(join(dir, 'dist/config.js'), 'export const port = 3003;\n');
    const verdicts = cacheVerdicts(dir, join(dir, '.node-compile-cache'));
    assert.notEqual(verdicts.get('dist/config.js'), 'accepted');
    assert.equal(verdicts.get('dist/service-options.js'), 'accepted');
  });

  it('runs an entry point until it refuses its configuration, and a fresh process of it reads its code from the cache', () => {
    const entryCache = join(dir, '.entry-cache');
    const out = execFileSync(process.execPath, [WARM, '--entry', 'dist/bundle/main.js'], {
      cwd: dir,
      env: { ...process.env, NODE_COMPILE_CACHE: entryCache },
      encoding: 'utf8',
    });
    assert.match(out, /compile cache of dist\/bundle\/main\.js written to /);
    const verdicts = cacheVerdicts(dir, entryCache, 'dist/bundle/main.js', { PORT: 'not-a-port' });
    assert.equal(verdicts.get('dist/bundle/main.js'), 'accepted');
  });

  it('fails the step when an entry point does not stop at its configuration (it would have started)', () => {
    const run = spawnSync(process.execPath, [WARM, '--entry', 'dist/bundle/main.js'], {
      cwd: dir,
      env: { ...process.env, NODE_COMPILE_CACHE: join(dir, '.started-cache'), IGNORES_CONFIG: '1' },
      encoding: 'utf8',
    });
    assert.equal(run.status, 1, run.stdout);
    assert.match(run.stderr, /dist\/bundle\/main\.js did not stop at its configuration \(exit 0\)/);
  });

  it('refuses to run without a cache folder or without modules (an image step that would do nothing)', () => {
    const env = { ...process.env };
    delete env.NODE_COMPILE_CACHE;
    const noFolder = spawnSync(process.execPath, [WARM, 'dist/service-options.js'], {
      cwd: dir,
      env,
      encoding: 'utf8',
    });
    assert.equal(noFolder.status, 2);
    assert.match(noFolder.stderr, /usage: NODE_COMPILE_CACHE=<folder>/);
    const noModules = spawnSync(process.execPath, [WARM], {
      cwd: dir,
      env: { ...env, NODE_COMPILE_CACHE: cache },
      encoding: 'utf8',
    });
    assert.equal(noModules.status, 2);
  });
});
