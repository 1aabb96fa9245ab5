import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const DROP_GRACE_MS = 2000;
const DROP_POLL_MS = 50;

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** The server the tests use: TEST_DATABASE_URL, else the local default. */
export function adminDatabaseUrl(): string {
  return process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

/**
 * A database of its own for one test file, dropped afterwards: empty, or a copy of `template`
 * (see createMigratedDatabase).
 */
export async function createTestDatabase(
  prefix = 'stocklab_t',
  admin = adminDatabaseUrl(),
  template?: string,
): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(template ? `CREATE DATABASE ${name} TEMPLATE ${template}` : `CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        // pg's Pool.end() resolves before its clients' sockets are closed: terminating a backend
        // still saying goodbye reaches that pool as an 'error' event, thrown in the test's process
        // when nobody listens. So give the connections a moment to leave, then force the rest
        // (a killed replica's, a test that forgot its pool).
        for (let waited = 0; waited < DROP_GRACE_MS; waited += DROP_POLL_MS) {
          const { rows } = await c.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
            [name],
          );
          if ((rows[0]?.n ?? 0) === 0) {
            break;
          }
          await sleep(DROP_POLL_MS);
        }
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
