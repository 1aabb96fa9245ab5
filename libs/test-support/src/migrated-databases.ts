import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { childProcessEnv } from './child-env.js';
import { adminDatabaseUrl, createTestDatabase, type TestDatabase } from './databases.js';

const run = promisify(execFile);

/** The schemas a test database starts with: what these built migration entry points create. */
export interface MigratedSchemas {
  /** names the templates of this set of schemas (lowercase letters and digits: backtest, trading...) */
  family: string;
  /** built migration entry points (a service's dist/bundle/migrate.js), run in this order */
  migrations: string[];
}

/**
 * The files that decide what an entry point migrates: tsc's output (the entry, data-source.js and
 * migrations/) or a bundled entry (dist/bundle/migrate.js) alone, which holds its migrations and
 * data source.
 */
function filesOf(entry: string): string[] {
  const dir = dirname(entry);
  const migrationsDir = join(dir, 'migrations');
  if (!existsSync(migrationsDir)) {
    return [entry];
  }
  const migrations = readdirSync(migrationsDir)
    .filter((f) => f.endsWith('.js'))
    .sort();
  return [entry, join(dir, 'data-source.js'), ...migrations.map((f) => join(migrationsDir, f))];
}

/**
 * What decides the schemas: each entry point's compiled migrations and data source (their
 * schema and table names). Any change to them names another template, so a stale one is never
 * cloned.
 */
function fingerprintOf(schemas: MigratedSchemas): string {
  const hash = createHash('sha256');
  for (const entry of schemas.migrations) {
    const dir = dirname(entry);
    for (const file of filesOf(entry)) {
      hash.update(file.slice(dir.length)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

// no underscore: the stale-template pattern of one family must not match another's names
const FAMILY = /^[a-z][a-z0-9]{0,20}$/;
/** per process: one look-up (or build) of each template */
const templates = new Map<string, Promise<string>>();

/**
 * The template database holding `schemas`, built once by whichever test process asks first (the
 * others wait on an advisory lock) and kept for later runs: `stocklab_tpl_<family>_<fingerprint>`.
 * Templates of the same family with another fingerprint (older migrations) are dropped then.
 */
async function templateOf(schemas: MigratedSchemas, admin: string): Promise<string> {
  if (!FAMILY.test(schemas.family)) {
    throw new Error(`template family ${schemas.family} is not a lowercase word`);
  }
  const name = `stocklab_tpl_${schemas.family}_${fingerprintOf(schemas)}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`stocklab_tpl_${schemas.family}`]);
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rows.length > 0) {
      return name;
    }
    // a build of a test process killed half-way (none runs now: this one holds the family's lock)
    const { rows: leftovers } = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1',
      [`stocklab\\_tplbuild\\_${schemas.family}\\_%`],
    );
    for (const { datname } of leftovers) {
      await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
    // built under another name and renamed when complete: a build that dies half-way is never cloned
    const building = await createTestDatabase(`stocklab_tplbuild_${schemas.family}`, admin);
    try {
      for (const entry of schemas.migrations) {
        await run(process.execPath, [entry], {
          env: childProcessEnv({ DATABASE_URL: building.url, NODE_ENV: 'test' }),
        });
      }
      await client.query(`ALTER DATABASE ${building.name} RENAME TO ${name}`);
    } catch (error) {
      await building.drop();
      throw error;
    }
    const { rows: stale } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2`,
      [`stocklab\\_tpl\\_${schemas.family}\\_%`, name],
    );
    for (const { datname } of stale) {
      // a run of an older checkout may still clone it: then it stays until a later build
      await client.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => undefined);
    }
    return name;
  } finally {
    await client.end();
  }
}

/**
 * A throwaway database (as createTestDatabase) that already holds the schemas the migrations of
 * `schemas` create: a copy of a template migrated once, instead of two or three Node processes
 * migrating each test's database. The migrations themselves are tested where they are the subject
 * (each service's migrations and schema-readiness tests, the platforms' migration Jobs in e2e).
 */
export async function createMigratedDatabase(
  prefix: string,
  schemas: MigratedSchemas,
  admin = adminDatabaseUrl(),
): Promise<TestDatabase> {
  const key = `${admin}\n${schemas.family}\n${schemas.migrations.join('\n')}`;
  let template = templates.get(key);
  if (!template) {
    template = templateOf(schemas, admin);
    templates.set(key, template);
    template.catch(() => templates.delete(key));
  }
  return createTestDatabase(prefix, admin, await template);
}
