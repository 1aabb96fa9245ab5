/**
 * What a process of each service spends loading its code before it does anything, as tsc builds
 * it (dist/main.js: about 3,000 modules) and as the images run it (dist/bundle/main.js, one ES
 * module: scripts/lib/bundle-service.mjs), each without and with a compile cache filled the way
 * the Dockerfile fills it (libs/platform warm-compile-cache.ts): fresh processes of the entry point,
 * given a PORT that is not a port, so that each evaluates every module and stops at its
 * configuration (exit 78). Printed: the median time from the process's start to that exit, and
 * the CPU it used, alternating the four ways run by run:
 *
 *   node services/backtest/dist-spec/bench/module-loading.js [--runs 9]   (after the build)
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { SERVICE_PROCESS_ENV } from '@stocklab/platform';

const ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const WARM = join(ROOT, 'libs', 'platform', 'dist', 'bootstrap', 'warm-compile-cache.js');

const { values } = parseArgs({ options: { runs: { type: 'string' } } });
const RUNS = Number(values.runs ?? 9);

/** Preloaded into each process: when it exits, how long since its start and how much CPU it used. */
const REPORT_AT_EXIT = `process.on('exit', () => {
  const cpu = process.cpuUsage();
  process.stderr.write('LOADED ' + JSON.stringify({ atMs: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000 }) + '\\n');
});
`;

interface Sample {
  atMs: number;
  cpuMs: number;
}

const env = (cache?: string): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, ...SERVICE_PROCESS_ENV, PORT: 'not-a-port' };
  delete e.NODE_COMPILE_CACHE;
  return cache === undefined ? { ...e, NODE_DISABLE_COMPILE_CACHE: '1' } : { ...e, NODE_COMPILE_CACHE: cache };
};

async function loadOnce(service: string, preload: string, entry: string, cache?: string): Promise<Sample> {
  const run = promisify(execFile)(process.execPath, ['--import', pathToFileURL(preload).href, entry], {
    cwd: join(ROOT, 'services', service),
    env: env(cache),
  });
  const stderr = await run.then(
    (r) => r.stderr,
    (error: { code?: number; stderr?: string }) => {
      if (error.code !== 78) {
        throw new Error(`${service} ${entry} exited ${String(error.code)}: ${error.stderr ?? ''}`);
      }
      return error.stderr ?? '';
    },
  );
  const line = /^LOADED (.*)$/m.exec(stderr)?.[1];
  if (line === undefined) {
    throw new Error(`${service} ${entry} did not report: ${stderr}`);
  }
  return JSON.parse(line) as Sample;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const ms = (x: number): string => `${Math.round(x).toLocaleString('en')} ms`;

const WAYS = [
  ['tsc output', 'dist/main.js', false],
  ['tsc output, compile cache', 'dist/main.js', true],
  ['bundle', 'dist/bundle/main.js', false],
  ['bundle, compile cache (as the images run)', 'dist/bundle/main.js', true],
] as const;

const dir = mkdtempSync(join(tmpdir(), 'stocklab-modules-'));
try {
  const preload = join(dir, 'report-at-exit.mjs');
  writeFileSync(preload, REPORT_AT_EXIT);
  console.log(`median of ${RUNS} fresh processes each (the four ways alternately): to exit 78 / CPU used\n`);
  console.log(`| Service | ${WAYS.map(([name]) => name).join(' | ')} |`);
  console.log(`| --- |${WAYS.map(() => ' --- |').join('')}`);
  for (const service of ['auth', 'backtest', 'trading']) {
    const caches = WAYS.map(([, entry, cached], i) => {
      if (!cached) {
        return undefined;
      }
      const cache = join(dir, `${service}-${i}`);
      // the bundle: run until it refuses its configuration; tsc's output: what its entry imports
      const what = entry.startsWith('dist/bundle/')
        ? ['--entry', entry]
        : ['reflect-metadata', entry.replace('main.js', 'service-options.js')];
      execFileSync(process.execPath, [WARM, ...what, 'pg'], { cwd: join(ROOT, 'services', service), env: env(cache) });
      return cache;
    });
    const samples: Sample[][] = WAYS.map(() => []);
    for (let run = 0; run < RUNS; run += 1) {
      for (const [i, [, entry]] of WAYS.entries()) {
        samples[i]?.push(await loadOnce(service, preload, entry, caches[i]));
      }
    }
    const cells = samples.map((s) => `${ms(median(s.map((x) => x.atMs)))} / ${ms(median(s.map((x) => x.cpuMs)))}`);
    console.log(`| ${service} | ${cells.join(' | ')} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
