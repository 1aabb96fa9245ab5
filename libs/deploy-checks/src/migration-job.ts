import { isDeepStrictEqual } from 'node:util';
import { id, type K8sObject } from './render.js';
import { serviceOfImage } from './repo.js';
import type { Problems } from './rules.js';
import { allContainers, workloads } from './workloads.js';

/** The kustomize migration Job's name: this prefix, then the release with its dots as dashes. */
export const MIGRATION_JOB_PREFIX = 'stocklab-migrate-';
const MIGRATIONS = 'migrations';

/** "ghcr.io/stocklab/auth:0.2.0" -> "0.2.0"; undefined for a digest or no tag. */
function tagOf(image: string): string | undefined {
  const match = /^[^@]+:([\w][\w.-]{0,127})$/.exec(image);
  return match?.[1];
}

/** "0.2.0" -> "0-2-0": a Job's name becomes its pods' host names, where a DNS label is expected. */
export function releaseSuffix(tag: string): string {
  return tag.toLowerCase().replace(/[^a-z0-9-]/g, '-');
}

export function migrationJobs(objects: K8sObject[]): K8sObject[] {
  return objects.filter((o) => o.kind === 'Job' && o.metadata.labels?.['app.kubernetes.io/component'] === MIGRATIONS);
}

/**
 * kustomize has no hooks: `kubectl apply -k` sends the Job with everything else, and a Job's pod
 * template is immutable. So the Job is run once per release by its name: one migration Job named
 * `stocklab-migrate-<release>`, the one tag every StockLab image of the render carries (a new
 * release is a new Job; re-applying the same release leaves the finished Job alone). The
 * Deployments roll out at the same time, so they must not lose serving pods to it: maxUnavailable
 * 0 keeps the old pods until new ones are ready, which the readiness' schema check holds back
 * until the Job has migrated.
 */
export function checkMigrationRelease(objects: K8sObject[]): Problems {
  const problems: Problems = [];
  const jobs = migrationJobs(objects);
  if (jobs.length !== 1) {
    return [`expected one migration Job (label app.kubernetes.io/component=${MIGRATIONS}), found ${jobs.length}`];
  }
  const tags = new Set<string>();
  for (const w of workloads(objects)) {
    for (const c of allContainers(w.pod).filter((x) => serviceOfImage(x.image) !== undefined)) {
      const tag = tagOf(c.image);
      if (tag === undefined) {
        problems.push(`${w.id} ${c.name}: ${c.image} has no tag to name the release by`);
      } else {
        tags.add(tag);
      }
    }
    const rolling = (w.object.spec as { strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: unknown } } })
      .strategy;
    const ours = w.pod.containers.some((c) => serviceOfImage(c.image) !== undefined);
    const keepsServing = rolling?.type === 'RollingUpdate' && rolling.rollingUpdate?.maxUnavailable === 0;
    if (w.object.kind === 'Deployment' && ours && !keepsServing) {
      problems.push(`${w.id}: must roll out with maxUnavailable 0 (old pods serve while new ones wait for the schema)`);
    }
  }
  if (tags.size !== 1) {
    problems.push(`the StockLab images carry ${tags.size} tags (${[...tags].join(', ')}): one release, one tag`);
  }
  const [job] = jobs;
  const expected = [...tags].map((t) => `${MIGRATION_JOB_PREFIX}${releaseSuffix(t)}`);
  if (job !== undefined && tags.size === 1 && job.metadata.name !== expected[0]) {
    problems.push(`${id(job)}: must be named ${String(expected[0])} after the release its images carry`);
  }
  return problems;
}

/**
 * What `kubectl apply` of `after` over `before` would be refused for: a Job that keeps its name
 * with a different spec (the API server rejects any change of spec.template, and ttlSecondsAfterFinished
 * keeps a finished Job around for a day).
 */
export function immutableJobChanges(before: K8sObject[], after: K8sObject[]): Problems {
  const problems: Problems = [];
  for (const job of after.filter((o) => o.kind === 'Job')) {
    const old = before.find((o) => o.kind === 'Job' && o.metadata.name === job.metadata.name);
    const template = (o: K8sObject): unknown => (o.spec as { template?: unknown }).template;
    if (old !== undefined && !isDeepStrictEqual(template(old), template(job))) {
      problems.push(`${id(job)}: same name, different pod template: kubectl apply would be refused`);
    }
  }
  return problems;
}
