import assert from 'node:assert/strict';
import { afterAll, describe, it } from '@jest/globals';
import pg from 'pg';
import { generateSigningKeyPair } from '@stocklab/platform';
import { createTestDatabase, startReplicas, type ReplicaSet, type TestDatabase } from '@stocklab/test-support';
import { AUTH_ENTRY, authEnv } from './support.js';

describe('migrations', () => {
  let db: TestDatabase | undefined;
  let replicas: ReplicaSet | undefined;
  afterAll(async () => {
    await replicas?.stopAll(5000);
    await db?.drop();
  });

  it('run exactly once when three replicas start together on an empty database', async () => {
    db = await createTestDatabase('stocklab_auth');
    replicas = await startReplicas(3, {
      entry: AUTH_ENTRY,
      env: authEnv(db, generateSigningKeyPair(), { RUN_MIGRATIONS: 'true' }),
      name: 'auth',
    });

    const outcomes = replicas.replicas.map((r) => {
      const line = r
        .logs()
        .split('\n')
        .find((l) => l.includes('"migrationsApplied"'));
      assert.ok(line, `${r.name} logged its migration outcome`);
      return (JSON.parse(line) as { migrationsApplied: number }).migrationsApplied;
    });
    assert.equal(
      outcomes.filter((n) => n > 0).length,
      1,
      `one replica applied migrations: ${JSON.stringify(outcomes)}`,
    );
    assert.equal(outcomes.filter((n) => n === 0).length, 2, 'the others found nothing pending');

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT name, count(*)::int AS n FROM auth.migrations GROUP BY name');
      assert.ok(rows.length > 0);
      for (const row of rows) {
        assert.equal(row.n, 1, `${row.name} recorded once`);
      }
    } finally {
      await client.end();
    }
  });
});
