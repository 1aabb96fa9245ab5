import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
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
  tradingCronsLater,
  deleteRedisKeys,
  markRevocationListRestored,
  testingModuleFactory,
  testRedisUrl,
  uniqueKeyPrefix,
  readinessUp,
  readinessWithDown,
  type TestDatabase,
} from '@stocklab/test-support';
import type { MigrationInterface } from 'typeorm';
import { tradingConfigSchema } from '../src/config.js';
import { tradingServiceOptions } from '../src/service-options.js';
import { BACKTEST_MIGRATE } from './support.js';

/**
 * A trading replica of a new release next to the previous release's schema (every trading
 * migration but the newest; the market schema of the backtest service in place): not ready, with
 * the version it waits for, until the migration Job applies the newest one.
 */
describe('readiness: schema at least the version this build needs', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let options: RunServiceOptions;
  let migrations: (new () => MigrationInterface)[];
  let app: Awaited<ReturnType<typeof createServiceApp>>;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase('stocklab_trading');
    await promisify(execFile)(process.execPath, [BACKTEST_MIGRATE], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url, NODE_ENV: 'test' },
    });
    const keys = generateSigningKeyPair();
    env = {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: uniqueKeyPrefix('trading'),
      JWT_PUBLIC_KEYS: keys.publicKeyPem,
      LOG_LEVEL: 'fatal',
      SHUTDOWN_DRAIN_MS: '100',
      LEADER_ELECTION: 'postgres',
      // nothing runs in this test: no backtest service to reach, no job due
      BACKTEST_URL: 'http://127.0.0.1:9',
      ...tradingCronsLater(),
    };
    await markRevocationListRestored(env.REDIS_URL ?? '', env.REDIS_KEY_PREFIX ?? '');
    options = tradingServiceOptions(loadConfig(tradingConfigSchema, env));
    migrations = options.dataSource.migrations as (new () => MigrationInterface)[];
    await runMigrationsWithLock({ ...options.dataSource, migrations: previousReleaseMigrations(migrations) });
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

  const versionOf = (classes: (new () => MigrationInterface)[]): number => {
    const version = requiredSchemaVersion(classes.map((M) => new M()))?.version;
    assert.ok(version !== undefined, 'trading ships migrations');
    return version;
  };

  it('answers 503 on the previous release schema, naming both versions', async () => {
    // the schema alone keeps the replica out (each answer until then a 503 too)
    const res = await readinessWithDown(url, ['schema']);
    const schema = res.body.details.schema;
    assert.equal(schema?.applied, versionOf(previousReleaseMigrations(migrations)));
    assert.equal(schema?.required, versionOf(migrations));
    assert.match(schema?.message ?? '', /^schema trading is at version \d{13}; this build needs version \d{13}/);
  });

  it('answers 200 once the newest migration has run, without a restart', async () => {
    await runMigrationsWithLock(options.dataSource);
    const res = await readinessUp(url);
    assert.equal(res.body.info?.schema?.applied, versionOf(migrations));
  });
});
