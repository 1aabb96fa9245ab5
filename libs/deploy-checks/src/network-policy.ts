import type { K8sObject } from './render.js';
import { allContainers, workloads, type PodSpec } from './workloads.js';

/**
 * What NetworkPolicies allow, evaluated offline with the API's semantics: a pod selected by a
 * policy of a direction is isolated in that direction and admits only what one of those policies'
 * rules allows (peers and ports); a pod no policy selects admits everything. Two renderings that
 * label their pods differently (the chart, kustomize) compare by the flows they allow.
 */

interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Requirement[];
}
interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string };
}
interface PolicyPort {
  port?: number | string;
  endPort?: number;
  protocol?: string;
}
interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: PolicyPort[];
}
interface PolicySpec {
  podSelector: LabelSelector;
  policyTypes?: Direction[];
  ingress?: Rule[];
  egress?: Rule[];
}
type Direction = 'Ingress' | 'Egress';

export interface Port {
  name?: string;
  port: number;
  protocol: string;
}

/** A party to a flow: a pod of the rendering (inRelease), or one of the outside parties below. */
export interface Endpoint {
  name: string;
  /** the labels of its namespace; undefined: not a pod (an address outside the cluster) */
  namespace?: Record<string, string>;
  labels: Record<string, string>;
  inRelease: boolean;
  ports: Port[];
}

const NS = 'kubernetes.io/metadata.name';
const tcp = (...ports: number[]): Port[] => ports.map((port) => ({ port, protocol: 'TCP' }));

/**
 * The parties the platform's policies talk about: the ingress controller and Prometheus in their
 * usual namespaces, cluster DNS, a pod of some other namespace, and the managed services outside
 * the cluster (PostgreSQL, Redis, S3 and the API server's ports, and one no rule should open).
 */
export const OUTSIDE_PARTIES: Endpoint[] = [
  {
    name: 'ingress-nginx',
    namespace: { [NS]: 'ingress-nginx' },
    labels: { 'app.kubernetes.io/name': 'ingress-nginx' },
    inRelease: false,
    ports: [],
  },
  {
    name: 'prometheus',
    namespace: { [NS]: 'monitoring' },
    labels: { 'app.kubernetes.io/name': 'prometheus' },
    inRelease: false,
    ports: [],
  },
  {
    name: 'kube-dns',
    namespace: { [NS]: 'kube-system' },
    labels: { 'k8s-app': 'kube-dns' },
    inRelease: false,
    ports: [
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ],
  },
  { name: 'another namespace', namespace: { [NS]: 'elsewhere' }, labels: {}, inRelease: false, ports: tcp(3001) },
  { name: 'outside the cluster', labels: {}, inRelease: false, ports: tcp(80, 443, 5432, 6379, 6380, 6443) },
];

/** Label selector semantics of the API: an empty selector selects everything. */
export function matches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  const pairs = Object.entries(selector?.matchLabels ?? {});
  return (
    pairs.every(([k, v]) => labels[k] === v) &&
    (selector?.matchExpressions ?? []).every((r) => {
      const has = Object.hasOwn(labels, r.key);
      switch (r.operator) {
        case 'In':
          return has && (r.values ?? []).includes(labels[r.key] ?? '');
        case 'NotIn':
          return !has || !(r.values ?? []).includes(labels[r.key] ?? '');
        case 'Exists':
          return has;
        case 'DoesNotExist':
          return !has;
        default:
          return false;
      }
    })
  );
}

/**
 * A peer: pods of the policy's namespace (podSelector alone), of the selected namespaces, or an
 * ipBlock, taken to match addresses outside the cluster only (pod addresses are not stable enough
 * to be named by CIDR, and our policies do not try).
 */
function peerMatches(peer: Peer, other: Endpoint): boolean {
  if (peer.ipBlock !== undefined) {
    return other.namespace === undefined;
  }
  if (other.namespace === undefined) {
    return false;
  }
  if (peer.namespaceSelector === undefined ? !other.inRelease : !matches(peer.namespaceSelector, other.namespace)) {
    return false;
  }
  return peer.podSelector === undefined || matches(peer.podSelector, other.labels);
}

/** A rule's ports against a port of the destination: a named port is the destination pod's. */
function portMatches(ports: PolicyPort[] | undefined, port: Port): boolean {
  if (ports === undefined || ports.length === 0) {
    return true;
  }
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== port.protocol) {
      return false;
    }
    if (p.port === undefined) {
      return true;
    }
    if (typeof p.port === 'string') {
      return p.port === port.name;
    }
    return port.port === p.port || (p.endPort !== undefined && port.port > p.port && port.port <= p.endPort);
  });
}

const specOf = (o: K8sObject): PolicySpec => o.spec as PolicySpec;
const typesOf = (spec: PolicySpec): Direction[] =>
  spec.policyTypes ?? (spec.egress === undefined ? ['Ingress'] : ['Ingress', 'Egress']);

/**
 * Whether the policies let traffic pass between a pod of the release and another party, in a
 * direction seen from that pod (Ingress: `other` connects to `port` of `pod`; Egress: `pod`
 * connects to `port` of `other`).
 */
function allowed(policies: PolicySpec[], direction: Direction, pod: Endpoint, other: Endpoint, port: Port): boolean {
  const isolating = policies.filter((p) => typesOf(p).includes(direction) && matches(p.podSelector, pod.labels));
  if (isolating.length === 0) {
    return true;
  }
  return isolating.some((p) =>
    (direction === 'Ingress' ? (p.ingress ?? []) : (p.egress ?? [])).some((rule) => {
      const peers = direction === 'Ingress' ? rule.from : rule.to;
      return (
        (peers === undefined || peers.length === 0 || peers.some((peer) => peerMatches(peer, other))) &&
        portMatches(rule.ports, port)
      );
    }),
  );
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: PodSpec;
}

/** The pods of a rendering (workloads' templates and bare Pods), named by `role` of their owner's name. */
export function releasePods(objects: K8sObject[], role: (name: string) => string): Endpoint[] {
  const pods: { name: string; labels: Record<string, string>; spec: PodSpec }[] = [
    ...workloads(objects).map((w) => ({ name: w.object.metadata.name, labels: w.podLabels, spec: w.pod })),
    ...objects
      .filter((o) => o.kind === 'Pod')
      .map((o) => ({
        name: o.metadata.name,
        labels: o.metadata.labels ?? {},
        spec: (o as unknown as PodTemplate).spec,
      })),
  ];
  return pods.map((p) => ({
    name: role(p.name),
    namespace: { [NS]: 'release' },
    labels: p.labels,
    inRelease: true,
    ports: allContainers(p.spec).flatMap((c) =>
      (c.ports ?? []).map((port) => ({
        port: port.containerPort,
        protocol: port.protocol ?? 'TCP',
        ...(port.name === undefined ? {} : { name: port.name }),
      })),
    ),
  }));
}

/**
 * Every flow the rendering's policies allow into and out of its pods, as text:
 * "ingress ingress-nginx -> auth:3001/TCP", "egress trading -> outside the cluster:443/TCP".
 */
export function allowedFlows(
  objects: K8sObject[],
  role: (name: string) => string,
  only: (pod: string) => boolean = () => true,
): Set<string> {
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map(specOf);
  const pods = releasePods(objects, role).filter((p) => only(p.name));
  const parties = [...pods, ...OUTSIDE_PARTIES];
  const flows = new Set<string>();
  for (const pod of pods) {
    for (const other of parties) {
      for (const port of pod.ports) {
        if (allowed(policies, 'Ingress', pod, other, port)) {
          flows.add(`ingress ${other.name} -> ${pod.name}:${port.port}/${port.protocol}`);
        }
      }
      for (const port of other.ports) {
        if (allowed(policies, 'Egress', pod, other, port)) {
          flows.add(`egress ${pod.name} -> ${other.name}:${port.port}/${port.protocol}`);
        }
      }
    }
  }
  return flows;
}

/** Whether one pod of the rendering may open a connection to another's port: its egress and the other's ingress. */
export function reaches(
  objects: K8sObject[],
  role: (name: string) => string,
  from: string,
  to: string,
  port: number,
): boolean {
  const flows = allowedFlows(objects, role);
  return flows.has(`egress ${from} -> ${to}:${port}/TCP`) && flows.has(`ingress ${from} -> ${to}:${port}/TCP`);
}
