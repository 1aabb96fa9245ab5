import { posix } from 'node:path';
import type { K8sObject } from './render.js';
import type { Problems } from './rules.js';
import { allContainers, workloads } from './workloads.js';

/**
 * With the CA bundle of PostgreSQL's certificate configured, every container that reads
 * DATABASE_URL trusts it: NODE_EXTRA_CA_CERTS (read by Node at start; node-postgres verifies the
 * server with Node's TLS defaults, which it extends) names a file inside a read-only mount of a
 * ConfigMap or Secret volume that has that file. A container left out fails its TLS handshake
 * (the managed database's CA is not among Node's).
 */
export function checkDatabaseCa(objects: K8sObject[]): Problems {
  const problems: Problems = [];
  for (const w of workloads(objects)) {
    for (const c of allContainers(w.pod)) {
      if (!(c.env ?? []).some((e) => e.name === 'DATABASE_URL')) {
        continue;
      }
      const where = `${w.id} container ${c.name}`;
      const file = (c.env ?? []).find((e) => e.name === 'NODE_EXTRA_CA_CERTS')?.value;
      if (file === undefined || !posix.isAbsolute(file)) {
        problems.push(`${where}: reads DATABASE_URL without NODE_EXTRA_CA_CERTS naming the database CA bundle`);
        continue;
      }
      const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`));
      if (mount === undefined) {
        problems.push(`${where}: NODE_EXTRA_CA_CERTS ${file} is in no volume mount`);
        continue;
      }
      if (mount.readOnly !== true) {
        problems.push(`${where}: the CA bundle's mount ${mount.mountPath} must be readOnly`);
      }
      const volume = (w.pod.volumes ?? []).find((v) => v.name === mount.name);
      const items = volume?.configMap?.items ?? volume?.secret?.items;
      const inside = posix.relative(mount.mountPath, file);
      if (volume?.configMap === undefined && volume?.secret === undefined) {
        problems.push(`${where}: the CA bundle's volume ${mount.name} is not a ConfigMap or a Secret`);
      } else if (items !== undefined && !items.some((i) => i.path === inside)) {
        problems.push(
          `${where}: volume ${mount.name} has no ${inside} (items: ${items.map((i) => i.path).join(', ')})`,
        );
      }
    }
  }
  return problems;
}
