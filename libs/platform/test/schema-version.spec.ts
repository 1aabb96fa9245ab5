import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@stocklab/test-support';
import {
  requiredSchemaVersion,
  runMigrationsWithLock,
  SchemaVersionCheck,
  serviceDataSourceOptions,
} from '../src/index.js';

class CreateThings1700000000000 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE schema_check.things (id int PRIMARY KEY)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE schema_check.things');
  }
}
class AddName1700000100000 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE schema_check.things ADD COLUMN name text');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE schema_check.things DROP COLUMN name');
  }
}

describe('requiredSchemaVersion', () => {
  it('is the newest migration by the timestamp ending its name, whatever the order listed', () => {
    assert.deepEqual(requiredSchemaVersion([new AddName1700000100000(), new CreateThings1700000000000()]), {
      version: 1700000100000,
      name: 'AddName1700000100000',
    });
  });
  it('prefers a migration’s name property, as TypeORM does', () => {
    const named = Object.assign(new CreateThings1700000000000(), { name: 'Renamed1800000000000' });
    assert.equal(requiredSchemaVersion([named, new AddName1700000100000()])?.version, 1800000000000);
  });
  it('is undefined without migrations, and refuses a name without a timestamp', () => {
    assert.equal(requiredSchemaVersion([]), undefined);
    const bad = Object.assign(new CreateThings1700000000000(), { name: 'NoTimestamp' });
    assert.throws(() => requiredSchemaVersion([bad]), /migration NoTimestamp has no 13-digit timestamp/);
  });
});

describe('SchemaVersionCheck (real PostgreSQL)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  const options = (url: string, migrations: (new () => MigrationInterface)[]) =>
    serviceDataSourceOptions({
      schema: 'schema_check',
      databaseUrl: url,
      poolSize: 2,
      entities: [],
      migrations,
      applicationName: 'schema-version-spec',
    });

  beforeAll(async () => {
    db = await createTestDatabase('stocklab_platform');
    // the running code ships both migrations
    dataSource = new DataSource(options(db.url, [CreateThings1700000000000, AddName1700000100000]));
    await dataSource.initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('is not ready while the schema and its migrations table do not exist', async () => {
    const state = await new SchemaVersionCheck(dataSource).check();
    assert.equal(state.ready, false);
    assert.equal(state.applied, undefined);
    assert.equal(
      state.ready ? '' : state.message,
      'schema schema_check has no migration applied; this build needs version 1700000100000 (AddName1700000100000): waiting for the migrations to run',
    );
  });

  it('is not ready on an older schema, ready from the newest migration on', async () => {
    await runMigrationsWithLock(options(db.url, [CreateThings1700000000000]));
    const older = await new SchemaVersionCheck(dataSource).check();
    assert.equal(older.ready, false);
    assert.equal(older.applied, 1700000000000);
    assert.match(older.ready ? '' : older.message, /^schema schema_check is at version 1700000000000; /);

    await runMigrationsWithLock(options(db.url, [CreateThings1700000000000, AddName1700000100000]));
    const current = await new SchemaVersionCheck(dataSource).check();
    assert.deepEqual(current, {
      ready: true,
      schema: 'schema_check',
      required: { version: 1700000100000, name: 'AddName1700000100000' },
      applied: 1700000100000,
    });
  });

  it('stays ready on a newer schema (the code rolled back, the additive migrations kept)', async () => {
    await dataSource.query(
      `INSERT INTO schema_check.migrations ("timestamp", name) VALUES (1800000000000, 'Later1800000000000')`,
    );
    const state = await new SchemaVersionCheck(dataSource).check();
    assert.equal(state.ready, true);
    assert.equal(state.applied, 1800000000000);
  });
});
