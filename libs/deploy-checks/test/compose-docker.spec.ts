import assert from 'node:assert/strict';
import { beforeAll, describe, it } from '@jest/globals';
import {
  checkCompose,
  checkDockerfile,
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
    const replicas = (name: string): number | undefined => compose.services[name]?.deploy?.replicas;
    assert.equal(replicas('auth'), 2);
    assert.equal(replicas('backtest'), 2);
    assert.equal(replicas('backtest-worker'), 1);
    assert.equal(replicas('trading'), 3);
    assert.equal(compose.services.trading?.environment?.LEADER_ELECTION, 'postgres');
    assert.deepEqual(compose.services['backtest-worker']?.command, ['node', 'dist/worker.js']);
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
  it('nginx routes like the Ingress, to the compose services on their ports', () => {
    const nginx = nginxRoutes(loadNginxConf(root)).sort((a, b) => a.path.localeCompare(b.path));
    const ingress = ingressRoutes(kustomize(`${root}/k8s/overlays/prod`)).sort((a, b) => a.path.localeCompare(b.path));
    assert.deepEqual(nginx, ingress);
    for (const r of nginx) {
      assert.ok(compose.services[r.service], `compose service ${r.service}`);
      assert.equal(r.port, SERVICES[r.service as ServiceName].port);
    }
    const mounts = JSON.stringify(compose.services.nginx);
    assert.match(mounts, /deploy\/nginx\/nginx\.conf:\/etc\/nginx\/nginx\.conf/);
  });
});

describe('Dockerfile', () => {
  it('pins Node 24 slim, runs as non-root, copies no secret, starts a built entry point', () => {
    assert.deepEqual(checkDockerfile(root), []);
  });
});
