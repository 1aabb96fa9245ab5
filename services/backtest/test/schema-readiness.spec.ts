import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import {
  createServiceApp,
  generateSigningKeyPair,
  initServiceApp,
  loadConfig,
  requiredSchemaVersion,
  runMigrationsWithLock,
  type RunServiceOptions,
} from '@stocklab/platform';
import {
  createTestDatabase,
  deleteRedisKeys,
  markRevocationListRestored,
  startLocalS3,
  testingModuleFactory,
  type LocalS3,
  readinessUp,
  readinessWithDown,
  type TestDatabase,
} from '@stocklab/test-support';
import type { MigrationInterface } from 'typeorm';
import { backtestConfigSchema } from '../src/config.js';
import { backtestServiceOptions } from '../src/service-options.js';
import { backtestEnv } from './support.js';

/**
 * A backtest replica of a new release that starts before the migration Job has finished: not
 * ready, saying which version it waits for, until the backtest schema holds its newest migration.
 */
describe('readiness: schema at least the version this build needs', () => {
  let db: TestDatabase;
  let s3: LocalS3;
  let env: Record<string, string>;
  let options: RunServiceOptions;
  let app: Awaited<ReturnType<typeof createServiceApp>>;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase('stocklab_backtest');
    s3 = await startLocalS3();
    env = backtestEnv(db, s3, generateSigningKeyPair(), { LOG_LEVEL: 'fatal' });
    // no auth here: the revocation list is complete, so only the schema can keep the replica out
    await markRevocationListRestored(env.REDIS_URL ?? '', env.REDIS_KEY_PREFIX ?? '');
    options = backtestServiceOptions(loadConfig(backtestConfigSchema, env));
    app = await createServiceApp(options, testingModuleFactory);
    await initServiceApp(app);
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });
  afterAll(async () => {
    await app?.close();
    await s3?.stop();
    await db?.drop();
    await deleteRedisKeys(env.REDIS_URL ?? '', env.REDIS_KEY_PREFIX ?? '');
  });

  const newest = (): { version: number; name: string } => {
    const classes = options.dataSource.migrations as (new () => MigrationInterface)[];
    const version = requiredSchemaVersion(classes.map((M) => new M()));
    assert.ok(version, 'backtest ships migrations');
    return version;
  };

  it('answers 503 naming the missing version while the backtest schema is not migrated', async () => {
    // the schema alone keeps the replica out (each answer until then a 503 too)
    const res = await readinessWithDown(url, ['schema']);
    const schema = res.body.details.schema;
    assert.equal(schema?.required, newest().version);
    assert.match(schema?.message ?? '', /schema backtest has no migration applied/);
    assert.ok(schema?.message?.includes(newest().name), schema?.message);
  });

  it('answers 200 once the migrations have run, without a restart', async () => {
    await runMigrationsWithLock(options.dataSource);
    const res = await readinessUp(url);
    assert.equal(res.body.info?.schema?.applied, newest().version);
  });
});
