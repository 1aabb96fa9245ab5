import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './repo.js';
import type { Problems } from './rules.js';

/** The sources of truth of the monitoring material; everything else is generated from them. */
export const RULES_FILE = 'deploy/prometheus/stocklab-rules.yaml';
export const DASHBOARD_FILE = 'deploy/grafana/stocklab.json';

const header = (source: string): string =>
  `# GENERATED from ${source} by \`npm run sync-monitoring -w @stocklab/deploy-checks\`: edit that file, not this copy.\n`;

/** The rules wrapped in the prometheus-operator object kustomize applies (indented under spec). */
function prometheusRuleObject(rules: string): string {
  const spec = rules
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');
  return [
    header(RULES_FILE).trimEnd(),
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: stocklab',
    '  labels:',
    '    app.kubernetes.io/name: stocklab',
    '    app.kubernetes.io/part-of: stocklab',
    'spec:',
    spec,
  ].join('\n');
}

export interface GeneratedFile {
  /** relative to the repository root */
  path: string;
  content: string;
}

/**
 * The copies the chart and the kustomize component carry, as generated from the sources: helm
 * reads no file outside the chart, kustomize none outside the component's folder.
 */
export function monitoringCopies(root = repoRoot()): GeneratedFile[] {
  const rules = readFileSync(join(root, RULES_FILE), 'utf8');
  const dashboard = readFileSync(join(root, DASHBOARD_FILE), 'utf8');
  return [
    { path: 'helm/stocklab/files/prometheus/stocklab-rules.yaml', content: header(RULES_FILE) + rules },
    // JSON has no comments: the template that reads it names its source
    { path: 'helm/stocklab/files/grafana/stocklab.json', content: dashboard },
    { path: 'k8s/components/monitoring/prometheus-rule.yaml', content: prometheusRuleObject(rules) },
  ];
}

/** Every copy exists with exactly the generated content. */
export function checkMonitoringCopies(root = repoRoot()): Problems {
  const problems: Problems = [];
  for (const { path, content } of monitoringCopies(root)) {
    const file = join(root, path);
    if (!existsSync(file)) {
      problems.push(`${path}: missing (npm run sync-monitoring -w @stocklab/deploy-checks)`);
    } else if (readFileSync(file, 'utf8') !== content) {
      problems.push(`${path}: differs from its source (edit the source, then npm run sync-monitoring)`);
    }
  }
  return problems;
}

/** Writes the copies that differ from their generated content; answers their paths. */
export function writeMonitoringCopies(root = repoRoot()): string[] {
  const written: string[] = [];
  for (const { path, content } of monitoringCopies(root)) {
    const file = join(root, path);
    if (existsSync(file) && readFileSync(file, 'utf8') === content) {
      continue;
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    written.push(path);
  }
  return written;
}
