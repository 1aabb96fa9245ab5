import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RULES_FILE } from './monitoring-copies.js';
import { repoRoot } from './repo.js';
import type { Problems } from './rules.js';

/** Where the alerts' runbook links point: the README's "## Runbook" section on the main branch. */
export const RUNBOOK_BASE = 'https://github.com/stocklab/stocklab-platform/blob/main/README.md';
const SEVERITIES = new Set(['critical', 'warning']);
const ANNOTATIONS = ['summary', 'description', 'runbook_url'];

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

export function loadRules(root = repoRoot()): RuleFile {
  return parse(readFileSync(join(root, RULES_FILE), 'utf8')) as RuleFile;
}

export const alertsOf = (rules: RuleFile): Rule[] => rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, each space a hyphen. */
export function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of the subsections (###) of the README's "## Runbook" section. */
export function runbookAnchors(readme: string): Set<string> {
  const section = /^## Runbook\s*$([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1] ?? '';
  return new Set([...section.matchAll(/^### (.+)$/gm)].map((m) => githubSlug(m[1] ?? '')));
}

/**
 * Every alert: a unique name, a severity operators route on, a summary, a description and a
 * runbook_url pointing at a subsection of the README's runbook that exists.
 */
export function checkAlertRules(rules: RuleFile, readme: string): Problems {
  const problems: Problems = [];
  const anchors = runbookAnchors(readme);
  if (anchors.size === 0) {
    problems.push('README.md: no "## Runbook" section with ### subsections');
  }
  const seen = new Set<string>();
  for (const rule of alertsOf(rules)) {
    const name = rule.alert ?? '';
    if (seen.has(name)) {
      problems.push(`${name}: defined twice`);
    }
    seen.add(name);
    if (!SEVERITIES.has(rule.labels?.severity ?? '')) {
      problems.push(`${name}: severity must be one of ${[...SEVERITIES].join(', ')}`);
    }
    for (const key of ANNOTATIONS) {
      if (!rule.annotations?.[key]?.trim()) {
        problems.push(`${name}: no ${key} annotation`);
      }
    }
    const url = rule.annotations?.runbook_url ?? '';
    const anchor = url.startsWith(`${RUNBOOK_BASE}#`) ? url.slice(RUNBOOK_BASE.length + 1) : undefined;
    if (url !== '' && (anchor === undefined || !anchors.has(anchor))) {
      problems.push(`${name}: runbook_url ${url} is not ${RUNBOOK_BASE}#<a subsection of ## Runbook>`);
    }
  }
  return problems;
}

export interface RuleTestFile {
  file: string;
  rule_files?: string[];
  tests?: { name?: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

/** The promtool unit-test files beside the rules (deploy/prometheus/*.test.yaml), parsed. */
export function loadRuleTests(root = repoRoot()): RuleTestFile[] {
  const dir = join(root, 'deploy', 'prometheus');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.yaml'))
    .sort()
    .map((file) => ({ ...(parse(readFileSync(join(dir, file), 'utf8')) as Omit<RuleTestFile, 'file'>), file }));
}

/**
 * The unit tests test the real rule file, only alerts it defines, and each alert both ways: at
 * least one evaluation that expects it to fire and one that expects it not to.
 */
export function checkRuleTestCoverage(rules: RuleFile, testFiles: RuleTestFile[]): Problems {
  const problems: Problems = [];
  const rulesName = RULES_FILE.split('/').pop() ?? '';
  const fires = new Set<string>();
  const silent = new Set<string>();
  for (const t of testFiles) {
    if (JSON.stringify(t.rule_files) !== JSON.stringify([rulesName])) {
      problems.push(`${t.file}: rule_files must be [${rulesName}]`);
    }
    for (const check of (t.tests ?? []).flatMap((group) => group.alert_rule_test ?? [])) {
      ((check.exp_alerts ?? []).length > 0 ? fires : silent).add(check.alertname);
    }
  }
  const names = new Set(alertsOf(rules).map((r) => r.alert));
  for (const tested of [...fires, ...silent].filter((n) => !names.has(n))) {
    problems.push(`${tested}: tested, but no such alert`);
  }
  for (const rule of alertsOf(rules)) {
    const name = rule.alert ?? '';
    if (!fires.has(name)) {
      problems.push(`${name}: no test expects it to fire`);
    }
    if (!silent.has(name)) {
      problems.push(`${name}: no test expects it to stay silent`);
    }
  }
  return problems;
}
