// The Jest runtime of every package (jest.config.base.js `runtime`): Jest's own, sparing each test
// file the re-reading and re-compiling of the dependencies it shares with the files before it.
//
// Jest gives every test file a module registry of its own, so each in-process file loads NestJS,
// TypeORM, the AWS SDK and the rest afresh from node_modules: about 2 to 3 CPU-seconds a file on
// these machines, over a hundred files. Jest compiles them through node:vm, which has no on-disk
// compile cache of its own (NODE_COMPILE_CACHE covers Node's loaders only), and reads every file
// again for each test file. Here, for files under node_modules only:
// - their sources are kept for the worker's life (they do not change during a run), and
// - V8's code cache of each (cachedData) is kept on disk, keyed by the source's SHA-1, and handed
//   to the compiler; V8 checks that it fits its version and flags and compiles from scratch when
//   it does not.
// The packages' own files, whose coverage is measured, are compiled as Jest always does: a code
// cache changes the block ranges V8's coverage reports, and with it the figures.
'use strict';

const { hash } = require('node:crypto');
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const vm = require('node:vm');
const Runtime = require('jest-runtime').default;

const CACHE_DIR = process.env.JEST_CODE_CACHE_DIR ?? join(__dirname, '../../.run/jest-code-cache');
const PATCHED = Symbol.for('stocklab.jest-runtime.code-cache');

const isDependency = (path) => typeof path === 'string' && path.includes('/node_modules/');

/** The code cache of `source`, if an earlier compilation in any worker left one. */
function cachedDataOf(key) {
  try {
    return readFileSync(join(CACHE_DIR, key));
  } catch {
    return undefined;
  }
}

/** Written under a temporary name and renamed: a concurrent reader sees all of it or nothing. */
function keep(key, data) {
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    const temporary = join(CACHE_DIR, `${key}.${process.pid}`);
    writeFileSync(temporary, data);
    renameSync(temporary, join(CACHE_DIR, key));
  } catch {
    // a cache that cannot be written only costs the next file a compilation
  }
}

function cacheCompilations() {
  if (vm[PATCHED] || typeof vm.SourceTextModule !== 'function') {
    return;
  }
  vm[PATCHED] = true;

  // ES modules: the cache is produced before evaluation (V8 allows no later), which covers what a
  // module compiles eagerly; its inner functions are still compiled lazily when first called.
  const SourceTextModule = vm.SourceTextModule;
  vm.SourceTextModule = class CachedSourceTextModule extends SourceTextModule {
    constructor(source, options = {}) {
      if (!isDependency(options.identifier)) {
        super(source, options);
        return;
      }
      const key = hash('sha1', source);
      const cachedData = cachedDataOf(key);
      super(source, cachedData ? { ...options, cachedData } : options);
      if (!cachedData || this.cachedDataRejected) {
        keep(key, this.createCachedData());
      }
    }
  };

  // CommonJS: Jest wraps each module in a function compiled by vm.compileFunction.
  const compileFunction = vm.compileFunction;
  vm.compileFunction = function compileCachedFunction(source, params = [], options = {}) {
    if (!isDependency(options.filename)) {
      return compileFunction(source, params, options);
    }
    const key = hash('sha1', `${params.join(',')}\n${source}`);
    const cachedData = cachedDataOf(key);
    const compiled = compileFunction(
      source,
      params,
      cachedData ? { ...options, cachedData } : { ...options, produceCachedData: true },
    );
    if (!cachedData || compiled.cachedDataRejected) {
      const produced =
        compiled.cachedData ?? compileFunction(source, params, { ...options, produceCachedData: true }).cachedData;
      if (produced) {
        keep(key, produced);
      }
    }
    return compiled;
  };
}

/** Dependency sources read by any test file of this worker. */
const dependencySources = new Map();

class CachingRuntime extends Runtime {
  constructor(config, environment, resolver, transformer, cacheFS, ...rest) {
    // The file cache Jest makes for one test file (its transformer reads through it too).
    const get = cacheFS.get.bind(cacheFS);
    const set = cacheFS.set.bind(cacheFS);
    cacheFS.get = (path) => {
      let source = get(path);
      if (source === undefined && isDependency(path)) {
        source = dependencySources.get(path);
        if (source !== undefined) {
          set(path, source);
        }
      }
      return source;
    };
    cacheFS.set = (path, source) => {
      if (isDependency(path)) {
        dependencySources.set(path, source);
      }
      return set(path, source);
    };
    super(config, environment, resolver, transformer, cacheFS, ...rest);
  }
}

if (process.env.JEST_CODE_CACHE !== 'off') {
  cacheCompilations();
}

module.exports = process.env.JEST_CODE_CACHE === 'off' ? Runtime : CachingRuntime;
