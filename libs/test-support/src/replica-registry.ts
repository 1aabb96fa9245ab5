/**
 * The service processes a test file started, kept on the file's global object (each test file
 * has its own), so that the suite's Jest environment (scripts/lib/jest-environment.mjs) prints
 * their output when a test or hook fails: a multi-replica test that fails once on a loaded CI
 * machine is then diagnosed from what its replicas said, not guessed at.
 */
export const REPLICAS_KEY = Symbol.for('stocklab.test-support.replicas');

export interface LoggingProcess {
  readonly name: string;
  logs(): string;
}

export function rememberReplica(replica: LoggingProcess): void {
  const scope = globalThis as { [REPLICAS_KEY]?: Set<LoggingProcess> };
  (scope[REPLICAS_KEY] ??= new Set()).add(replica);
}
