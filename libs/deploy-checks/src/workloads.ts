import type { K8sObject } from './render.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string };
  };
}
export interface Probe {
  httpGet?: { path?: string; port: string | number };
  exec?: { command?: string[] };
  tcpSocket?: { port: string | number };
}
export interface SecurityContext {
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds: number } } };
  securityContext?: SecurityContext;
  volumeMounts?: VolumeMount[];
}
export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}
export interface Volume {
  name: string;
  configMap?: { name: string; items?: { key: string; path: string }[] };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  emptyDir?: { sizeLimit?: string };
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: SecurityContext;
  volumes?: Volume[];
  topologySpreadConstraints?: {
    topologyKey: string;
    labelSelector?: { matchLabels?: Record<string, string> };
  }[];
}
export interface Workload {
  object: K8sObject;
  /** "Deployment/auth", "CronJob/trading-select" */
  id: string;
  podLabels: Record<string, string>;
  pod: PodSpec;
  /** serves traffic continuously (Deployment, StatefulSet) rather than running to completion */
  longRunning: boolean;
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: PodSpec;
}

/** The pod template of every workload kind we ship. */
export function workloads(objects: K8sObject[]): Workload[] {
  const out: Workload[] = [];
  for (const o of objects) {
    const spec = o.spec as Record<string, unknown> | undefined;
    let template: PodTemplate | undefined;
    let longRunning = false;
    switch (o.kind) {
      case 'Deployment':
      case 'StatefulSet':
      case 'DaemonSet':
        template = spec?.template as PodTemplate;
        longRunning = true;
        break;
      case 'Job':
        template = spec?.template as PodTemplate;
        break;
      case 'CronJob':
        template = (spec?.jobTemplate as { spec: { template: PodTemplate } }).spec.template;
        break;
      default:
        break;
    }
    if (template !== undefined) {
      out.push({
        object: o,
        id: `${o.kind}/${o.metadata.name}`,
        podLabels: template.metadata?.labels ?? {},
        pod: template.spec,
        longRunning,
      });
    }
  }
  return out;
}

export function allContainers(pod: PodSpec): Container[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

/** matchLabels selection: every selector pair is among the labels (an empty selector selects nothing here). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const pairs = Object.entries(selector ?? {});
  return pairs.length > 0 && pairs.every(([k, v]) => labels[k] === v);
}

/** "250m" -> 0.25, "1" -> 1 (CPU cores) */
export function cpuCores(quantity: string): number {
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** "512Mi" -> bytes */
export function bytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGT]i|[kMGT])?$/.exec(quantity);
  if (match?.[1] === undefined) {
    return Number.NaN;
  }
  const unit = match[2];
  return Number(match[1]) * (unit === undefined ? 1 : (BINARY[unit] ?? DECIMAL[unit] ?? Number.NaN));
}
