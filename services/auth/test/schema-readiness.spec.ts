import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import {
  createServiceApp,
  generateSigningKeyPair,
  initServiceApp,
  loadConfig,
  previousReleaseMigrations,
  requiredSchemaVersion,
  runMigrationsWithLock,
  type RunServiceOptions,
} from '@stocklab/platform';
import {
  createTestDatabase,
  deleteRedisKeys,
  testingModuleFactory,
  readinessUp,
  readinessWithDown,
  type TestDatabase,
} from '@stocklab/test-support';
import type { MigrationInterface } from 'typeorm';
import { authConfigSchema } from '../src/config.js';
import { authServiceOptions } from '../src/service-options.js';
import { TokenIssuer } from '../src/tokens/token-issuer.js';
import { authEnv } from './support.js';

/**
 * A replica of a new release started before the migration Job has finished (Kubernetes rolls the
 * Deployments out alongside the Job): readiness must keep it out of the Service until the schema
 * holds the newest migration this build ships, and let it in as soon as it does.
 */
describe('readiness: schema at least the version this build needs', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let options: RunServiceOptions;
  let app: Awaited<ReturnType<typeof createServiceApp>>;
  let url: string;
  let migrations: (new () => MigrationInterface)[];

  beforeAll(async () => {
    db = await createTestDatabase('stocklab_auth');
    env = authEnv(db, generateSigningKeyPair(), { LOG_LEVEL: 'fatal' });
    const config = loadConfig(authConfigSchema, env);
    options = authServiceOptions(config, await TokenIssuer.create(config));
    // authDataSourceOptions lists the migration classes, oldest first
    migrations = options.dataSource.migrations as (new () => MigrationInterface)[];
    // no migration runs: RUN_MIGRATIONS=false, the Job has not got there yet
    app = await createServiceApp(options, testingModuleFactory);
    await initServiceApp(app);
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    await deleteRedisKeys(env.REDIS_URL ?? '', env.REDIS_KEY_PREFIX ?? '');
  });

  const newest = (): { version: number; name: string } => {
    const version = requiredSchemaVersion(migrations.map((M) => new M()));
    assert.ok(version, 'auth ships migrations');
    return version;
  };

  it('answers 503 with the reason while the schema has no migration at all', async () => {
    // PostgreSQL itself is fine; the revocation list cannot be restored from a table not there yet
    const res = await readinessWithDown(url, ['revocations', 'schema']);
    const schema = res.body.details.schema;
    assert.equal(schema?.required, newest().version);
    assert.equal(schema?.applied, undefined);
    assert.match(schema?.message ?? '', /schema auth has no migration applied/);
    assert.ok(schema?.message?.includes(newest().name), schema?.message);
  });

  it('still answers 503 on the previous release schema (every migration but the newest)', async () => {
    const previous = previousReleaseMigrations(migrations);
    await runMigrationsWithLock({ ...options.dataSource, migrations: previous });
    // everything else comes up on that schema (the revocation restorer finds its table): the
    // schema version alone keeps the replica out
    const res = await readinessWithDown(url, ['schema']);
    const schema = res.body.details.schema;
    assert.equal(schema?.status, 'down');
    const previousVersion = requiredSchemaVersion(previous.map((M) => new M()))?.version;
    assert.equal(schema?.applied, previousVersion);
    assert.match(schema?.message ?? '', new RegExp(`schema auth is at version ${String(previousVersion)}`));
  });

  it('answers 200 once the migrations have run, without a restart', async () => {
    await runMigrationsWithLock(options.dataSource);
    // the revocation restorer's next tick (every second) finds its table now
    const res = await readinessUp(url);
    assert.equal(res.body.info?.schema?.status, 'up');
    assert.equal(res.body.info?.schema?.applied, newest().version);
  });
});
