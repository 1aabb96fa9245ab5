import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo.js';
import type { Problems } from './rules.js';

/** What the services' sources register with prom-client. */
export interface MetricCatalog {
  /** metric names, as registered */
  metrics: Set<string>;
  /** those registered as a Histogram: exported as <name>_bucket, _sum and _count */
  histograms: Set<string>;
  /** every identifier-like string of those files: label names among them */
  words: Set<string>;
  /** the files read, relative to the root */
  files: string[];
}

/**
 * Scans the TypeScript sources of every package (libs/<x>/src, services/<x>/src; tests left out)
 * that import prom-client. A metric name is a snake_case string literal there (at least one
 * underscore) that is not in a labelNames list; a Histogram's is the `name:` of a `new Histogram`.
 * Label names are not tied to their metric (one registration passes them through a helper), so
 * a label is accepted when the word occurs in those files at all: that still catches a label the
 * code never uses (`code` for `status_code`).
 */
export function exportedMetrics(root = repoRoot()): MetricCatalog {
  const catalog: MetricCatalog = { metrics: new Set(), histograms: new Set(), words: new Set(), files: [] };
  for (const file of sourceFiles(root)) {
    const text = readFileSync(join(root, file), 'utf8');
    if (!/from ['"]prom-client['"]/.test(text)) {
      continue;
    }
    catalog.files.push(file);
    const labelLists = [...text.matchAll(/labelNames:\s*\[([^\]]*)\]/g)].map((m) => m[1] ?? '');
    const labelNames = new Set(labelLists.flatMap((list) => [...list.matchAll(/'([^']*)'/g)].map((m) => m[1])));
    for (const [, word] of text.matchAll(/'([A-Za-z_][A-Za-z0-9_]*)'/g)) {
      if (word === undefined) {
        continue;
      }
      catalog.words.add(word);
      if (/^[a-z][a-z0-9]*(_[a-z0-9]+)+$/.test(word) && !labelNames.has(word)) {
        catalog.metrics.add(word);
      }
    }
    for (const [, name] of text.matchAll(/new Histogram\(\{\s*name:\s*'([^']+)'/g)) {
      catalog.histograms.add(name ?? '');
    }
  }
  return catalog;
}

function sourceFiles(root: string): string[] {
  const files: string[] = [];
  for (const group of ['libs', 'services']) {
    for (const pkg of readdirSync(join(root, group), { withFileTypes: true }).filter((d) => d.isDirectory())) {
      let entries: string[];
      try {
        entries = readdirSync(join(root, group, pkg.name, 'src'), { recursive: true, encoding: 'utf8' });
      } catch {
        continue; // a package without src/
      }
      files.push(
        ...entries
          .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts') && !f.endsWith('.d.ts'))
          .map((f) => join(group, pkg.name, 'src', f)),
      );
    }
  }
  return files;
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names and label names a PromQL expression reads (Grafana's $variables allowed). */
export function promqlReferences(expr: string): { metrics: string[]; labels: string[] } {
  const labels: string[] = [];
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  rest = rest.replace(/\{([^}]*)\}/g, (_match, inner: string) => {
    for (const m of inner.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
      labels.push(m[1] ?? '');
    }
    return ' ';
  });
  rest = rest.replace(/\[[^\]]*\]/g, ' ');
  rest = rest.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_match, list: string) => {
    labels.push(
      ...list
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
    );
    return ' ';
  });
  rest = rest.replace(/\boffset\s+-?[0-9a-z]+/g, ' ');
  const metrics: string[] = [];
  for (const m of rest.matchAll(/(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const name = m[1] ?? '';
    if (m[2] === undefined && !KEYWORDS.has(name)) {
      metrics.push(name);
    }
  }
  return { metrics, labels };
}

export interface QueryRef {
  where: string;
  expr: string;
  /** labels the query reads outside the expression (label_values' second argument) */
  labels?: string[];
}

interface DashboardLike {
  panels?: { title?: string; targets?: { expr?: string }[]; panels?: DashboardLike['panels'] }[];
  templating?: { list?: { name?: string; query?: string | { query?: string } }[] };
}

/** Every query of a Grafana dashboard: the panels' targets and the template variables. */
export function dashboardQueries(dashboard: unknown): QueryRef[] {
  const d = dashboard as DashboardLike;
  const refs: QueryRef[] = [];
  const visit = (panels: DashboardLike['panels']): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (t.expr) {
          refs.push({ where: `panel "${p.title ?? ''}"`, expr: t.expr });
        }
      }
      visit(p.panels);
    }
  };
  visit(d.panels);
  for (const v of d.templating?.list ?? []) {
    const query = typeof v.query === 'string' ? v.query : v.query?.query;
    // label_values(<selector>, <label>): a selector, then a label name
    const m = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$/.exec(query ?? '');
    if (m) {
      refs.push({ where: `variable ${v.name ?? ''}`, expr: m[1] ?? '', labels: [m[2] ?? ''] });
    }
  }
  return refs;
}

/**
 * Every metric a query reads is one the code registers (or a histogram's series of one), or one
 * of `external` (another exporter's, named explicitly); every label it reads is a word of the
 * metrics' sources or one of `labels` (those the scrape, prom-client or another exporter add).
 */
export function checkMetricReferences(
  queries: QueryRef[],
  catalog: MetricCatalog,
  external: { metrics: string[]; labels: string[] },
): Problems {
  const problems: Problems = [];
  const known = (metric: string): boolean => {
    const base = /^(.*)_(?:bucket|sum|count)$/.exec(metric)?.[1];
    return (
      catalog.metrics.has(metric) ||
      (base !== undefined && catalog.histograms.has(base)) ||
      external.metrics.includes(metric)
    );
  };
  for (const { where, expr, labels = [] } of queries) {
    const refs = promqlReferences(expr);
    for (const metric of refs.metrics.filter((m) => !known(m))) {
      problems.push(`${where}: metric ${metric} is not registered by the services' code`);
    }
    const read = [...refs.labels, ...labels];
    for (const label of read.filter((l) => !catalog.words.has(l) && !external.labels.includes(l))) {
      problems.push(`${where}: label ${label} is set by neither the code nor the scrape`);
    }
  }
  return problems;
}
