import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A Kubernetes object as rendered; the rules narrow the parts they read. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** Every YAML document of a text (empty documents skipped); a parse error throws with its source. */
export function parseYamlDocuments(text: string, source: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    }
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) {
      out.push(value);
    }
  }
  return out;
}

export function asK8sObjects(docs: unknown[], source: string): K8sObject[] {
  return docs.map((doc, i) => {
    const o = doc as Partial<K8sObject>;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
      throw new Error(`${source}: document ${i} is not a Kubernetes object (apiVersion, kind, metadata.name)`);
    }
    return o as K8sObject;
  });
}

/** `kubectl kustomize <dir>` (offline), parsed. KUBECTL overrides the binary. */
export function kustomize(dir: string): K8sObject[] {
  const kubectl = process.env.KUBECTL ?? 'kubectl';
  let text: string;
  try {
    text = execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr.trim() || String(error)}`, { cause: error });
  }
  return asK8sObjects(parseYamlDocuments(text, `kubectl kustomize ${dir}`), dir);
}

export const id = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;
