import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { parse } from 'yaml';
import {
  alertsOf,
  checkDashboardConfigMaps,
  checkMetricReferences,
  checkMonitoringCopies,
  checkPodMonitors,
  checkPrometheusRules,
  dashboardQueries,
  DASHBOARD_FILE,
  exportedMetrics,
  helmTemplate,
  kustomize,
  loadRules,
  repoRoot,
  RULES_FILE,
  servedRootPaths,
  writeMonitoringCopies,
  type K8sObject,
  validateAgainstSchemas,
  type QueryRef,
} from '../src/index.js';

/**
 * The monitoring material against its one source (deploy/prometheus, deploy/grafana) and against
 * the code: the copies the chart and kustomize carry, what they render, and every metric the
 * alerts and the dashboard read.
 */
const root = repoRoot();
const rules: unknown = parse(readFileSync(join(root, RULES_FILE), 'utf8'));
const dashboard: unknown = JSON.parse(readFileSync(join(root, DASHBOARD_FILE), 'utf8'));
const MONITORING_ON = [
  '--set',
  'existingSecret=stocklab-secrets',
  '--set',
  'monitoring.podMonitor.enabled=true',
  '--set',
  'monitoring.prometheusRule.enabled=true',
  '--set',
  'monitoring.grafanaDashboard.enabled=true',
];
/** Other exporters' series the alerts may read, named one by one (kube-state-metrics, Prometheus). */
const EXTERNAL = {
  metrics: ['kube_pod_container_status_restarts_total', 'up'],
  // prom-client's default labels of every service (HttpMetrics: service, pod), the histogram's
  // le, the PodMonitor's target labels, and kube-state-metrics' container labels
  labels: ['service', 'pod', 'le', 'namespace', 'container', 'instance', 'endpoint', 'job'],
};

const queriesOfRules = (): QueryRef[] =>
  alertsOf(loadRules(root)).map((r) => ({ where: `alert ${r.alert ?? ''}`, expr: r.expr }));

let scratch: string;
let metricsPath: string;
let chartOn: K8sObject[];
let chartDefault: K8sObject[];
let kustomized: K8sObject[];

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'monitoring-'));
  metricsPath = servedRootPaths(root).find((p) => p.endsWith('/metrics')) ?? '';
  chartOn = helmTemplate(MONITORING_ON, root);
  chartDefault = helmTemplate(['--set', 'existingSecret=stocklab-secrets'], root);
  // the component on top of the prod overlay, from a throwaway kustomization
  writeFileSync(
    join(scratch, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      `  - ${relative(scratch, join(root, 'k8s/overlays/prod'))}`,
      'components:',
      `  - ${relative(scratch, join(root, 'k8s/components/monitoring'))}`,
      '',
    ].join('\n'),
  );
  kustomized = kustomize(scratch);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('monitoring sources', () => {
  it("the chart's and kustomize's copies are what sync-monitoring generates from deploy/", () => {
    assert.deepEqual(checkMonitoringCopies(root), []);
  });

  it('sync-monitoring writes the copies, and the check sees a copy edited by hand', () => {
    const tree = join(scratch, 'tree');
    for (const source of [RULES_FILE, DASHBOARD_FILE]) {
      cpSync(join(root, source), join(tree, source));
    }
    assert.equal(checkMonitoringCopies(tree).length, 3, 'nothing generated yet');
    assert.equal(writeMonitoringCopies(tree).length, 3);
    assert.deepEqual(checkMonitoringCopies(tree), []);
    assert.deepEqual(writeMonitoringCopies(tree), [], 'a second run writes nothing');
    const copy = join(tree, 'k8s/components/monitoring/prometheus-rule.yaml');
    writeFileSync(copy, readFileSync(copy, 'utf8').replace('for: 1m', 'for: 5m'));
    assert.deepEqual(checkMonitoringCopies(tree), [
      'k8s/components/monitoring/prometheus-rule.yaml: differs from its source (edit the source, then npm run sync-monitoring)',
    ]);
  });

  it('finds the metrics of every file that registers some with prom-client', () => {
    const catalog = exportedMetrics(root);
    for (const name of [
      'http_request_duration_seconds',
      'leader_election_is_leader',
      'leader_election_transitions_total',
      'trading_job_runs_total',
      'trading_orders_total',
      'strategy_cache_requests_total',
      'backtest_queue_wait_seconds',
      'backtest_queue_depth',
      'revocation_list_restored',
    ]) {
      assert.ok(catalog.metrics.has(name), name);
    }
    assert.deepEqual([...catalog.histograms].sort(), ['backtest_queue_wait_seconds', 'http_request_duration_seconds']);
    assert.ok(!catalog.metrics.has('status_code'), 'a label name is no metric');
  });

  it('the alerts and the dashboard read only metrics the code registers', () => {
    const queries = [...queriesOfRules(), ...dashboardQueries(dashboard)];
    assert.ok(queries.length > 20, `${queries.length} queries`);
    assert.deepEqual(checkMetricReferences(queries, exportedMetrics(root), EXTERNAL), []);
  });

  it('the metric check refuses a name or a label the code does not have', () => {
    const wrong: QueryRef[] = [
      { where: 'a', expr: 'sum by (code) (rate(trading_orders_totl{status="filled"}[5m]))' },
      { where: 'b', expr: 'http_request_duration_seconds_count', labels: ['outcome'] },
    ];
    assert.deepEqual(checkMetricReferences(wrong, exportedMetrics(root), EXTERNAL), [
      "a: metric trading_orders_totl is not registered by the services' code",
      'a: label code is set by neither the code nor the scrape',
      'b: label outcome is set by neither the code nor the scrape',
    ]);
  });

  it('the dashboard shows requests, latency quantiles, 5xx/503, the leader, job runs, orders, the backtest queue and the cache', () => {
    const exprs = dashboardQueries(dashboard).map((q) => q.expr);
    const shown = (pattern: RegExp): boolean => exprs.some((e) => pattern.test(e));
    for (const pattern of [
      /rate\(http_request_duration_seconds_count\{/,
      /histogram_quantile\(0\.5, .*http_request_duration_seconds_bucket/,
      /histogram_quantile\(0\.95, .*http_request_duration_seconds_bucket/,
      /histogram_quantile\(0\.99, .*http_request_duration_seconds_bucket/,
      /status_code=~"5\.\."/,
      /status_code="503"/,
      /by \(pod, lease\) \(leader_election_is_leader/,
      /by \(pod, transition\) \(leader_election_transitions_total/,
      /by \(job, status\) \(trading_job_runs_total/,
      /trading_orders_total/,
      /strategy_cache_requests_total\{[^}]*result="hit"/,
      /histogram_quantile\(0\.95, .*backtest_queue_wait_seconds_bucket/,
      /by \(state\) \(backtest_queue_depth/,
    ]) {
      assert.ok(shown(pattern), String(pattern));
    }
  });
});

describe('helm/stocklab with monitoring on', () => {
  it('scrapes every service pod, the worker included, on the route the platform serves', () => {
    assert.equal(metricsPath, '/metrics');
    assert.equal(chartOn.filter((o) => o.kind === 'PodMonitor').length, 1);
    assert.deepEqual(checkPodMonitors(chartOn, metricsPath), []);
  });

  it('carries the rule file as it is in its PrometheusRule', () => {
    assert.deepEqual(checkPrometheusRules(chartOn, rules), []);
  });

  it('carries the dashboard in a ConfigMap for Grafana', () => {
    assert.deepEqual(checkDashboardConfigMaps(chartOn, dashboard), []);
  });

  it('renders objects the strict Kubernetes 1.34 schemas accept', () => {
    assert.deepEqual(validateAgainstSchemas(chartOn), []);
  });
  it('renders none of them by default', () => {
    const kinds = chartDefault.map((o) => o.kind);
    assert.ok(!kinds.includes('PodMonitor') && !kinds.includes('PrometheusRule'), kinds.join(', '));
    assert.equal(chartDefault.filter((o) => o.metadata.labels?.grafana_dashboard !== undefined).length, 0);
  });

  it('the checks catch a PodMonitor without honorLabels on another port, and a rule that drifted', () => {
    const broken = structuredClone(chartOn);
    const monitor = broken.find((o) => o.kind === 'PodMonitor');
    const endpoint = (monitor?.spec as { podMetricsEndpoints: Record<string, unknown>[] }).podMetricsEndpoints[0];
    assert.ok(endpoint);
    Object.assign(endpoint, { port: 'metrics', honorLabels: false });
    assert.equal(checkPodMonitors(broken, metricsPath).length, 5, checkPodMonitors(broken, metricsPath).join('\n'));
    const rule = broken.find((o) => o.kind === 'PrometheusRule');
    (rule?.spec as { groups: { rules: { for?: string }[] }[] }).groups[0].rules[0].for = '5m';
    assert.equal(checkPrometheusRules(broken, rules).length, 1);
  });
});

describe('k8s/components/monitoring on the prod overlay', () => {
  it('renders objects the strict Kubernetes 1.34 schemas accept', () => {
    assert.deepEqual(validateAgainstSchemas(kustomized), []);
  });
  it('scrapes every service pod, the worker included, on the route the platform serves', () => {
    assert.deepEqual(checkPodMonitors(kustomized, metricsPath), []);
  });

  it('carries the rule file as it is in its PrometheusRule', () => {
    assert.deepEqual(checkPrometheusRules(kustomized, rules), []);
  });
});
