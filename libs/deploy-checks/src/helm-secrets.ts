import type { K8sObject } from './render.js';
import type { Problems } from './rules.js';
import { allContainers, workloads } from './workloads.js';

const HOOK = 'helm.sh/hook';

/**
 * The chart's Secrets, as a release lives with them: a Secret the long-running pods read is a
 * regular resource (a hook Secret is left behind by `helm uninstall`, deleted and recreated by
 * every upgrade while pods start, and not restored by a rollback) and those pods carry a
 * `checksum/secret` annotation (a changed Secret restarts them); a hook Job reads only Secrets
 * that exist when it runs: a hook Secret of a lower weight, or one provided out of band.
 */
export function checkChartSecrets(objects: K8sObject[], externalSecrets: string[]): Problems {
  const problems: Problems = [];
  const secrets = new Map(objects.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, o]));
  const weight = (o: K8sObject): number => Number(o.metadata.annotations?.['helm.sh/hook-weight'] ?? 0);
  for (const w of workloads(objects)) {
    const read = new Set(
      allContainers(w.pod).flatMap((c) => [
        ...(c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.name] : [])),
        ...(c.envFrom ?? []).flatMap((f) => (f.secretRef ? [f.secretRef.name] : [])),
      ]),
    );
    const isHook = w.object.metadata.annotations?.[HOOK] !== undefined;
    for (const name of read) {
      const secret = secrets.get(name);
      if (!secret) {
        continue; // provided out of band (checkReferences says whether that is declared)
      }
      const secretIsHook = secret.metadata.annotations?.[HOOK] !== undefined;
      if (isHook && !(secretIsHook && weight(secret) < weight(w.object)) && !externalSecrets.includes(name)) {
        problems.push(`${w.id}: a hook reading Secret ${name}, which does not exist yet when the hook runs on install`);
      }
      if (!isHook && w.longRunning) {
        if (secretIsHook) {
          problems.push(`${w.id}: reads Secret ${name}, a helm hook (left by uninstall, recreated by every upgrade)`);
        }
        const podAnnotations = (
          w.object as unknown as { spec: { template: { metadata?: { annotations?: Record<string, string> } } } }
        ).spec.template.metadata?.annotations;
        if (podAnnotations?.['checksum/secret'] === undefined) {
          problems.push(
            `${w.id}: reads the chart's Secret ${name} without a checksum/secret annotation (a change would not restart it)`,
          );
        }
      }
    }
  }
  return problems;
}
