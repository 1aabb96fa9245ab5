#!/usr/bin/env node
/**
 * Runs the Lease API double as a process (used by the local launcher and by service tests):
 *
 *   node dist/lease-api-double-cli.js <port> <kubeconfig-path>
 *
 * Port 0 picks a free port. Once listening it writes a kubeconfig for the double to
 * <kubeconfig-path> and prints one JSON line {"url","port","kubeconfig"} on stdout.
 * Faults are injected over HTTP: PUT /_double/faults/{client} {"mode":"refuse"|"unavailable"|"hang"|"delay","delayMs":N},
 * DELETE /_double/faults/{client}, DELETE /_double/faults.
 */
import { resolve } from 'node:path';
import { LeaseApiDouble } from './testing/lease-api-double.js';
import { writeKubeconfig } from './testing/kubeconfig.js';

async function main(argv: string[]): Promise<void> {
  const [portArg, kubeconfigArg] = argv;
  const port = Number(portArg ?? 'NaN');
  if (!Number.isInteger(port) || port < 0 || port > 65535 || kubeconfigArg === undefined) {
    process.stderr.write('usage: lease-api-double-cli <port> <kubeconfig-path>\n');
    process.exit(2);
  }
  const double = await LeaseApiDouble.start({ port });
  const kubeconfig = resolve(kubeconfigArg);
  writeKubeconfig(kubeconfig, double.url);
  process.stdout.write(`${JSON.stringify({ url: double.url, port: double.port, kubeconfig })}\n`);
  const shutdown = (): void => {
    void double.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`lease-api-double: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
