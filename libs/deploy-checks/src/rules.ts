import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { id, type K8sObject } from './render.js';
import { repoRoot, serviceOfImage, SERVICES, type ServiceName } from './repo.js';
import { PLATFORM_PROVIDED_ENV, type ConfigSchemaLike } from './service-config.js';
import { allContainers, selects, workloads, type Container, type Probe, type Workload } from './workloads.js';

/** Every rule returns the list of problems it found (empty: the rule holds). */
export type Problems = string[];

const LEASE_VERBS = new Set(['get', 'create', 'update']);
const ZONE = 'topology.kubernetes.io/zone';
const HOST = 'kubernetes.io/hostname';

/** Every container: requests and limits for CPU and memory, and the hardened securityContext. */
export function checkResourcesAndSecurity(objects: K8sObject[]): Problems {
  const problems: Problems = [];
  for (const w of workloads(objects)) {
    const pod = w.pod.securityContext ?? {};
    for (const c of allContainers(w.pod)) {
      const where = `${w.id} container ${c.name}`;
      for (const kind of ['requests', 'limits'] as const) {
        for (const resource of ['cpu', 'memory']) {
          if (c.resources?.[kind]?.[resource] === undefined) {
            problems.push(`${where}: no ${kind}.${resource}`);
          }
        }
      }
      const sc = c.securityContext ?? {};
      if (sc.allowPrivilegeEscalation !== false) {
        problems.push(`${where}: allowPrivilegeEscalation must be false`);
      }
      if (sc.readOnlyRootFilesystem !== true) {
        problems.push(`${where}: readOnlyRootFilesystem must be true`);
      }
      if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) {
        problems.push(`${where}: runAsNonRoot must be true`);
      }
      if ((sc.runAsUser ?? pod.runAsUser) === 0) {
        problems.push(`${where}: runs as uid 0`);
      }
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) {
        problems.push(`${where}: capabilities must drop ALL`);
      }
      if ((sc.capabilities?.add ?? []).length > 0) {
        problems.push(`${where}: adds capabilities ${sc.capabilities?.add?.join(', ')}`);
      }
      if ((sc.seccompProfile?.type ?? pod.seccompProfile?.type) !== 'RuntimeDefault') {
        problems.push(`${where}: seccompProfile must be RuntimeDefault`);
      }
    }
  }
  return problems;
}

/** Images carry an explicit tag or digest, never latest. */
export function checkImages(objects: K8sObject[]): Problems {
  return workloads(objects).flatMap((w) =>
    imageProblems(allContainers(w.pod).map((c) => [`${w.id} ${c.name}`, c.image])),
  );
}

export function imageProblems(images: [where: string, image: string][]): Problems {
  const problems: Problems = [];
  for (const [where, image] of images) {
    const digest = image.includes('@sha256:');
    const tag = /:([^/:@]+)$/.exec(image.split('@')[0] ?? '')?.[1];
    if (!digest && tag === undefined) {
      problems.push(`${where}: image ${image} has no tag`);
    } else if (tag === 'latest' || tag === 'stable' || tag === 'mainline') {
      problems.push(`${where}: image ${image} uses a floating tag`);
    }
  }
  return problems;
}

function probePort(c: Container, probe: Probe): boolean {
  const port = probe.httpGet?.port;
  return (c.ports ?? []).some((p) => p.name === port || p.containerPort === port);
}

/**
 * Service containers of long-running workloads: startup and liveness probes on the liveness route,
 * readiness on the readiness route, both among the routes the platform really serves, on a
 * declared port. Liveness never checks dependencies (a Redis outage must not restart every pod).
 */
export function checkProbes(objects: K8sObject[], served: string[]): Problems {
  const problems: Problems = [];
  const live = served.find((p) => p.endsWith('/live'));
  const ready = served.find((p) => p.endsWith('/ready'));
  for (const w of workloads(objects).filter((x) => x.longRunning)) {
    for (const c of w.pod.containers.filter((x) => serviceOfImage(x.image) !== undefined)) {
      const where = `${w.id} container ${c.name}`;
      const expected: [keyof Container, string | undefined][] = [
        ['startupProbe', live],
        ['livenessProbe', live],
        ['readinessProbe', ready],
      ];
      for (const [field, path] of expected) {
        const probe = c[field] as Probe | undefined;
        if (probe === undefined) {
          problems.push(`${where}: no ${field}`);
          continue;
        }
        const actual = probe.httpGet?.path;
        if (actual === undefined || !served.includes(actual)) {
          problems.push(`${where}: ${field} path ${String(actual)} is not served (served: ${served.join(', ')})`);
        } else if (actual !== path) {
          problems.push(`${where}: ${field} must use ${String(path)}, not ${actual}`);
        }
        if (!probePort(c, probe)) {
          problems.push(`${where}: ${field} port ${String(probe.httpGet?.port)} is not a container port`);
        }
      }
    }
  }
  return problems;
}

function deployments(objects: K8sObject[]): Workload[] {
  return workloads(objects).filter((w) => w.object.kind === 'Deployment');
}

function matchLabelsOf(o: K8sObject): Record<string, string> | undefined {
  const spec = o.spec as { selector?: Record<string, string> & { matchLabels?: Record<string, string> } };
  return o.kind === 'Service' ? spec.selector : spec.selector?.matchLabels;
}

/**
 * Services and PodDisruptionBudgets select the pods of exactly one Deployment; HPAs and
 * ScaledObjects target an existing Deployment; Service target ports are container ports;
 * every service Deployment has an autoscaler and a PDB with maxUnavailable 1, and no fixed replicas.
 */
export function checkSelectors(objects: K8sObject[]): Problems {
  const problems: Problems = [];
  const deps = deployments(objects);
  const byName = new Map(deps.map((d) => [d.object.metadata.name, d]));
  for (const o of objects.filter((x) => x.kind === 'Service' || x.kind === 'PodDisruptionBudget')) {
    const selected = deps.filter((d) => selects(matchLabelsOf(o), d.podLabels));
    if (selected.length !== 1) {
      problems.push(
        `${id(o)}: selects ${selected.length} Deployments (${selected.map((d) => d.id).join(', ')}), expected 1`,
      );
      continue;
    }
    if (o.kind === 'Service') {
      const runsOther = (selected[0]?.pod.containers ?? []).find((c) =>
        [...(c.command ?? []), ...(c.args ?? [])].some((a) => /^dist\/.+\.js$/.test(a) && a !== 'dist/bundle/main.js'),
      );
      if (runsOther !== undefined) {
        problems.push(
          `${id(o)}: selects ${selected[0]?.id}, whose pods do not serve the API (not dist/bundle/main.js)`,
        );
      }
      const ports = (o.spec as { ports: { name?: string; port: number; targetPort?: string | number }[] }).ports;
      const containers = selected[0]?.pod.containers ?? [];
      for (const port of ports) {
        const target = port.targetPort ?? port.port;
        const found = containers.some((c) =>
          (c.ports ?? []).some((p) => p.name === target || p.containerPort === target),
        );
        if (!found) {
          problems.push(`${id(o)}: targetPort ${String(target)} is not a port of ${selected[0]?.id}`);
        }
      }
    } else if ((o.spec as { maxUnavailable?: unknown }).maxUnavailable !== 1) {
      problems.push(`${id(o)}: maxUnavailable must be 1`);
    }
  }
  const scaled = new Set<string>();
  for (const o of objects.filter((x) => x.kind === 'HorizontalPodAutoscaler' || x.kind === 'ScaledObject')) {
    const ref = (o.spec as { scaleTargetRef: { kind?: string; name: string } }).scaleTargetRef;
    if ((ref.kind ?? 'Deployment') !== 'Deployment' || !byName.has(ref.name)) {
      problems.push(`${id(o)}: scaleTargetRef ${ref.kind ?? 'Deployment'}/${ref.name} does not exist`);
    }
    if (scaled.has(ref.name)) {
      problems.push(`${id(o)}: Deployment/${ref.name} has two autoscalers`);
    }
    scaled.add(ref.name);
  }
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
  for (const d of deps.filter((x) => x.pod.containers.some((c) => serviceOfImage(c.image) !== undefined))) {
    if (!scaled.has(d.object.metadata.name)) {
      problems.push(`${d.id}: no HorizontalPodAutoscaler or ScaledObject`);
    } else if ((d.object.spec as { replicas?: number }).replicas !== undefined) {
      problems.push(`${d.id}: sets replicas although an autoscaler owns them`);
    }
    if (!pdbs.some((p) => selects(matchLabelsOf(p), d.podLabels))) {
      problems.push(`${d.id}: no PodDisruptionBudget`);
    }
  }
  return problems;
}

interface HpaSpec {
  minReplicas?: number;
  maxReplicas: number;
  metrics?: { type: string; resource?: { name: string; target: { type: string; averageUtilization?: number } } }[];
  behavior?: { scaleDown?: { stabilizationWindowSeconds?: number; policies?: { type: string; value: number }[] } };
}

/** autoscaling/v2, minReplicas >= 2, CPU utilisation target 60-70 %, a slow scale-down. */
export function checkAutoscalers(objects: K8sObject[]): Problems {
  const problems: Problems = [];
  for (const o of objects.filter((x) => x.kind === 'HorizontalPodAutoscaler')) {
    const spec = o.spec as HpaSpec;
    if (o.apiVersion !== 'autoscaling/v2') {
      problems.push(`${id(o)}: must be autoscaling/v2`);
    }
    if ((spec.minReplicas ?? 1) < 2) {
      problems.push(`${id(o)}: minReplicas must be at least 2`);
    }
    const cpu = spec.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')?.resource?.target;
    if (
      cpu?.type !== 'Utilization' ||
      cpu.averageUtilization === undefined ||
      cpu.averageUtilization < 60 ||
      cpu.averageUtilization > 70
    ) {
      problems.push(`${id(o)}: CPU utilisation target must be 60-70 %`);
    }
    const down = spec.behavior?.scaleDown;
    if (
      (down?.stabilizationWindowSeconds ?? 0) < 300 ||
      !(down?.policies ?? []).some((p) => p.type === 'Pods' && p.value === 1)
    ) {
      problems.push(`${id(o)}: scale-down must be slow (window >= 300 s, one pod at a time)`);
    }
  }
  return problems;
}

/** Ingress paths: /api/<service> to that service's Service, on a port the Service exposes. */
export function ingressRoutes(objects: K8sObject[]): { path: string; service: string; port: number }[] {
  const routes: { path: string; service: string; port: number }[] = [];
  for (const ing of objects.filter((o) => o.kind === 'Ingress')) {
    const rules = (ing.spec as { rules?: { http?: { paths: IngressPath[] } }[] }).rules ?? [];
    for (const path of rules.flatMap((r) => r.http?.paths ?? [])) {
      const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === path.backend.service.name);
      const ports = (svc?.spec as { ports?: { name?: string; port: number }[] } | undefined)?.ports ?? [];
      const port = ports.find(
        (p) => p.name === path.backend.service.port.name || p.port === path.backend.service.port.number,
      );
      routes.push({ path: path.path, service: path.backend.service.name, port: port?.port ?? Number.NaN });
    }
  }
  return routes;
}
interface IngressPath {
  path: string;
  pathType: string;
  backend: { service: { name: string; port: { name?: string; number?: number } } };
}

export function checkIngress(objects: K8sObject[]): Problems {
  const problems: Problems = [];
  const routes = ingressRoutes(objects);
  for (const r of routes) {
    const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === r.service);
    if (svc === undefined) {
      problems.push(`Ingress ${r.path}: backend Service ${r.service} does not exist`);
      continue;
    }
    if (Number.isNaN(r.port)) {
      problems.push(`Ingress ${r.path}: backend port is not a port of Service ${r.service}`);
    }
    const target = /^\/api\/([a-z]+)$/.exec(r.path)?.[1];
    const pods = deployments(objects).filter((d) => selects(matchLabelsOf(svc), d.podLabels));
    const images = pods.flatMap((d) => d.pod.containers.map((c) => serviceOfImage(c.image)));
    if (target === undefined || !images.includes(target as ServiceName)) {
      problems.push(
        `Ingress ${r.path}: routes to Service ${r.service} whose pods are not the ${String(target)} service`,
      );
    }
  }
  for (const service of Object.keys(SERVICES)) {
    if (!routes.some((r) => r.path === `/api/${service}`)) {
      problems.push(`Ingress: no route for /api/${service}`);
    }
  }
  return problems;
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}

/**
 * Only trading talks to the Kubernetes API: one Role on coordination.k8s.io leases with verbs
 * among get/create/update, bound to trading's ServiceAccount only; no cluster-wide RBAC; every other
 * pod has automountServiceAccountToken: false.
 */
export function checkRbac(objects: K8sObject[], leaseName: string | undefined): Problems {
  const problems: Problems = [];
  for (const o of objects.filter((x) => x.kind === 'ClusterRole' || x.kind === 'ClusterRoleBinding')) {
    problems.push(`${id(o)}: no cluster-wide RBAC`);
  }
  const roles = objects.filter((o) => o.kind === 'Role');
  if (roles.length !== 1) {
    problems.push(`expected exactly one Role (trading's Lease access), found ${roles.length}`);
  }
  for (const role of roles) {
    const rules = (role.rules as PolicyRule[] | undefined) ?? [];
    for (const rule of rules) {
      const wrong =
        JSON.stringify(rule.apiGroups) !== '["coordination.k8s.io"]' ||
        JSON.stringify(rule.resources) !== '["leases"]' ||
        (rule.verbs ?? []).some((v) => !LEASE_VERBS.has(v));
      if (wrong) {
        problems.push(`${id(role)}: rule ${JSON.stringify(rule)} exceeds leases get/create/update`);
      }
      const named = (rule.verbs ?? []).some((v) => v === 'get' || v === 'update');
      if (named && (rule.resourceNames === undefined || rule.resourceNames.length === 0)) {
        // an empty list names nothing, so it restricts nothing: every Lease of the namespace
        problems.push(`${id(role)}: get/update on leases without a resourceNames entry grants every Lease`);
      }
      if (rule.resourceNames !== undefined && leaseName !== undefined && !rule.resourceNames.includes(leaseName)) {
        problems.push(
          `${id(role)}: resourceNames ${rule.resourceNames.join(', ')} do not include LEASE_NAME ${leaseName}`,
        );
      }
    }
    const granted = new Set(rules.flatMap((r) => r.verbs ?? []));
    for (const verb of LEASE_VERBS) {
      if (!granted.has(verb)) {
        problems.push(`${id(role)}: the elector needs ${verb} on leases`);
      }
    }
  }
  const tradingPods = workloads(objects).filter((w) =>
    w.pod.containers.some((c) => serviceOfImage(c.image) === 'trading'),
  );
  const tradingAccounts = new Set(tradingPods.filter((w) => w.longRunning).map((w) => w.pod.serviceAccountName));
  for (const rb of objects.filter((o) => o.kind === 'RoleBinding')) {
    const roleRef = rb.roleRef as { kind: string; name: string };
    if (roleRef.kind !== 'Role' || !roles.some((r) => r.metadata.name === roleRef.name)) {
      problems.push(`${id(rb)}: roleRef ${roleRef.kind}/${roleRef.name} is not our Role`);
    }
    for (const s of (rb.subjects as { kind: string; name: string }[] | undefined) ?? []) {
      if (s.kind !== 'ServiceAccount' || !tradingAccounts.has(s.name)) {
        problems.push(`${id(rb)}: subject ${s.kind}/${s.name} is not trading's ServiceAccount`);
      }
    }
  }
  for (const w of workloads(objects)) {
    const trading = w.longRunning && w.pod.containers.some((c) => serviceOfImage(c.image) === 'trading');
    if (trading) {
      if (w.pod.serviceAccountName === undefined || w.pod.serviceAccountName === 'default') {
        problems.push(`${w.id}: needs its own ServiceAccount for the Lease`);
      }
      if (w.pod.automountServiceAccountToken === false) {
        problems.push(`${w.id}: the Lease elector needs the service-account token`);
      }
    } else {
      if (w.pod.automountServiceAccountToken !== false) {
        problems.push(`${w.id}: must set automountServiceAccountToken: false`);
      }
      if (w.pod.serviceAccountName !== undefined && tradingAccounts.has(w.pod.serviceAccountName)) {
        problems.push(`${w.id}: uses trading's ServiceAccount`);
      }
    }
  }
  return problems;
}

/** The value and source of every variable a container gets (ConfigMap keys resolved). */
export interface ResolvedEnv {
  name: string;
  value?: string;
  source: 'literal' | 'configMap' | 'secret' | 'fieldRef';
  fieldPath?: string;
}

export function resolveEnv(c: Container, objects: K8sObject[]): { env: ResolvedEnv[]; problems: Problems } {
  const env = new Map<string, ResolvedEnv>();
  const problems: Problems = [];
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef !== undefined) {
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef?.name);
      if (cm === undefined) {
        problems.push(`container ${c.name}: ConfigMap ${from.configMapRef.name} does not exist`);
        continue;
      }
      for (const [name, value] of Object.entries((cm.data as Record<string, string> | undefined) ?? {})) {
        env.set(name, { name, value, source: 'configMap' });
      }
    } else if (from.secretRef !== undefined) {
      problems.push(
        `container ${c.name}: envFrom secretRef ${from.secretRef.name} hides which variables it sets; use secretKeyRef`,
      );
    }
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) {
      env.set(e.name, { name: e.name, value: e.value, source: 'literal' });
    } else if (e.valueFrom?.secretKeyRef !== undefined) {
      env.set(e.name, { name: e.name, source: 'secret' });
    } else if (e.valueFrom?.fieldRef !== undefined) {
      env.set(e.name, { name: e.name, source: 'fieldRef', fieldPath: e.valueFrom.fieldRef.fieldPath });
    } else if (e.valueFrom?.configMapKeyRef !== undefined) {
      const ref = e.valueFrom.configMapKeyRef;
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === ref.name);
      const value = (cm?.data as Record<string, string> | undefined)?.[ref.key];
      if (value === undefined) {
        problems.push(`container ${c.name}: ConfigMap key ${ref.name}/${ref.key} does not exist`);
      }
      env.set(e.name, { name: e.name, source: 'configMap', ...(value === undefined ? {} : { value }) });
    } else {
      env.set(e.name, { name: e.name, source: 'literal', value: '' });
    }
  }
  return { env: [...env.values()], problems };
}

/**
 * Service containers only set variables their service reads (its configuration schema, plus
 * the Downward API's POD_NAMESPACE); every literal value parses with the service's own schema;
 * variables the schema marks secret come from a Secret; Deployments run NODE_ENV=production
 * with RUN_MIGRATIONS=false; PORT is the container port.
 */
export function checkEnv(objects: K8sObject[], schemas: Record<ServiceName, ConfigSchemaLike>): Problems {
  const problems: Problems = [];
  for (const w of workloads(objects)) {
    for (const c of allContainers(w.pod)) {
      const service = serviceOfImage(c.image);
      if (service === undefined) {
        continue;
      }
      const where = `${w.id} container ${c.name}`;
      const schema = schemas[service];
      const resolved = resolveEnv(c, objects);
      problems.push(...resolved.problems.map((p) => `${w.id}: ${p}`));
      const byName = new Map(resolved.env.map((e) => [e.name, e]));
      for (const e of resolved.env) {
        const spec = schema[e.name];
        if (spec === undefined) {
          if (!(e.name in PLATFORM_PROVIDED_ENV)) {
            problems.push(`${where}: sets ${e.name}, which the ${service} service does not read`);
          }
          continue;
        }
        if (spec.secret === true && e.source !== 'secret') {
          problems.push(`${where}: ${e.name} is a secret and must come from a Secret, not a ${e.source}`);
        }
        if (e.value !== undefined) {
          try {
            spec.parse(e.value, e.name);
          } catch (error) {
            problems.push(
              `${where}: ${e.name}=${JSON.stringify(e.value)} is rejected by the service: ${String(error)}`,
            );
          }
        }
      }
      if (w.longRunning) {
        const expectFields: [string, string][] = [
          ['POD_NAME', 'metadata.name'],
          ['POD_NAMESPACE', 'metadata.namespace'],
        ];
        for (const [name, fieldPath] of expectFields) {
          if (byName.get(name)?.fieldPath !== fieldPath) {
            problems.push(`${where}: ${name} must come from the Downward API (${fieldPath})`);
          }
        }
        if (byName.get('NODE_ENV')?.value !== 'production') {
          problems.push(`${where}: NODE_ENV must be production`);
        }
        if (byName.get('RUN_MIGRATIONS')?.value !== 'false') {
          problems.push(`${where}: RUN_MIGRATIONS must be false (the migration Job migrates)`);
        }
        const port = byName.get('PORT')?.value ?? schema.PORT?.defaultValue;
        if (!(c.ports ?? []).some((p) => String(p.containerPort) === port)) {
          problems.push(`${where}: PORT ${String(port)} is not a container port`);
        }
        for (const required of [
          'DATABASE_URL',
          'REDIS_URL',
          'JWT_PUBLIC_KEYS',
          ...(service === 'auth' ? ['JWT_PRIVATE_KEY'] : []),
        ]) {
          if (!byName.has(required)) {
            problems.push(`${where}: ${required} is not set (required in production)`);
          }
        }
      }
    }
  }
  return problems;
}

/** The value a variable has in a service's long-running pods (ConfigMaps resolved). */
export function envValue(objects: K8sObject[], service: ServiceName, name: string): string | undefined {
  for (const w of workloads(objects).filter((x) => x.longRunning)) {
    for (const c of w.pod.containers.filter((x) => serviceOfImage(x.image) === service)) {
      const value = resolveEnv(c, objects).env.find((e) => e.name === name)?.value;
      if (value !== undefined) {
        return value;
      }
    }
  }
  return undefined;
}

/**
 * Referenced ConfigMaps and Secrets (environment and volumes) exist in the render, or are declared
 * as provided out of band.
 */
export function checkReferences(objects: K8sObject[], externalSecrets: string[]): Problems {
  const problems: Problems = [];
  const has = (kind: string, name: string): boolean => objects.some((o) => o.kind === kind && o.metadata.name === name);
  for (const w of workloads(objects)) {
    for (const c of allContainers(w.pod)) {
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        if (s !== undefined && !has('Secret', s.name) && !externalSecrets.includes(s.name)) {
          problems.push(`${w.id} ${c.name}: Secret ${s.name} is neither rendered nor declared external`);
        }
      }
      for (const from of c.envFrom ?? []) {
        if (from.configMapRef !== undefined && !has('ConfigMap', from.configMapRef.name)) {
          problems.push(`${w.id} ${c.name}: ConfigMap ${from.configMapRef.name} does not exist`);
        }
      }
    }
    for (const v of w.pod.volumes ?? []) {
      const [kind, name] = v.configMap ? ['ConfigMap', v.configMap.name] : ['Secret', v.secret?.secretName];
      if (name !== undefined && !has(kind, name) && !externalSecrets.includes(name)) {
        problems.push(`${w.id}: volume ${v.name}'s ${kind} ${name} is neither rendered nor declared external`);
      }
    }
  }
  for (const tls of objects
    .filter((o) => o.kind === 'Ingress')
    .flatMap((o) => (o.spec as { tls?: { secretName?: string }[] }).tls ?? [])) {
    if (tls.secretName !== undefined && !has('Secret', tls.secretName) && !externalSecrets.includes(tls.secretName)) {
      problems.push(`Ingress TLS Secret ${tls.secretName} is neither rendered nor declared external`);
    }
  }
  return problems;
}

/**
 * Pods behind a Service: a preStop sleep, and a grace period covering sleep + drain + in-flight
 * timeout (SHUTDOWN_DRAIN_MS + SHUTDOWN_TIMEOUT_MS) with a 2 s margin. Every service Deployment
 * spreads over zones and hosts.
 */
export function checkShutdownAndSpread(objects: K8sObject[], schemas: Record<ServiceName, ConfigSchemaLike>): Problems {
  const problems: Problems = [];
  const services = objects.filter((o) => o.kind === 'Service');
  for (const w of deployments(objects)) {
    const c = w.pod.containers.find((x) => serviceOfImage(x.image) !== undefined);
    const service = c === undefined ? undefined : serviceOfImage(c.image);
    if (c === undefined || service === undefined) {
      continue;
    }
    const env = new Map(resolveEnv(c, objects).env.map((e) => [e.name, e.value]));
    const ms = (name: string): number => Number(env.get(name) ?? schemas[service][name]?.defaultValue ?? Number.NaN);
    const drain = (ms('SHUTDOWN_DRAIN_MS') + ms('SHUTDOWN_TIMEOUT_MS')) / 1000;
    const preStop = c.lifecycle?.preStop;
    const command = preStop?.exec?.command ?? [];
    const sleep = preStop?.sleep?.seconds ?? (command[0] === 'sleep' ? Number(command[1]) : 0);
    const behindService = services.some((s) => selects(matchLabelsOf(s), w.podLabels));
    if (behindService && !(sleep > 0)) {
      problems.push(`${w.id}: needs a preStop sleep so endpoints drop it before SIGTERM`);
    }
    const grace = w.pod.terminationGracePeriodSeconds ?? 30;
    if (grace < sleep + drain + 2) {
      problems.push(
        `${w.id}: terminationGracePeriodSeconds ${grace} < preStop ${sleep} s + drain and timeout ${drain} s + 2 s`,
      );
    }
    const spread = w.pod.topologySpreadConstraints ?? [];
    for (const key of [ZONE, HOST]) {
      const constraint = spread.find((t) => t.topologyKey === key);
      if (constraint === undefined || !selects(constraint.labelSelector?.matchLabels, w.podLabels)) {
        problems.push(`${w.id}: no topology spread over ${key} selecting its own pods`);
      }
    }
  }
  return problems;
}

/** Commands that run a built entry point (node dist/x.js) name a file the service's build produces. */
export function checkEntryPoints(objects: K8sObject[], root = repoRoot()): Problems {
  const problems: Problems = [];
  for (const w of workloads(objects)) {
    for (const c of allContainers(w.pod)) {
      const service = serviceOfImage(c.image);
      const argv = [...(c.command ?? []), ...(c.args ?? [])];
      const script = argv.find((a) => /^dist\/.+\.js$/.test(a));
      if (service === undefined || script === undefined) {
        continue;
      }
      if (!existsSync(join(root, 'services', service, script))) {
        problems.push(`${w.id} ${c.name}: runs ${script}, which services/${service} does not build`);
      }
    }
  }
  return problems;
}
