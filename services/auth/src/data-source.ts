import { serviceDataSourceOptions } from '@stocklab/platform';
import type { DataSourceOptions } from 'typeorm';
import type { AuthConfig } from './config.js';
import { CreateAuthTables1764140000000 } from './migrations/1764140000000-create-auth-tables.js';
import { CreateAccessRevocations1764400000000 } from './migrations/1764400000000-create-access-revocations.js';
import { CreateOutbox1764900000000 } from './migrations/1764900000000-create-outbox.js';
import { RefreshGrace1765000000000 } from './migrations/1765000000000-refresh-grace.js';
import { RefreshToken } from './sessions/refresh-token.entity.js';
import { User } from './users/user.entity.js';

export const AUTH_SCHEMA = 'auth';

/** The auth service's one data source definition: used by the app and by dist/bundle/migrate.js. */
export function authDataSourceOptions(config: AuthConfig): DataSourceOptions {
  return serviceDataSourceOptions({
    schema: AUTH_SCHEMA,
    databaseUrl: config.DATABASE_URL,
    poolSize: config.DB_POOL_SIZE,
    entities: [User, RefreshToken],
    migrations: [
      CreateAuthTables1764140000000,
      CreateAccessRevocations1764400000000,
      CreateOutbox1764900000000,
      RefreshGrace1765000000000,
    ],
    applicationName: `auth:${config.POD_NAME}`,
  });
}
