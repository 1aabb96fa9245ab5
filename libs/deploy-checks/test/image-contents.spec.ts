import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from '@jest/globals';
import {
  IMAGE_PRUNE_SCRIPT,
  imageContentProblems,
  importedPackages,
  layOutBuildStage,
  parseDockerfile,
  productionClosure,
  pruneForImage,
  pruneStep,
  repoRoot,
  SERVICE_NAMES,
  type Lockfile,
} from '../src/index.js';

const root = repoRoot();
const scratch: string[] = [];
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** The build stage's /app, as `npm ci` and the nx build leave it (package-lock.json, no registry). */
function buildStage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'image-'));
  scratch.push(dir);
  layOutBuildStage(root, dir);
  // COPY libs/ brings the prune script along
  cpSync(join(root, IMAGE_PRUNE_SCRIPT), join(dir, IMAGE_PRUNE_SCRIPT));
  return dir;
}

const EXPECTED_WORKSPACES = {
  auth: ['libs/platform', 'services/auth'],
  backtest: [
    'libs/kiwoom',
    'libs/market-data',
    'libs/market-providers',
    'libs/platform',
    'libs/strategy-engine',
    'services/backtest',
  ],
  trading: [
    'libs/kiwoom',
    'libs/leader-election',
    'libs/market-data',
    'libs/platform',
    'libs/strategy-engine',
    'services/trading',
  ],
};

describe('the images hold production dependencies only (the Dockerfile prune stage, run here)', () => {
  const step = pruneStep(parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8')));

  it('prunes in the stage the runtime image copies /app from, with nothing installed after', () => {
    assert.ok('argv' in step, 'problem' in step ? step.problem : '');
  });

  for (const service of SERVICE_NAMES) {
    it(`${service}: no build or test tooling, no dangling link, every import and dependency resolvable`, () => {
      assert.ok('argv' in step, 'the Dockerfile has no prune step to reproduce');
      const dir = buildStage();
      const [node, ...args] = step.argv.map((a) => a.replace('${SERVICE}', service));
      assert.equal(node, 'node');
      // as the build runs it: Node (type stripping) on the TypeScript source, in /app
      execFileSync(process.execPath, args, { cwd: dir, stdio: 'pipe' });
      assert.deepEqual(imageContentProblems(dir, service, root), []);
      const left = ['libs', 'services'].flatMap((d) => readdirSync(join(dir, d)).map((w) => `${d}/${w}`));
      assert.deepEqual(left.sort(), EXPECTED_WORKSPACES[service]);
      assert.deepEqual([...readdirSync(dir)].sort(), ['libs', 'node_modules', 'package.json', 'services']);
    });
  }

  it('shows what it guards against: the unpruned build stage fails every rule', () => {
    const problems = imageContentProblems(buildStage(), 'auth', root);
    for (const expected of [
      'ships typescript (node_modules/typescript)',
      'ships @types/node (node_modules/@types/node)',
      'ships s3rver (node_modules/s3rver)',
      'ships @aws-sdk/client-s3 (node_modules/@aws-sdk/client-s3)',
      'ships @stocklab/test-support (a link)',
      'services/ holds auth, backtest, trading, expected auth alone',
      'services/auth: ships src, test, tsconfig.json',
    ]) {
      assert.ok(problems.includes(expected), `${expected} in ${JSON.stringify(problems.slice(0, 20))}`);
    }
  });
});

describe('productionClosure', () => {
  const lock: Lockfile = {
    packages: {
      '': { name: 'root' },
      'services/a': { name: '@x/a', dependencies: { lib: '1', '@types/node': '1' }, optionalDependencies: {} },
      'libs/lib': { name: '@x/lib', dependencies: { swagger: '1', native: '1' } },
      'node_modules/lib': { link: true, resolved: 'libs/lib' },
      'node_modules/swagger': {
        peerDependencies: { core: '1', typescript: '1' },
        peerDependenciesMeta: { typescript: { optional: true } },
      },
      'node_modules/core': {},
      'node_modules/typescript': {},
      'node_modules/@types/node': {},
      'node_modules/native': { optionalDependencies: { 'native-linux': '1', 'native-darwin': '1' } },
      'node_modules/native-linux': { optional: true },
    },
  };

  it('follows dependencies, workspace links, required peers and optional ones present; not @types or optional peers', () => {
    const closure = productionClosure(lock, 'services/a');
    assert.deepEqual([...closure.keep].sort(), [
      'libs/lib',
      'node_modules/core',
      'node_modules/lib',
      'node_modules/native',
      'node_modules/native-linux',
      'node_modules/swagger',
      'services/a',
    ]);
    assert.deepEqual(closure.workspaces, ['services/a', 'libs/lib']);
    assert.deepEqual(closure.missing, []);
  });

  it('reports a required dependency the lockfile cannot resolve, and refuses to prune then', () => {
    const broken: Lockfile = { packages: { ...lock.packages, 'node_modules/core': undefined as never } };
    delete broken.packages['node_modules/core'];
    assert.deepEqual(productionClosure(broken, 'node_modules/swagger').missing, ['node_modules/swagger -> core']);
    assert.throws(() => productionClosure(lock, 'services/none'), /services\/none is not a workspace/);
  });

  it('reads the imports of the built code (the check above is not vacuous)', () => {
    const auth = importedPackages(join(root, 'services/auth/dist'));
    for (const name of ['@stocklab/platform', '@node-rs/argon2', '@nestjs/common', 'typeorm']) {
      assert.ok(auth.has(name), `${name} in ${[...auth].join(', ')}`);
    }
    assert.ok(!auth.has('node:crypto') && !auth.has('crypto'), 'builtins are not packages');
  });

  it('prunes in process as the CLI does (and leaves the repository alone)', () => {
    const dir = buildStage();
    const { closure, removed } = pruneForImage(dir, 'services/auth');
    assert.deepEqual(closure.workspaces, ['services/auth', 'libs/platform']);
    assert.ok(removed.includes('node_modules/typescript'));
    assert.ok(removed.includes('node_modules/.bin'));
    assert.ok(!existsSync(join(dir, '.nx')));
    assert.ok(existsSync(join(root, 'node_modules', 'typescript')));
  });
});
