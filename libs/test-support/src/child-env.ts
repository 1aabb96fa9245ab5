/**
 * Variables a service process started by the tests inherits from the test's own environment. The
 * rest of its environment is what the test gives it, nothing more (a stray DATABASE_URL or
 * LOG_LEVEL of the shell must not reach it).
 *
 * NODE_COMPILE_CACHE: the suite starts a few hundred service processes (scripts/lib/run-tests.sh
 * sets the folder); with V8's on-disk cache each after the first skips compiling NestJS, TypeORM
 * and the services' modules, about a fifth of a replica's start.
 */
/** `env` on top of PATH, HOME and, when set, NODE_COMPILE_CACHE. */
export function childProcessEnv(env: Record<string, string> = {}): Record<string, string> {
  const cache = process.env.NODE_COMPILE_CACHE;
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    ...(cache ? { NODE_COMPILE_CACHE: cache } : {}),
    ...env,
  };
}
