/**
 * What the images' compile cache saves each process at start: fresh processes of each service
 * load the modules its entry point loads before it does anything (reflect-metadata, the service's
 * options with its whole static import graph: NestJS, TypeORM, the AWS SDK, the service's own
 * code; then pg, which TypeORM requires on connect), without and with a cache filled the way the
 * Dockerfile fills it (libs/platform warm-compile-cache.ts), alternately, and print the medians:
 *
 *   node services/backtest/dist-spec/bench/module-loading.js [--runs 9]   (after the build)
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { SERVICE_PROCESS_ENV } from '@stocklab/platform';

const ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const WARM = join(ROOT, 'libs', 'platform', 'dist', 'bootstrap', 'warm-compile-cache.js');
const MODULES = ['reflect-metadata', 'dist/service-options.js', 'pg'];

const { values } = parseArgs({ options: { runs: { type: 'string' } } });
const RUNS = Number(values.runs ?? 9);

/** A fresh process that loads what the service's entry point loads, then prints when it was done. */
const LOADER = `import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const require = createRequire(process.cwd() + '/package.json');
for (const m of ${JSON.stringify(MODULES)}) {
  if (m.endsWith('.js')) await import(pathToFileURL(process.cwd() + '/' + m).href);
  else require(m);
}
console.log(JSON.stringify({ loadedAtMs: performance.now() }));
`;

const env = (cache?: string): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, ...SERVICE_PROCESS_ENV };
  delete e.NODE_COMPILE_CACHE;
  return cache === undefined ? { ...e, NODE_DISABLE_COMPILE_CACHE: '1' } : { ...e, NODE_COMPILE_CACHE: cache };
};

async function loadOnce(service: string, loader: string, cache?: string): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, [loader], {
    cwd: join(ROOT, 'services', service),
    env: env(cache),
  });
  return (JSON.parse(stdout.trim()) as { loadedAtMs: number }).loadedAtMs;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const dir = mkdtempSync(join(tmpdir(), 'stocklab-modules-'));
try {
  const loader = join(dir, 'load.mjs');
  writeFileSync(loader, LOADER);
  console.log(`median of ${RUNS} fresh processes each (without and with the cache, alternately):\n`);
  console.log("| Service | Modules loaded, no cache | With the image's compile cache | Saved |");
  console.log('| --- | --- | --- | --- |');
  for (const service of ['auth', 'backtest', 'trading']) {
    const cache = join(dir, `${service}-cache`);
    execFileSync(process.execPath, [WARM, ...MODULES], { cwd: join(ROOT, 'services', service), env: env(cache) });
    const without: number[] = [];
    const withCache: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      without.push(await loadOnce(service, loader));
      withCache.push(await loadOnce(service, loader, cache));
    }
    const a = median(without);
    const b = median(withCache);
    console.log(
      `| ${service} | ${Math.round(a).toLocaleString('en')} ms | ${Math.round(b).toLocaleString('en')} ms | ` +
        `${Math.round(a - b).toLocaleString('en')} ms (${Math.round((1 - b / a) * 100)} %) |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
