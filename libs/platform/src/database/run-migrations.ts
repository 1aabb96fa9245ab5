import pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';

export interface MigrationOutcome {
  applied: string[];
}

/** A stable 64-bit-ish advisory lock key per schema (hashtext is computed by PostgreSQL itself). */
const LOCK_SQL = `SELECT pg_advisory_lock(hashtext('stocklab:migrations:' || $1))`;
const UNLOCK_SQL = `SELECT pg_advisory_unlock(hashtext('stocklab:migrations:' || $1))`;

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
    throw new Error(`refusing to use schema name ${JSON.stringify(name)}`);
  }
  return `"${name}"`;
}

/**
 * Runs pending migrations exactly once however many replicas start together: each takes a
 * session advisory lock for the schema on a dedicated connection, the first one migrates, the
 * others wait and then find nothing pending. The lock dies with the connection, so a replica
 * killed mid-migration cannot leave it held.
 */
export async function runMigrationsWithLock(
  options: DataSourceOptions & { schema?: string; url?: string },
): Promise<MigrationOutcome> {
  const schema = options.schema;
  if (!schema) {
    throw new Error('runMigrationsWithLock needs a data source with a schema');
  }
  const lockClient = new pg.Client({ connectionString: options.url, application_name: `migrate:${schema}` });
  await lockClient.connect();
  try {
    await lockClient.query(LOCK_SQL, [schema]);
    try {
      await lockClient.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      const dataSource = new DataSource({ ...options, poolSize: 1 } as DataSourceOptions);
      await dataSource.initialize();
      try {
        const applied = await dataSource.runMigrations({ transaction: 'each' });
        return { applied: applied.map((m) => m.name) };
      } finally {
        await dataSource.destroy();
      }
    } finally {
      await lockClient.query(UNLOCK_SQL, [schema]);
    }
  } finally {
    await lockClient.end();
  }
}
