import type { K8sObject } from './render.js';
import { allowedFlows, releasePods } from './network-policy.js';
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
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  volumes?: unknown;
  containers: Array<Record<string, unknown>>;
}

/** The role of an object in both renderings: `stocklab-trading` (chart) and `trading` (kustomize). */
const roleOf = (name: string, prefix: string): string => name.replace(new RegExp(`^${prefix}`), '');

function byRole(objects: K8sObject[], kind: string, prefix: string): Map<string, K8sObject> {
  return new Map(objects.filter((o) => o.kind === kind).map((o) => [roleOf(o.metadata.name, prefix), o]));
}

/** What the same Deployment must have in both renderings (images, names and labels aside). */
const DEPLOYMENT_PARTS: Array<[string, (pod: PodTemplate, role: (name: string) => string) => unknown]> = [
  ['terminationGracePeriodSeconds', (pod) => pod.terminationGracePeriodSeconds],
  ['pod securityContext', (pod) => pod.securityContext],
  [
    'service account',
    (pod, role) => [pod.serviceAccountName && role(pod.serviceAccountName), pod.automountServiceAccountToken],
  ],
  ['volumes', (pod) => pod.volumes],
  ['container resources', (pod) => pod.containers.map((c) => c.resources)],
  ['container securityContext', (pod) => pod.containers.map((c) => c.securityContext)],
  ['container volumeMounts', (pod) => pod.containers.map((c) => c.volumeMounts)],
  ['probes', (pod) => pod.containers.map((c) => [c.startupProbe, c.livenessProbe, c.readinessProbe])],
  ['container command', (pod) => pod.containers.map((c) => c.command)],
];

/**
 * The chart against kustomize's prod overlay, the two ways this platform is deployed: the same
 * Deployments with the same grace periods, service accounts, volumes, resources, security
 * contexts, probes and commands, the same ServiceAccounts, autoscaling behaviour and disruption
 * budgets, the Ingress body-size limit, and NetworkPolicies allowing the same flows to and from
 * the pods both render. Each difference is a problem naming the object and the part.
 */
export function checkChartParity(chart: K8sObject[], kustomizeProd: K8sObject[], chartPrefix = 'stocklab-'): Problems {
  const problems: Problems = [];
  const chartRole = (name: string): string => roleOf(name, chartPrefix);
  const compare = (kind: string, parts: Array<[string, (o: K8sObject, role: (name: string) => string) => unknown]>) => {
    const ours = byRole(chart, kind, chartPrefix);
    for (const [role, theirs] of byRole(kustomizeProd, kind, '')) {
      const mine = ours.get(role);
      if (!mine) {
        problems.push(`${kind} ${role}: in kustomize prod, not in the chart`);
        continue;
      }
      for (const [part, read] of parts) {
        const [a, b] = [canonical(read(mine, chartRole)), canonical(read(theirs, (name) => name))];
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
    DEPLOYMENT_PARTS.map(([part, read]): [string, (o: K8sObject, role: (name: string) => string) => unknown] => [
      part,
      (o, role) => read(podOf(o), role),
    ]),
  );
  compare('ServiceAccount', [
    ['automountServiceAccountToken', (o) => o.automountServiceAccountToken],
    ['annotations', (o) => o.metadata.annotations],
  ]);
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
  problems.push(...networkPolicyParity(chart, kustomizeProd, chartRole));
  return problems;
}

/**
 * The two renderings label their pods differently, so their NetworkPolicies compare by what they
 * allow: every flow into or out of a pod both render (by role), to or from each other and the
 * parties outside (network-policy.ts).
 */
function networkPolicyParity(chart: K8sObject[], kustomizeProd: K8sObject[], role: (name: string) => string): Problems {
  const names = (objects: K8sObject[]): Set<string> => new Set(releasePods(objects, role).map((p) => p.name));
  const [ours, theirs] = [names(chart), names(kustomizeProd)];
  const both = (pod: string): boolean => ours.has(pod) && theirs.has(pod);
  const [a, b] = [allowedFlows(chart, role, both), allowedFlows(kustomizeProd, role, both)];
  return [
    ...[...b].filter((f) => !a.has(f)).map((f) => `NetworkPolicy: ${f} allowed by kustomize prod, denied by the chart`),
    ...[...a].filter((f) => !b.has(f)).map((f) => `NetworkPolicy: ${f} allowed by the chart, denied by kustomize prod`),
  ];
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
