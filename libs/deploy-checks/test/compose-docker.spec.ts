import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, it } from '@jest/globals';
import {
  aliasesOf,
  checkCompose,
  checkComposeImages,
  checkNginxReresolves,
  composeReplicas,
  buildTimeFiles,
  checkDockerfile,
  dockerIgnored,
  ingressRoutes,
  kustomize,
  loadCompose,
  loadNginxConf,
  loadServiceSchemas,
  nginxRoutes,
  repoRoot,
  SERVICES,
  type ComposeFile,
  type ConfigSchemaLike,
  type ServiceName,
} from '../src/index.js';

const root = repoRoot();
let schemas: Record<ServiceName, ConfigSchemaLike>;
let compose: ComposeFile;

beforeAll(async () => {
  schemas = await loadServiceSchemas(root);
  compose = loadCompose(root);
});

describe('docker-compose.yml', () => {
  it('has the topology of the Kubernetes deployment', () => {
    assert.deepEqual(composeReplicas(compose), {
      auth: ['auth-1', 'auth-2'],
      backtest: ['backtest-1', 'backtest-2'],
      'backtest-worker': ['backtest-worker-1'],
      trading: ['trading-1', 'trading-2', 'trading-3'],
    });
    for (const name of ['trading-1', 'trading-2', 'trading-3']) {
      assert.equal(compose.services[name]?.environment?.LEADER_ELECTION, 'postgres', name);
    }
    assert.deepEqual(compose.services['backtest-worker-1']?.command, ['node', 'dist/bundle/worker.js']);
    for (const s of [
      'postgres',
      'redis',
      'minio',
      'minio-init',
      'nginx',
      'migrate-auth',
      'migrate-backtest',
      'migrate-trading',
    ]) {
      assert.ok(compose.services[s], `service ${s}`);
    }
  });
  it('pins images, checks health, waits for healthy dependencies, sets only variables the services read', () => {
    assert.deepEqual(checkCompose(compose, schemas), []);
  });
  it("builds the three images from the Dockerfile's final stage, and gives every replica its own POD_NAME", () => {
    assert.deepEqual(checkComposeImages(compose, readFileSync(join(root, 'Dockerfile'), 'utf8')), []);
  });
  it('nginx routes like the Ingress, to the API replicas of each service (a network alias each) on their ports', () => {
    const nginx = nginxRoutes(loadNginxConf(root)).sort((a, b) => a.path.localeCompare(b.path));
    const ingress = ingressRoutes(kustomize(`${root}/k8s/overlays/prod`)).sort((a, b) => a.path.localeCompare(b.path));
    assert.deepEqual(nginx, ingress);
    const replicas = composeReplicas(compose);
    for (const r of nginx) {
      const aliased = Object.entries(compose.services)
        .filter(([, s]) => aliasesOf(s).includes(r.service))
        .map(([name]) => name);
      assert.deepEqual(aliased, replicas[r.service], `alias ${r.service}`);
      assert.equal(r.port, SERVICES[r.service as ServiceName].port);
    }
    const mounts = JSON.stringify(compose.services.nginx);
    assert.match(mounts, /deploy\/nginx\/nginx\.conf:\/etc\/nginx\/nginx\.conf/);
  });
  it('nginx re-resolves the replicas through Docker DNS, and takes uploads as large as the Ingress does', () => {
    const conf = loadNginxConf(root);
    const maxUpload = Number(schemas.backtest.DATASET_MAX_BYTES?.defaultValue);
    assert.deepEqual(checkNginxReresolves(conf, compose.services.nginx?.image ?? '', maxUpload), []);
    const ingress = kustomize(`${root}/k8s/overlays/prod`).find((o) => o.kind === 'Ingress');
    const ingressSize = ingress?.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size'];
    assert.equal(/client_max_body_size\s+(\w+);/.exec(conf)?.[1], ingressSize);
    // what the rule refuses: the names looked up once at start (the configuration this replaced)
    const once = conf.replace(/\s+resolve;/g, ';').replace(/^\s*resolver\s[^;]+;/m, '');
    assert.deepEqual(checkNginxReresolves(once, 'nginx:1.27.2-alpine', maxUpload), [
      "nginx: no resolver 127.0.0.11 (Docker's DNS): upstream addresses are resolved once",
      "nginx: the resolver needs valid=<= 10s (Docker's DNS answers with a long TTL)",
      'nginx upstream auth: server auth:3001 without resolve is looked up once',
      'nginx upstream backtest: server backtest:3002 without resolve is looked up once',
      'nginx upstream trading: server trading:3003 without resolve is looked up once',
      'nginx: nginx:1.27.2-alpine predates 1.27.3, the first open-source nginx with resolve',
    ]);
  });
});

describe('Dockerfile', () => {
  it('pins Node 24 slim, runs as non-root, copies no secret, starts a built entry point', () => {
    assert.deepEqual(checkDockerfile(root), []);
  });

  it("sets the services' glibc tunables (transparent huge pages for the market columns) in the runtime image", () => {
    const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const without = text.replace(/^ENV GLIBC_TUNABLES=.*$/m, '');
    assert.notEqual(without, text);
    assert.deepEqual(checkDockerfile(root, without), [
      'Dockerfile: the runtime stage must set ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1',
    ]);
  });

  it("copies into the build stage every file the services' builds run from outside their folders", () => {
    assert.deepEqual(buildTimeFiles(root), ['scripts/lib/bundle-externals.json', 'scripts/lib/bundle-service.mjs']);
    const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const copy = /^COPY scripts\/lib\/.*$/m.exec(text)?.[0];
    assert.ok(copy !== undefined, 'the Dockerfile copies no build script');
    assert.deepEqual(checkDockerfile(root, text.replace(copy, 'COPY scripts/lib/bundle-service.mjs scripts/lib/')), [
      "Dockerfile: the build stage does not copy scripts/lib/bundle-externals.json, which a service's build runs",
    ]);
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    assert.equal(dockerIgnored(ignore, 'scripts/lib/bundle-service.mjs'), false);
    assert.equal(dockerIgnored(ignore, 'scripts/test'), true, 'the rest of scripts/ stays out');
    assert.equal(
      dockerIgnored(
        ignore.filter((l) => !l.startsWith('!scripts/')),
        'scripts/lib/bundle-externals.json',
      ),
      true,
    );
    assert.equal(dockerIgnored(['**/node_modules'], 'libs/x/node_modules/a/index.js'), true);
    assert.equal(dockerIgnored(['**/*.pem', '!keep.pem'], 'keep.pem'), false);
  });

  it('fills the compile cache at build time, as the user the processes run as', () => {
    const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const warm = /^RUN node \S+warm-compile-cache\.js (?:.*\\\n)*.*$/m.exec(text)?.[0];
    assert.ok(warm !== undefined, 'the Dockerfile has no warm-compile-cache step');
    assert.deepEqual(checkDockerfile(root, text.replace(warm, '')), [
      'Dockerfile: the runtime stage must fill the compile cache (warm-compile-cache.js --entry dist/bundle/main.js)',
    ]);
    // as root (before USER node): Node would write the folder of uid 0, which uid 1000 never reads
    const asRoot = text.replace(`${warm}\n`, '').replace(/^USER node$/m, `${warm}\nUSER node`);
    assert.deepEqual(checkDockerfile(root, asRoot), [
      'Dockerfile: the compile cache must be filled after the last USER, as the user the processes run as',
    ]);
    assert.deepEqual(checkDockerfile(root, text.replace(/^ENV NODE_COMPILE_CACHE=.*$/m, '')), [
      'Dockerfile: the runtime stage must set ENV NODE_COMPILE_CACHE to a folder in the image',
    ]);
  });
});
