import type { DataSource, MigrationInterface } from 'typeorm';

/**
 * The version TypeORM itself gives a migration: the 13-digit timestamp that ends its name (its
 * `name`, else its class name). MigrationExecutor orders and records migrations by it.
 */
const VERSION_SUFFIX = /(\d{13})$/;

export interface SchemaVersion {
  /** the migration's timestamp, as TypeORM stores it in the migrations table */
  version: number;
  name: string;
}

export type SchemaState =
  | { ready: true; schema: string; required?: SchemaVersion; applied?: number }
  | { ready: false; schema: string; required: SchemaVersion; applied?: number; message: string };

function migrationName(migration: MigrationInterface): string {
  // TypeORM's own fallback (MigrationExecutor): an empty name counts as none
  return migration.name !== undefined && migration.name !== '' ? migration.name : migration.constructor.name;
}

/** The newest migration the running code ships: the schema version it needs at least. */
export function requiredSchemaVersion(migrations: readonly MigrationInterface[]): SchemaVersion | undefined {
  let newest: SchemaVersion | undefined;
  for (const migration of migrations) {
    const name = migrationName(migration);
    const match = VERSION_SUFFIX.exec(name);
    if (match?.[1] === undefined) {
      // TypeORM refuses to run such a migration too; failing loudly beats a readiness that lies
      throw new Error(`migration ${name} has no 13-digit timestamp at the end of its name`);
    }
    const version = Number(match[1]);
    if (newest === undefined || version > newest.version) {
      newest = { version, name };
    }
  }
  return newest;
}

/**
 * The migrations of the release before: every one of `classes` but the newest (by the version
 * ending its name), the schema a rolling upgrade's new pods meet before the migration Job ran.
 */
export function previousReleaseMigrations<T extends new () => MigrationInterface>(classes: readonly T[]): T[] {
  const version = (list: readonly T[]): number | undefined => requiredSchemaVersion(list.map((M) => new M()))?.version;
  const newest = version(classes);
  return classes.filter((M) => version([M]) !== newest);
}

/**
 * Readiness' "schema at least version N": the newest migration recorded in the service's own
 * migrations table (one PostgreSQL schema per service) against the newest one this build ships.
 * A pod of a new release started before the migration Job has finished stays unready instead of
 * serving against the old schema; a newer schema than the code's (a rollback of the code) is
 * fine, since every migration is additive for the release before it.
 */
export class SchemaVersionCheck {
  private readonly required: SchemaVersion | undefined;
  private readonly schema: string;
  private readonly table: string;

  constructor(private readonly dataSource: DataSource) {
    this.required = requiredSchemaVersion(dataSource.migrations);
    const options = dataSource.options as { schema?: string; migrationsTableName?: string };
    this.schema = options.schema ?? 'public';
    const escape = (name: string): string => dataSource.driver.escape(name);
    this.table = `${escape(this.schema)}.${escape(options.migrationsTableName ?? 'migrations')}`;
  }

  async check(): Promise<SchemaState> {
    const required = this.required;
    if (required === undefined) {
      return { ready: true, schema: this.schema };
    }
    const applied = await this.appliedVersion();
    if (applied !== undefined && applied >= required.version) {
      return { ready: true, schema: this.schema, required, applied };
    }
    const found = applied === undefined ? 'has no migration applied' : `is at version ${applied}`;
    return {
      ready: false,
      schema: this.schema,
      required,
      applied,
      message: `schema ${this.schema} ${found}; this build needs version ${required.version} (${required.name}): waiting for the migrations to run`,
    };
  }

  /** The newest applied migration's version; undefined while the migrations table does not exist. */
  private async appliedVersion(): Promise<number | undefined> {
    // to_regclass first: querying a missing table would log an error in PostgreSQL at every probe
    const [exists] = await this.dataSource.query<{ exists: boolean }[]>(
      'SELECT to_regclass($1) IS NOT NULL AS "exists"',
      [this.table],
    );
    if (exists?.exists !== true) {
      return undefined;
    }
    const [row] = await this.dataSource.query<{ version: string | null }[]>(
      `SELECT max("timestamp")::text AS "version" FROM ${this.table}`,
    );
    return row?.version === null || row?.version === undefined ? undefined : Number(row.version);
  }
}
