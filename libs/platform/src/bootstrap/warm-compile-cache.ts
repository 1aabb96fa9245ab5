/**
 * Fills V8's on-disk compile cache of an image at build time, so that every process the image
 * starts (a pod scaled out, a replacement after a kill, a CronJob's run) loads NestJS, TypeORM,
 * the AWS SDK and the service's own modules from code cache instead of compiling them:
 *
 *   NODE_COMPILE_CACHE=/app/.node-compile-cache node <this file> dist/service-options.js pg
 *
 * (cwd: the service's folder). Each argument is a module the service loads: a .js path (imported,
 * which loads its whole static import graph) or a package name resolved from the cwd (one the
 * service requires only when it runs, such as the PostgreSQL driver TypeORM loads on connect).
 * The modules are evaluated, not started: pass modules that only declare (the app module, the
 * service options), never an entry point that starts the service.
 *
 * Node keys each entry by the file's absolute path and content and checks both on load, so a
 * cache built elsewhere or for other files is ignored, never wrong. Under a read-only root
 * filesystem Node reads the entries and skips writing new ones
 * (services/backtest/bench/module-loading.ts measures what the cache saves).
 */
import { createRequire, constants, enableCompileCache, flushCompileCache } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const specifiers = process.argv.slice(2);
if (specifiers.length === 0 || !process.env.NODE_COMPILE_CACHE) {
  console.error('usage: NODE_COMPILE_CACHE=<folder> node warm-compile-cache.js <module or package>...');
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
const require = createRequire(join(process.cwd(), 'package.json'));
for (const specifier of specifiers) {
  if (specifier.endsWith('.js')) {
    await import(pathToFileURL(resolve(specifier)).href);
  } else {
    // a package the service requires at run time (CommonJS through require, as its loader does)
    require(specifier);
  }
}
flushCompileCache();
console.log(`compile cache of ${specifiers.join(', ')} written to ${status.directory}`);
// a module may have opened a handle while being evaluated (a timer, a pool): the work is done
process.exit(0);
