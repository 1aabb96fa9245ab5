import type { K8sObject } from './render.js';
import type { Problems } from './rules.js';

/** JSON with sorted keys: two renderings that differ only in key order compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

interface PodTemplate {
  terminationGracePeriodSeconds?: number;
  securityContext?: unknown;
  containers: Array<Record<string, unknown>>;
}

/** The role of an object in both renderings: `stocklab-trading` (chart) and `trading` (kustomize). */
const roleOf = (o: K8sObject, prefix: string): string => o.metadata.name.replace(new RegExp(`^${prefix}`), '');

function byRole(objects: K8sObject[], kind: string, prefix: string): Map<string, K8sObject> {
  return new Map(objects.filter((o) => o.kind === kind).map((o) => [roleOf(o, prefix), o]));
}

/** What the same Deployment must have in both renderings (images, names and labels aside). */
const DEPLOYMENT_PARTS: Array<[string, (pod: PodTemplate) => unknown]> = [
  ['terminationGracePeriodSeconds', (pod) => pod.terminationGracePeriodSeconds],
  ['pod securityContext', (pod) => pod.securityContext],
  ['container resources', (pod) => pod.containers.map((c) => c.resources)],
  ['container securityContext', (pod) => pod.containers.map((c) => c.securityContext)],
  ['probes', (pod) => pod.containers.map((c) => [c.startupProbe, c.livenessProbe, c.readinessProbe])],
  ['container command', (pod) => pod.containers.map((c) => c.command)],
];

/**
 * The chart against kustomize's prod overlay, the two ways this platform is deployed: the same
 * Deployments with the same grace periods, resources, security contexts, probes and commands, the
 * same autoscaling behaviour and disruption budgets, and the Ingress body-size limit. Each
 * difference is a problem naming the object and the part.
 */
export function checkChartParity(chart: K8sObject[], kustomizeProd: K8sObject[], chartPrefix = 'stocklab-'): Problems {
  const problems: Problems = [];
  const compare = (kind: string, parts: Array<[string, (o: K8sObject) => unknown]>) => {
    const ours = byRole(chart, kind, chartPrefix);
    for (const [role, theirs] of byRole(kustomizeProd, kind, '')) {
      const mine = ours.get(role);
      if (!mine) {
        problems.push(`${kind} ${role}: in kustomize prod, not in the chart`);
        continue;
      }
      for (const [part, read] of parts) {
        const [a, b] = [canonical(read(mine)), canonical(read(theirs))];
        if (a !== b) {
          problems.push(`${kind} ${role}: ${part} differs: chart ${a} / kustomize ${b}`);
        }
      }
    }
  };
  const podOf = (o: K8sObject): PodTemplate =>
    (o as unknown as { spec: { template: { spec: PodTemplate } } }).spec.template.spec;
  compare(
    'Deployment',
    DEPLOYMENT_PARTS.map(([part, read]): [string, (o: K8sObject) => unknown] => [part, (o) => read(podOf(o))]),
  );
  const spec = (o: K8sObject): Record<string, unknown> => (o as unknown as { spec: Record<string, unknown> }).spec;
  compare('HorizontalPodAutoscaler', [
    ['behavior', (o) => spec(o).behavior],
    ['metrics', (o) => spec(o).metrics],
  ]);
  compare('PodDisruptionBudget', [['maxUnavailable', (o) => spec(o).maxUnavailable]]);

  const bodySize = (objects: K8sObject[]) =>
    objects
      .filter((o) => o.kind === 'Ingress')
      .map((o) => o.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size']);
  const [mine, theirs] = [bodySize(chart), bodySize(kustomizeProd)];
  if (canonical(mine) !== canonical(theirs)) {
    problems.push(`Ingress proxy-body-size differs: chart ${canonical(mine)} / kustomize ${canonical(theirs)}`);
  }
  return problems;
}

/**
 * An nginx Ingress must let through the largest upload the backtest service accepts: its 1 MiB
 * default answers 413 to every dataset upload.
 */
export function checkIngressBodySize(objects: K8sObject[], maxUploadBytes: number): Problems {
  const problems: Problems = [];
  for (const o of objects.filter((x) => x.kind === 'Ingress')) {
    const className = (o as unknown as { spec?: { ingressClassName?: string } }).spec?.ingressClassName;
    if (className !== undefined && className !== 'nginx') {
      continue;
    }
    const size = o.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size'];
    if (size === undefined) {
      problems.push(
        `Ingress ${o.metadata.name}: no nginx.ingress.kubernetes.io/proxy-body-size (nginx's default 1m refuses uploads)`,
      );
    } else if (size !== '0' && !(nginxSize(size) >= maxUploadBytes)) {
      problems.push(
        `Ingress ${o.metadata.name}: proxy-body-size ${size} is under the ${maxUploadBytes} bytes an upload may have`,
      );
    }
  }
  return problems;
}

/** nginx's size syntax (client_max_body_size): bytes, or k/m/g for KiB, MiB, GiB. */
export function nginxSize(size: string): number {
  const match = /^(\d+)([kKmMgG]?)$/.exec(size);
  if (!match) {
    return Number.NaN;
  }
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[(match[2] ?? '').toLowerCase()] ?? Number.NaN;
  return Number(match[1]) * unit;
}
