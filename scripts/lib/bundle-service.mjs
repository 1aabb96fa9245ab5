// Bundles a service's built entry points (tsc's output in dist/) into dist/bundle/, one ES module
// per entry point, so that a process loads about 400 files (most of them Node's own) instead of
// 2,800-3,600 (NestJS, TypeORM, the Kubernetes client, class-validator, the workspace libraries),
// and the Kubernetes client's unused API classes are left out. Run by each service's build:
//
//   node ../../scripts/lib/bundle-service.mjs dist/main.js dist/migrate.js [...]
//
// Not split into shared chunks: esbuild then turns a dynamic import() of a CommonJS package into a
// chunk with a default export only (NestJS's ValidationPipe found no plainToInstance). Every entry
// sits in dist/bundle/ itself: code that finds a file next to its own module
// (new URL('./backtest-thread.js', import.meta.url)) finds the bundled entry of that name.
// Packages that find files beside their own sources at run time (__dirname: ioredis, BullMQ's
// sandboxes, pino's transports, swagger-ui's assets), load native addons, or are loaded by name at
// run time by another package (pg, through TypeORM's driver loader: bundled, our code would use a
// second copy) stay outside, imported from node_modules (bundle-externals.json says why for each);
// the build fails if one of them would not resolve from dist/bundle/ to the very copy its importer
// resolves to. libs/deploy-checks' bundles test starts every bundle and checks that nothing else
// is loaded from node_modules.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import externals from './bundle-externals.json' with { type: 'json' };

/**
 * package -> why it is left outside the bundles: `packages` are loaded from node_modules at run
 * time, `optionalNotInstalled` are imported only when used and are not installed (their loaders
 * handle the failure, as without a bundle)
 */
const EXTERNAL_PACKAGES = new Map(Object.entries({ ...externals.packages, ...externals.optionalNotInstalled }));

function packageOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The package's folder as Node resolves it from `from` (a directory), or undefined when it does not. */
function packageDirFrom(name, from) {
  try {
    const manifest = createRequire(join(from, 'noop.js')).resolve(`${name}/package.json`);
    return realpathSync(dirname(manifest));
  } catch {
    return undefined;
  }
}

function externalsPlugin(outdir) {
  return {
    name: 'stocklab-externals',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.path.startsWith('node:')) {
          return { path: args.path, external: true };
        }
        const name = packageOf(args.path);
        if (!EXTERNAL_PACKAGES.has(name)) {
          if (args.kind !== 'require-call' || args.pluginData?.probe) {
            return undefined;
          }
          // a require() of a path that does not exist, a package's fallback for another version
          // of its dependency (@nestjs/mapped-types' class-transformer/storage): left to fail at
          // run time, where the package expects it may
          const probe = await pluginBuild.resolve(args.path, {
            kind: args.kind,
            importer: args.importer,
            resolveDir: args.resolveDir,
            pluginData: { probe: true },
          });
          return probe.errors.length > 0 ? { path: args.path, external: true } : undefined;
        }
        const fromImporter = packageDirFrom(name, args.resolveDir);
        const fromBundle = packageDirFrom(name, outdir);
        if (fromImporter !== undefined && fromImporter !== fromBundle) {
          return {
            errors: [
              {
                text: `${name} is imported from ${args.importer} as ${fromImporter}, but ${outdir} would load ${fromBundle ?? 'nothing'}`,
              },
            ],
          };
        }
        return { path: args.path, external: true };
      });
    },
  };
}

/**
 * ES modules of packages that load a dependency with `const require = createRequire(import.meta.url)`
 * (@nestjs/typeorm loads typeorm so, @nestjs/terminus @nestjs/swagger, @nestjs/mapped-types
 * class-validator): esbuild cannot see through it, so at run time they would load a second copy
 * from node_modules beside the bundled one (two TypeORMs, two NestJS cores: classes that are not
 * the same class). Without the declaration, their require() calls are the bundle's own and name
 * the bundled copies.
 */
const CREATE_REQUIRE = /^const require = createRequire\(import\.meta\.url\);$/m;

function bundleRequiresPlugin() {
  return {
    name: 'stocklab-bundle-requires',
    setup(pluginBuild) {
      pluginBuild.onLoad({ filter: /[\\/]node_modules[\\/].*\.js$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!CREATE_REQUIRE.test(source)) {
          return undefined;
        }
        return { contents: source.replace(CREATE_REQUIRE, ''), loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  };
}

async function main(args) {
  // --outdir: another folder than dist/bundle/ (the cold-start bench bundles its own process so);
  // it must sit where the external packages resolve, inside the workspace
  const at = args.indexOf('--outdir');
  const outdir = resolve(at >= 0 ? args[at + 1] : 'dist/bundle');
  const entries = at >= 0 ? args.filter((_, i) => i !== at && i !== at + 1) : args;
  if (entries.length === 0 || (at >= 0 && args[at + 1] === undefined)) {
    throw new Error('usage: bundle-service.mjs [--outdir <folder>] dist/<entry>.js [...]');
  }
  // an entry point no longer built must not stay beside the new ones
  rmSync(outdir, { recursive: true, force: true });
  const entryPoints = Object.fromEntries(entries.map((file) => [basename(file, '.js'), resolve(file)]));
  const result = await build({
    entryPoints,
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // TypeORM names tables after entity classes and NestJS reports providers by class name
    keepNames: true,
    banner: {
      js: [
        // first in every file, before any module's decorators run (were the bundles split, the
        // chunks' decorators would run before the entry's own imports: ESM hoists them)
        "import 'reflect-metadata';",
        // CommonJS packages inside the bundle still require() Node's modules
        "import { createRequire as __stocklabCreateRequire } from 'node:module';",
        'const require = __stocklabCreateRequire(import.meta.url);',
      ].join(' '),
    },
    plugins: [externalsPlugin(outdir), bundleRequiresPlugin()],
    logLevel: 'warning',
    metafile: true,
  });
  const outputs = Object.entries(result.metafile.outputs);
  const bytes = outputs.reduce((sum, [, output]) => sum + output.bytes, 0);
  process.stdout.write(
    `bundled ${entries.join(', ')} into ${outdir} (${outputs.length} files, ${(bytes / 1048576).toFixed(1)} MiB)\n`,
  );
}

await main(process.argv.slice(2));
