import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import pg from 'pg';
import { adminDatabaseUrl, createMigratedDatabase, type MigratedSchemas, type TestDatabase } from '../src/index.js';

/**
 * A built service in miniature: dist/migrate.js creates one table per file of dist/migrations and
 * counts its runs in a file beside it. It lives under this package (not /tmp) so that it finds pg.
 */
function fakeService(root: string): { entry: string; runs: () => number; migration: (n: number) => void } {
  const dist = join(root, 'dist');
  mkdirSync(join(dist, 'migrations'), { recursive: true });
  writeFileSync(join(dist, 'data-source.js'), 'export {};\n');
  writeFileSync(
    join(dist, 'migrate.js'),
    `import { appendFileSync, readdirSync } from 'node:fs';
import pg from 'pg';
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
for (const file of readdirSync(new URL('migrations', import.meta.url)).sort()) {
  await client.query('CREATE TABLE t_' + file.replace('.js', '') + ' (id int)');
}
await client.end();
appendFileSync(new URL('runs', import.meta.url), 'x');
`,
  );
  return {
    entry: join(dist, 'migrate.js'),
    runs: () => {
      try {
        return readFileSync(join(dist, 'runs'), 'utf8').length;
      } catch {
        return 0;
      }
    },
    migration: (n) => writeFileSync(join(dist, 'migrations', `m${n}.js`), `export const n = ${n};\n`),
  };
}

describe('createMigratedDatabase', () => {
  const family = `tst${randomBytes(4).toString('hex')}`;
  let root: string;
  let admin: pg.Client;
  const databases: TestDatabase[] = [];

  const tables = async (db: TestDatabase): Promise<string[]> => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>(
        `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
      );
      return rows.map((r) => r.name);
    } finally {
      await client.end();
    }
  };
  const templates = async (): Promise<string[]> => {
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1',
      [`stocklab\\_tpl%\\_${family}\\_%`],
    );
    return rows.map((r) => r.datname);
  };

  beforeAll(async () => {
    root = mkdtempSync(join(import.meta.dirname, 'fake-service-'));
    admin = new pg.Client({ connectionString: adminDatabaseUrl() });
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(databases.map((db) => db.drop()));
    for (const name of await templates()) {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
    await admin.end();
    rmSync(root, { recursive: true, force: true });
  });

  it('migrates a template once and hands out independent copies of it', async () => {
    const service = fakeService(join(root, 'a'));
    service.migration(1);
    service.migration(2);
    const schemas: MigratedSchemas = { family, migrations: [service.entry] };
    // the same server under two URLs: each call has its own memo, as two test processes do, so
    // only the advisory lock keeps the second from building the template again
    const [one, two] = await Promise.all([
      createMigratedDatabase('stocklab_tst', schemas),
      createMigratedDatabase('stocklab_tst', schemas, `${adminDatabaseUrl()}?application_name=other_process`),
    ]);
    databases.push(one, two);
    assert.deepEqual(await tables(one), ['t_m1', 't_m2']);
    assert.deepEqual(await tables(two), ['t_m1', 't_m2']);
    assert.equal(service.runs(), 1, 'the migrations ran once, for the template, under the lock');
    assert.notEqual(one.name, two.name);
    const client = new pg.Client({ connectionString: one.url });
    await client.connect();
    await client.query('INSERT INTO t_m1 VALUES (1)');
    await client.end();
    const other = new pg.Client({ connectionString: two.url });
    await other.connect();
    const { rows } = await other.query('SELECT * FROM t_m1');
    await other.end();
    assert.equal(rows.length, 0, 'a copy does not see what another copy holds');
    assert.equal((await templates()).length, 1);
  });

  it('builds a new template when a migration changes, and drops the stale one', async () => {
    const service = fakeService(join(root, 'b'));
    service.migration(1);
    const first = await createMigratedDatabase('stocklab_tst', { family, migrations: [service.entry] });
    databases.push(first);
    const before = await templates();
    service.migration(3);
    // the same server under another URL: this process's memo of the first template does not apply,
    // as in a later run of the suite
    const second = await createMigratedDatabase(
      'stocklab_tst',
      { family, migrations: [service.entry] },
      `${adminDatabaseUrl()}?application_name=later_run`,
    );
    databases.push(second);
    assert.deepEqual(await tables(first), ['t_m1']);
    assert.deepEqual(await tables(second), ['t_m1', 't_m3']);
    const after = await templates();
    assert.equal(after.length, 1, `one template of the family is left: ${after.join(', ')}`);
    assert.ok(!before.includes(after[0] ?? ''), 'the stale template is gone');
  });

  it('refuses a family name that could match another family’s templates', async () => {
    await assert.rejects(
      createMigratedDatabase('stocklab_tst', { family: 'with_underscore', migrations: [] }),
      /lowercase/,
    );
  });
});
