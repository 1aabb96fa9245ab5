import type { DataSourceOptions, MixedList, EntitySchema } from 'typeorm';

export interface ServiceDataSourceInput {
  /** the service's own PostgreSQL schema; tables and the migrations table live in it */
  schema: string;
  databaseUrl: string;
  poolSize: number;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
  applicationName: string;
}

/** One definition per service, shared by the app and the migration entry point. */
export function serviceDataSourceOptions(input: ServiceDataSourceInput): DataSourceOptions {
  return {
    type: 'postgres',
    url: input.databaseUrl,
    schema: input.schema,
    entities: input.entities,
    migrations: input.migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    installExtensions: false,
    useUTC: true,
    poolSize: input.poolSize,
    applicationName: input.applicationName,
    connectTimeoutMS: 3000,
    extra: {
      // keeps a stuck query from holding a request (and a pool slot) forever
      statement_timeout: 30000,
      idleTimeoutMillis: 30000,
    },
  };
}
