import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from '@jest/globals';
import {
  checkAlertRules,
  checkRuleTestCoverage,
  loadRules,
  loadRuleTests,
  promtool,
  promtoolPath,
  repoRoot,
  RULES_FILE,
} from '../src/index.js';

/**
 * The alert rules with the real promtool (extracted from Debian's prometheus package into
 * .toolchain/ by scripts/test): `check rules` on the rule file, `test rules` on every unit-test
 * file beside it. No promtool is a failure, not a skip.
 */
const root = repoRoot();
const rulesDir = join(root, 'deploy', 'prometheus');
const testFiles = loadRuleTests(root);
const scratch = mkdtempSync(join(tmpdir(), 'promtool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('deploy/prometheus', () => {
  it('promtool is there to run', () => {
    assert.ok(promtoolPath(root));
    const result = promtool(['--version'], root, root);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /^promtool, version \d+\.\d+/);
  });

  it('no promtool is an error, not a skip', () => {
    const saved = { PROMTOOL: process.env.PROMTOOL, PATH: process.env.PATH };
    try {
      process.env.PROMTOOL = join(scratch, 'absent');
      assert.throws(() => promtoolPath(root), /does not exist/);
      delete process.env.PROMTOOL;
      process.env.PATH = scratch;
      assert.throws(() => promtoolPath(scratch), /no promtool/);
    } finally {
      Object.assign(process.env, saved);
      if (saved.PROMTOOL === undefined) {
        delete process.env.PROMTOOL;
      }
    }
  });

  it('promtool check rules accepts stocklab-rules.yaml', () => {
    const result = promtool(['check', 'rules', RULES_FILE], root, root);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /SUCCESS: \d+ rules found/);
  });

  it('has unit-test files', () => {
    assert.ok(testFiles.length > 0, 'deploy/prometheus/*.test.yaml');
  });

  for (const { file } of testFiles) {
    it(`promtool test rules ${file} passes`, () => {
      const result = promtool(['test', 'rules', file], rulesDir, root);
      assert.equal(result.status, 0, result.output);
    });
  }

  it('the unit tests see each alert fire and stay silent', () => {
    assert.deepEqual(checkRuleTestCoverage(loadRules(root), testFiles), []);
  });

  it('every alert has a severity, a summary, a description and a runbook subsection of the README', () => {
    assert.deepEqual(checkAlertRules(loadRules(root), readFileSync(join(root, 'README.md'), 'utf8')), []);
  });

  it('promtool test rules fails an expectation the rules do not meet (the harness can fail)', () => {
    copyFileSync(join(rulesDir, 'stocklab-rules.yaml'), join(scratch, 'stocklab-rules.yaml'));
    writeFileSync(
      join(scratch, 'wrong.test.yaml'),
      [
        'rule_files: [stocklab-rules.yaml]',
        'tests:',
        '  - interval: 15s',
        '    input_series:',
        '      - series: leader_election_is_leader{namespace="x", lease="l", pod="a"}',
        '        values: 1x40',
        '    alert_rule_test:',
        '      - eval_time: 5m',
        '        alertname: StocklabSchedulerNoLeader',
        '        exp_alerts: [{ exp_labels: { severity: critical, namespace: x, lease: l } }]',
        '',
      ].join('\n'),
    );
    const result = promtool(['test', 'rules', 'wrong.test.yaml'], scratch, root);
    assert.notEqual(result.status, 0);
    assert.match(result.output, /FAILED/);
  });
});
