import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { adminDatabaseUrl, freePort, testRedisUrl } from '@stocklab/test-support';
import { findRedisServer, postgresAnswers, provision, ProvisionError, redisAnswers } from '../src/index.js';

let repoRoot: string;
let deadPostgres: string;
let deadRedis: string;
let redisBinDir: string;

beforeAll(async () => {
  // The postgres OS user must be able to reach <repoRoot>/.run/postgres when the server is started as root.
  repoRoot = mkdtempSync(join(tmpdir(), 'local-platform-'));
  chmodSync(repoRoot, 0o755);
  deadPostgres = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
  deadRedis = `redis://127.0.0.1:${await freePort()}`;
  const binary = findRedisServer(process.env);
  assert.ok(binary, 'these tests need redis-server on PATH');
  redisBinDir = dirname(binary);
});

afterAll(() => {
  rmSync(repoRoot, { recursive: true, force: true });
});

describe('provision', () => {
  it('uses a configured DATABASE_URL and REDIS_URL that answer, and starts nothing', async () => {
    const env = { DATABASE_URL: adminDatabaseUrl(), REDIS_URL: testRedisUrl() };
    const p = await provision({ env, repoRoot, defaultPostgresUrl: deadPostgres, defaultRedisUrl: deadRedis });
    assert.equal(p.databaseAdminUrl, env.DATABASE_URL);
    assert.equal(p.redisUrl, env.REDIS_URL);
    assert.deepEqual(p.postgres, { origin: 'configured', variable: 'DATABASE_URL' });
    assert.deepEqual(p.redis, { origin: 'configured', variable: 'REDIS_URL' });
    await p.stop();
    assert.ok(await postgresAnswers(env.DATABASE_URL), 'stop() leaves a server it did not start alone');
    assert.ok(await redisAnswers(env.REDIS_URL));
  });

  it('reads TEST_DATABASE_URL when DATABASE_URL is not set', async () => {
    const env = { TEST_DATABASE_URL: adminDatabaseUrl(), REDIS_URL: testRedisUrl() };
    const p = await provision({ env, repoRoot, defaultPostgresUrl: deadPostgres, defaultRedisUrl: deadRedis });
    assert.equal(p.databaseAdminUrl, env.TEST_DATABASE_URL);
    assert.deepEqual(p.postgres, { origin: 'configured', variable: 'TEST_DATABASE_URL' });
    await p.stop();
  });

  it('falls back to the defaults when the configured URLs do not answer', async () => {
    const lines: string[] = [];
    const p = await provision({
      env: { DATABASE_URL: deadPostgres, REDIS_URL: deadRedis, PATH: redisBinDir },
      repoRoot,
      defaultPostgresUrl: adminDatabaseUrl(),
      defaultRedisUrl: testRedisUrl(),
      log: (line) => lines.push(line),
    });
    assert.equal(p.databaseAdminUrl, adminDatabaseUrl());
    assert.equal(p.redisUrl, testRedisUrl());
    assert.equal(p.postgres.origin, 'default');
    assert.equal(p.redis.origin, 'default', 'redis-server on PATH is not started while the default answers');
    assert.ok(lines.some((l) => l.includes('REDIS_URL') && l.includes(deadRedis)));
    await p.stop();
  });

  it('starts redis-server from PATH when nothing answers, and stop() ends it', async () => {
    const p = await provision({
      env: { DATABASE_URL: adminDatabaseUrl(), REDIS_URL: deadRedis, PATH: redisBinDir },
      repoRoot,
      defaultRedisUrl: deadRedis,
    });
    try {
      assert.equal(p.redis.origin, 'started');
      assert.notEqual(p.redisUrl, deadRedis);
      assert.ok(await redisAnswers(p.redisUrl));
    } finally {
      await p.stop();
    }
    assert.equal(await redisAnswers(p.redisUrl), false);
  });

  it('says in one line to install redis-server when there is none to start', async () => {
    await assert.rejects(
      provision({
        env: { DATABASE_URL: adminDatabaseUrl(), REDIS_URL: deadRedis, PATH: '' },
        repoRoot,
        defaultRedisUrl: deadRedis,
      }),
      (error: unknown) => {
        assert.ok(error instanceof ProvisionError);
        assert.match(error.message, /apt-get install redis-server/);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
    );
  });

  it('says in one line to install postgresql when none answers and no binaries exist', async () => {
    await assert.rejects(
      provision({
        env: { REDIS_URL: testRedisUrl() },
        repoRoot,
        defaultPostgresUrl: deadPostgres,
        postgresInstallRoot: join(repoRoot, 'no-such-dir'),
      }),
      (error: unknown) => {
        assert.ok(error instanceof ProvisionError);
        assert.match(error.message, /apt-get install postgresql/);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
    );
  });

  it('starts PostgreSQL from the system binaries in <repo>/.run/postgres when none answers, and stop() ends it', async () => {
    const p = await provision({
      env: { DATABASE_URL: deadPostgres, REDIS_URL: testRedisUrl() },
      repoRoot,
      defaultPostgresUrl: deadPostgres,
    });
    try {
      assert.equal(p.postgres.origin, 'started');
      assert.notEqual(p.databaseAdminUrl, deadPostgres);
      assert.ok(await postgresAnswers(p.databaseAdminUrl));
      assert.ok(existsSync(join(repoRoot, '.run', 'postgres', 'data', 'PG_VERSION')));
    } finally {
      await p.stop();
    }
    assert.equal(await postgresAnswers(p.databaseAdminUrl), false);
  });
});
