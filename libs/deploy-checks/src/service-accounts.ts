import { id, type K8sObject } from './render.js';
import { serviceOfImage } from './repo.js';
import type { Problems } from './rules.js';
import { workloads } from './workloads.js';

/**
 * The backtest pods (API and worker) are the ones that use S3, and the README tells operators to
 * give them a cloud identity (IRSA) rather than keys: that needs a ServiceAccount of their own to
 * annotate. Both run under the same rendered ServiceAccount, not `default` (every pod of the
 * namespace shares it) and not trading's (bound to the Lease Role); it mounts no API token and no
 * RoleBinding names it. Every serviceAccountName of any pod names a rendered ServiceAccount.
 */
export function checkServiceAccounts(objects: K8sObject[]): Problems {
  const problems: Problems = [];
  const accounts = new Map(objects.filter((o) => o.kind === 'ServiceAccount').map((o) => [o.metadata.name, o]));
  for (const w of workloads(objects)) {
    const name = w.pod.serviceAccountName;
    if (name !== undefined && name !== 'default' && !accounts.has(name)) {
      problems.push(`${w.id}: ServiceAccount ${name} is not rendered`);
    }
  }
  const backtest = workloads(objects).filter(
    (w) => w.longRunning && w.pod.containers.some((c) => serviceOfImage(c.image) === 'backtest'),
  );
  const names = new Set(backtest.map((w) => w.pod.serviceAccountName));
  if (backtest.length > 0 && names.size !== 1) {
    problems.push(`the backtest pods run under ${names.size} ServiceAccounts (${[...names].join(', ')}), expected one`);
  }
  const trading = new Set(
    workloads(objects)
      .filter((w) => w.pod.containers.some((c) => serviceOfImage(c.image) === 'trading'))
      .map((w) => w.pod.serviceAccountName),
  );
  for (const w of backtest) {
    const name = w.pod.serviceAccountName;
    if (name === undefined || name === 'default') {
      problems.push(
        `${w.id}: runs under the namespace's default ServiceAccount (nothing of its own to annotate for S3)`,
      );
      continue;
    }
    if (trading.has(name)) {
      problems.push(`${w.id}: runs under trading's ServiceAccount ${name}`);
    }
    const account = accounts.get(name);
    if (account !== undefined && account.automountServiceAccountToken !== false) {
      problems.push(
        `${id(account)}: must set automountServiceAccountToken: false (the backtest pods need no API token)`,
      );
    }
  }
  for (const binding of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    for (const s of (binding.subjects as { kind: string; name: string }[] | undefined) ?? []) {
      if (s.kind === 'ServiceAccount' && names.has(s.name)) {
        problems.push(`${id(binding)}: binds the backtest pods' ServiceAccount ${s.name}`);
      }
    }
  }
  return problems;
}
