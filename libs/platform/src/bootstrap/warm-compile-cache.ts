/**
 * Fills V8's on-disk compile cache of an image at build time, so that every process the image
 * starts (a pod scaled out, a replacement after a kill, a CronJob's run) loads its code from the
 * code cache instead of compiling it:
 *
 *   NODE_COMPILE_CACHE=/app/.node-compile-cache node <this file> --entry dist/bundle/main.js pg
 *
 * (cwd: the service's folder). Each argument is what the service loads:
 * - `--entry <file>`: an entry point that starts the service (a bundle: scripts/lib/bundle-service.mjs),
 *   run in a child process whose configuration is refused (PORT is not a port), so that it
 *   evaluates every module it holds and stops at loadConfigOrExit with exit code 78 before it opens
 *   anything; Node writes the cache as the child exits. Any other outcome fails the step.
 * - a .js path: imported, which loads its whole static import graph; pass modules that only
 *   declare (the app module, the service options), never an entry point that starts the service.
 * - a package name resolved from the cwd: one the service requires only when it runs, such as the
 *   PostgreSQL driver TypeORM loads on connect.
 *
 * Node keys each entry by the file's absolute path and content and checks both on load, so a
 * cache built elsewhere or for other files is ignored, never wrong. Under a read-only root
 * filesystem Node reads the entries and skips writing new ones
 * (services/backtest/bench/module-loading.ts measures what the cache saves).
 */
import { spawnSync } from 'node:child_process';
import { createRequire, constants, enableCompileCache, flushCompileCache } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const specifiers = process.argv.slice(2);
if (specifiers.length === 0 || !process.env.NODE_COMPILE_CACHE) {
  console.error(
    'usage: NODE_COMPILE_CACHE=<folder> node warm-compile-cache.js [--entry <entry point>] [<module or package>]...',
  );
  process.exit(2);
}
const status = enableCompileCache();
if (
  status.status !== constants.compileCacheStatus.ENABLED &&
  status.status !== constants.compileCacheStatus.ALREADY_ENABLED
) {
  console.error(`the compile cache could not be enabled: ${status.message ?? `status ${status.status}`}`);
  process.exit(1);
}
/** Runs a service's entry point until its configuration is refused: every module evaluated, nothing opened. */
function warmEntry(file: string): void {
  const run = spawnSync(process.execPath, [resolve(file)], {
    env: { ...process.env, PORT: 'compile-cache-warm-up' },
    encoding: 'utf8',
    // an entry that waits on something before its configuration would hang the image build
    timeout: 120_000,
  });
  if (run.status !== 78 || !/^Invalid configuration: PORT /m.test(run.stderr)) {
    console.error(`${file} did not stop at its configuration (exit ${String(run.status)}): ${run.stderr.trim()}`);
    process.exit(1);
  }
}

const require = createRequire(join(process.cwd(), 'package.json'));
for (let i = 0; i < specifiers.length; i++) {
  const specifier = specifiers[i];
  if (specifier === '--entry') {
    const file = specifiers[++i];
    if (file === undefined) {
      console.error('--entry needs a file');
      process.exit(2);
    }
    warmEntry(file);
  } else if (specifier.endsWith('.js')) {
    await import(pathToFileURL(resolve(specifier)).href);
  } else {
    // a package the service requires at run time (CommonJS through require, as its loader does)
    require(specifier);
  }
}
flushCompileCache();
console.log(`compile cache of ${specifiers.filter((s) => s !== '--entry').join(', ')} written to ${status.directory}`);
// a module may have opened a handle while being evaluated (a timer, a pool): the work is done
process.exit(0);
