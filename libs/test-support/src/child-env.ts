/**
 * Variables a service process started by the tests inherits from the test's own environment. The
 * rest of its environment is what the test gives it, nothing more (a stray DATABASE_URL or
 * LOG_LEVEL of the shell must not reach it).
 *
 * NODE_COMPILE_CACHE: the suite starts a few hundred service processes (scripts/lib/run-tests.sh
 * sets the folder); with V8's on-disk cache each after the first skips compiling NestJS, TypeORM
 * and the services' modules, about a fifth of a replica's start.
 */
const INHERITED = ['PATH', 'HOME', 'NODE_COMPILE_CACHE'] as const;

/** `env` on top of the inherited variables that are set (PATH and HOME always). */
export function childProcessEnv(env: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  for (const name of INHERITED) {
    const value = process.env[name];
    if (value !== undefined && value !== '') {
      base[name] = value;
    }
  }
  return { ...base, ...env };
}
