import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { repoRoot } from './repo.js';
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

/**
 * The helm or kubectl binary the checks run: $HELM / $KUBECTL, else the pinned copy that
 * scripts/test installs into .toolchain/ (scripts/lib/env.sh: ensure_kube_tools).
 */
export function kubeTool(name: 'helm' | 'kubectl', root = repoRoot()): string {
  const fromEnv = process.env[name.toUpperCase()];
  if (fromEnv) {
    return fromEnv;
  }
  const pinned = readdirSync(join(root, '.toolchain'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.startsWith('kube-tools-'))
    .map((d) => join(root, '.toolchain', d.name, name, name))
    .find((path) => existsSync(path));
  if (!pinned) {
    throw new Error(`no ${name}: run ./scripts/test once (it installs the pinned helm and kubectl into .toolchain/)`);
  }
  return pinned;
}

function run(tool: string, args: string[], what: string): string {
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${what} failed: ${stderr.trim() || String(error)}`, { cause: error });
  }
}

/** `helm template` of the chart with these `--set`/`-f` arguments (the real helm, offline), parsed. */
export function helmTemplate(args: string[], root = repoRoot()): K8sObject[] {
  const what = `helm template ${args.join(' ')}`;
  const text = run(
    kubeTool('helm', root),
    ['template', 'stocklab', join(root, 'helm', 'stocklab'), '--namespace', 'stocklab', ...args],
    what,
  );
  return asK8sObjects(parseYamlDocuments(text, what), what);
}

/** `helm lint --strict` of the chart with these arguments: its output, or a throw with it. */
export function helmLint(args: string[], root = repoRoot()): string {
  return run(
    kubeTool('helm', root),
    ['lint', '--strict', join(root, 'helm', 'stocklab'), ...args],
    `helm lint ${args.join(' ')}`,
  );
}

/** `kubectl kustomize <dir>` (offline), parsed. */
export function kustomize(dir: string): K8sObject[] {
  const kubectl = process.env.KUBECTL ?? (hasPinned('kubectl') ? kubeTool('kubectl') : 'kubectl');
  let text: string;
  try {
    text = execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr.trim() || String(error)}`, { cause: error });
  }
  return asK8sObjects(parseYamlDocuments(text, `kubectl kustomize ${dir}`), dir);
}

/**
 * `kubectl kustomize` of a throwaway kustomization: these folders as resources, these components
 * on top, and extra lines (patches, say). Kustomize takes only relative paths.
 */
export function kustomizeComposed(resources: string[], components: string[] = [], extra: string[] = []): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'kustomize-'));
  try {
    const list = (key: string, paths: string[]): string[] =>
      paths.length === 0 ? [] : [`${key}:`, ...paths.map((p) => `  - ${relative(dir, p)}`)];
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        ...list('resources', resources),
        ...list('components', components),
        ...extra,
        '',
      ].join('\n'),
    );
    return kustomize(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const id = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

function hasPinned(name: 'helm' | 'kubectl'): boolean {
  try {
    kubeTool(name);
    return true;
  } catch {
    return false;
  }
}
