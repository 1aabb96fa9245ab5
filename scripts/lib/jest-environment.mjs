// The Jest environment of every package (jest.config.base.js): Node's, plus the output of the
// service processes a test file started (test-support's replica registry), printed when one of
// its tests or hooks fails. The multi-replica tests keep their replicas' logs in memory only, so
// without this a failure on a loaded CI machine left nothing to read but the assertion.
import { TestEnvironment } from 'jest-environment-node';

const REPLICAS_KEY = Symbol.for('stocklab.test-support.replicas');
/** the end of each replica's output: where the failure is */
const TAIL_CHARS = 6000;

export default class ReplicaLogsEnvironment extends TestEnvironment {
  /** @param {import('jest-circus').Event} event */
  async handleTestEvent(event) {
    if (event.name === 'test_done' && event.test.errors.length > 0) {
      this.printReplicaLogs(`test "${event.test.name}" failed`);
    } else if (event.name === 'hook_failure') {
      this.printReplicaLogs(`${event.hook.type} hook failed`);
    }
  }

  /** @param {string} why */
  printReplicaLogs(why) {
    /** @type {Set<{ name: string, logs(): string }> | undefined} */
    const replicas = this.global[REPLICAS_KEY];
    if (!replicas || replicas.size === 0) {
      return;
    }
    const parts = [`${why}: the output of the ${replicas.size} service process(es) this file started`];
    for (const replica of replicas) {
      const logs = replica.logs();
      const tail =
        logs.length > TAIL_CHARS ? `[... ${logs.length - TAIL_CHARS} chars before]\n${logs.slice(-TAIL_CHARS)}` : logs;
      parts.push(`----- ${replica.name} -----\n${tail.trimEnd() || '(no output)'}`);
    }
    process.stderr.write(`${parts.join('\n')}\n----- end of the service processes' output -----\n`);
  }
}
