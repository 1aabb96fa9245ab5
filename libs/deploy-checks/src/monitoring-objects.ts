import { isDeepStrictEqual } from 'node:util';
import { id, type K8sObject } from './render.js';
import { serviceOfImage } from './repo.js';
import type { Problems } from './rules.js';
import { workloads } from './workloads.js';

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}
interface PodMonitorSpec {
  selector?: LabelSelector;
  namespaceSelector?: unknown;
  podMetricsEndpoints?: { port?: string; path?: string; honorLabels?: boolean }[];
}

/** A Kubernetes label selector (matchLabels and matchExpressions) against a pod's labels. */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) {
    return false;
  }
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every((e) => {
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        return value !== undefined && (e.values ?? []).includes(value);
      case 'NotIn':
        return value === undefined || !(e.values ?? []).includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
    }
  });
  return byLabels && byExpressions;
}

/**
 * PodMonitors scrape what the services serve: every long-running service workload is selected by
 * exactly one PodMonitor; every pod a PodMonitor selects has the endpoint's port; the path is
 * the metrics route the platform serves; honorLabels keeps trading's own `job` label (the alerts
 * group by it) from being renamed exported_job.
 */
export function checkPodMonitors(objects: K8sObject[], metricsPath: string): Problems {
  const problems: Problems = [];
  const monitors = objects.filter((o) => o.kind === 'PodMonitor');
  const all = workloads(objects);
  for (const w of all.filter((x) => x.longRunning && x.pod.containers.some((c) => serviceOfImage(c.image)))) {
    const by = monitors.filter((m) => selectorMatches((m.spec as PodMonitorSpec).selector, w.podLabels));
    if (by.length !== 1) {
      problems.push(`${w.id}: scraped by ${by.length} PodMonitors, expected 1`);
    }
  }
  for (const m of monitors) {
    const spec = m.spec as PodMonitorSpec;
    if (spec.namespaceSelector !== undefined) {
      problems.push(`${id(m)}: namespaceSelector reaches beyond the release's namespace`);
    }
    const endpoints = spec.podMetricsEndpoints ?? [];
    if (endpoints.length === 0) {
      problems.push(`${id(m)}: no podMetricsEndpoints`);
    }
    const selected = all.filter((w) => selectorMatches(spec.selector, w.podLabels));
    if (selected.length === 0) {
      problems.push(`${id(m)}: selects no pod`);
    }
    for (const e of endpoints) {
      if (e.path !== metricsPath) {
        problems.push(`${id(m)}: path ${String(e.path)} is not the metrics route ${metricsPath}`);
      }
      if (e.honorLabels !== true) {
        problems.push(`${id(m)}: honorLabels must be true (trading's job label would become exported_job)`);
      }
      for (const w of selected) {
        if (!w.pod.containers.some((c) => (c.ports ?? []).some((p) => p.name === e.port))) {
          problems.push(`${id(m)}: selects ${w.id}, which has no port named ${String(e.port)}`);
        }
      }
    }
  }
  return problems;
}

/** Every PrometheusRule carries exactly the rule file's groups; at least one is rendered. */
export function checkPrometheusRules(objects: K8sObject[], rules: unknown): Problems {
  const found = objects.filter((o) => o.kind === 'PrometheusRule');
  if (found.length === 0) {
    return ['no PrometheusRule rendered'];
  }
  return found
    .filter((o) => !isDeepStrictEqual(o.spec, rules))
    .map((o) => `${id(o)}: spec differs from deploy/prometheus/stocklab-rules.yaml`);
}

/**
 * Grafana's sidecar loads ConfigMaps labelled grafana_dashboard: "1": one is rendered, and its
 * one JSON document is the dashboard.
 */
export function checkDashboardConfigMaps(objects: K8sObject[], dashboard: unknown): Problems {
  const found = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
  if (found.length !== 1) {
    return [`${found.length} ConfigMaps labelled grafana_dashboard: "1", expected 1`];
  }
  const problems: Problems = [];
  for (const cm of found) {
    const data = Object.entries((cm.data as Record<string, string> | undefined) ?? {});
    if (data.length !== 1 || !data[0]?.[0].endsWith('.json')) {
      problems.push(`${id(cm)}: must hold one .json document`);
    } else if (!isDeepStrictEqual(JSON.parse(data[0][1]), dashboard)) {
      problems.push(`${id(cm)}: ${data[0][0]} differs from deploy/grafana/stocklab.json`);
    }
  }
  return problems;
}
