import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The kubeconfig YAML for a plain-http API server such as the Lease API double. client-node 2.x
 * refuses http:// servers unless the cluster entry says insecure-skip-tls-verify: true.
 */
export function kubeconfigYaml(serverUrl: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '  - name: lease-api-double',
    '    cluster:',
    `      server: ${serverUrl}`,
    '      insecure-skip-tls-verify: true',
    'users:',
    '  - name: lease-api-double',
    '    user:',
    '      token: lease-api-double-dummy-token',
    'contexts:',
    '  - name: lease-api-double',
    '    context:',
    '      cluster: lease-api-double',
    '      user: lease-api-double',
    `      namespace: ${namespace}`,
    'current-context: lease-api-double',
    '',
  ].join('\n');
}

/** Writes a kubeconfig pointing at `serverUrl` (e.g. http://127.0.0.1:PORT) to `path`. */
export function writeKubeconfig(path: string, serverUrl: string, namespace = 'default'): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, kubeconfigYaml(serverUrl, namespace), { mode: 0o600 });
}
