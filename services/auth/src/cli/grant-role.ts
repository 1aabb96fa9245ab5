/**
 * Operator command: grants (or with --revoke removes) a role, e.g. admin, to an account.
 *
 *   node dist/cli/grant-role.js <email> <role> [--revoke]
 *
 * Uses DATABASE_URL. Tokens carry roles from login on: the user logs in again to get them.
 */
import pg from 'pg';
import { loadConfigOrExit } from '@stocklab/platform';
import { authConfigSchema } from '../config.js';

const [email, role, flag] = process.argv.slice(2);
if (!email || !role || !/^[a-z][a-z0-9_-]{1,31}$/.test(role) || (flag !== undefined && flag !== '--revoke')) {
  process.stderr.write('usage: grant-role <email> <role> [--revoke]   (role: lower-case letters, digits, _ or -)\n');
  process.exit(64);
}
const config = loadConfigOrExit(authConfigSchema);
const client = new pg.Client({ connectionString: config.DATABASE_URL });
await client.connect();
try {
  const sql =
    flag === '--revoke'
      ? `UPDATE auth.users SET roles = array_remove(roles, $2), updated_at = now() WHERE email = $1 RETURNING roles`
      : `UPDATE auth.users SET roles = CASE WHEN $2 = ANY(roles) THEN roles ELSE array_append(roles, $2) END, updated_at = now()
          WHERE email = $1 RETURNING roles`;
  const { rows } = await client.query<{ roles: string[] }>(sql, [email.trim().toLowerCase(), role]);
  if (rows.length === 0) {
    process.stderr.write(`no account with email ${email}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`${email}: roles ${rows[0]?.roles.join(', ')}\n`);
  }
} finally {
  await client.end();
}
