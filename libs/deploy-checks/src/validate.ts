import * as models from 'kubernetes-models';
import { id, type K8sObject } from './render.js';
import { strictProblems } from './strict-schema.js';

type ModelClass = new (data: unknown) => { validate(): void };

/**
 * Custom resources we ship (not in the upstream schemas); the rules check them structurally
 * (checkPodMonitors, checkPrometheusRules; promtool checks the rules themselves).
 */
export const KNOWN_CUSTOM_KINDS = new Set([
  'keda.sh/v1alpha1/ScaledObject',
  'keda.sh/v1alpha1/TriggerAuthentication',
  'monitoring.coreos.com/v1/PodMonitor',
  'monitoring.coreos.com/v1/PrometheusRule',
]);

/** "networking.k8s.io" -> "networkingK8sIo", the export names of kubernetes-models. */
function groupKey(group: string): string {
  return group
    .split('.')
    .map((part, i) => (i === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
    .join('');
}

export function modelFor(apiVersion: string, kind: string): ModelClass | undefined {
  const registry = models as unknown as Record<string, unknown>;
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const kinds = (
    group === '' ? registry[version] : (registry[groupKey(group)] as Record<string, unknown> | undefined)?.[version]
  ) as Record<string, ModelClass | undefined> | undefined;
  return kinds?.[kind];
}

/**
 * Validates every object against the upstream Kubernetes OpenAPI schemas: kubernetes-models for
 * required fields, types, enums and formats, and the strict 1.34 definitions (strict-schema.ts)
 * for unknown fields, which kubernetes-models accepts.
 */
export function validateAgainstSchemas(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const Model = modelFor(o.apiVersion, o.kind);
    if (Model === undefined) {
      if (!KNOWN_CUSTOM_KINDS.has(`${o.apiVersion}/${o.kind}`)) {
        problems.push(`${id(o)}: unknown apiVersion/kind ${o.apiVersion} ${o.kind}`);
      }
      continue;
    }
    try {
      new Model(normalize(o)).validate();
    } catch (error) {
      problems.push(`${id(o)}: ${error instanceof Error ? error.message : String(error)}`);
    }
    problems.push(...(strictProblems(o) ?? [`${id(o)}: no strict definition of ${o.apiVersion} ${o.kind}`]));
  }
  return problems;
}

/**
 * kubectl wraps long base64 values of a Secret's data over several lines; the API server's
 * decoder ignores the line breaks, the schema's "byte" format does not: join them first.
 */
function normalize(o: K8sObject): K8sObject {
  if (o.kind !== 'Secret' || typeof o.data !== 'object' || o.data === null) {
    return o;
  }
  const data = Object.fromEntries(
    Object.entries(o.data as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === 'string' ? v.replace(/\s+/g, '') : v,
    ]),
  );
  return { ...o, data };
}
