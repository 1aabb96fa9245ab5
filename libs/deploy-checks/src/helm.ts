import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { repoRoot } from './repo.js';
import type { Problems } from './rules.js';

export const chartDir = (root = repoRoot()): string => join(root, 'helm', 'stocklab');

export function loadValues(root = repoRoot()): Record<string, unknown> {
  return parse(readFileSync(join(chartDir(root), 'values.yaml'), 'utf8')) as Record<string, unknown>;
}

/** values.yaml against the committed values.schema.json (what helm install/lint enforce). */
export function checkValuesSchema(values: unknown, root = repoRoot()): Problems {
  const schema = JSON.parse(readFileSync(join(chartDir(root), 'values.schema.json'), 'utf8')) as object;
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  return validate(values) ? [] : (validate.errors ?? []).map((e) => `values${e.instancePath} ${e.message ?? ''}`);
}

function lookup(values: unknown, path: string[]): boolean {
  let node: unknown = values;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) {
      return false;
    }
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

function templates(root: string): { file: string; text: string }[] {
  const dir = join(chartDir(root), 'templates');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ya?ml|tpl|txt)$/.test(f))
    .map((f) => ({ file: f, text: readFileSync(join(dir, f), 'utf8') }));
}

/**
 * Every `.Values.a.b` a template reads exists in values.yaml, and so does every `$var.a.b`
 * read from the entries of a `range $k, $var := .Values.x` loop (in every entry of x).
 */
export function checkTemplateValues(values: Record<string, unknown>, root = repoRoot()): Problems {
  const problems: Problems = [];
  for (const { file, text } of templates(root)) {
    for (const m of text.matchAll(/\.Values((?:\.[A-Za-z0-9_]+)+)/g)) {
      const path = (m[1] ?? '').slice(1).split('.');
      if (!lookup(values, path)) {
        problems.push(`${file}: .Values.${path.join('.')} is not in values.yaml`);
      }
    }
    for (const loop of text.matchAll(/range\s+\$\w+,\s*\$(\w+)\s*:=\s*\.Values((?:\.[A-Za-z0-9_]+)+)/g)) {
      const variable = loop[1] ?? '';
      const base = (loop[2] ?? '').slice(1).split('.');
      let node: unknown = values;
      for (const key of base) {
        node = (node as Record<string, unknown> | undefined)?.[key];
      }
      const entries = Object.entries((node as Record<string, unknown> | undefined) ?? {});
      for (const m of text.matchAll(new RegExp(`\\$${variable}((?:\\.[A-Za-z0-9_]+)+)`, 'g'))) {
        const path = (m[1] ?? '').slice(1).split('.');
        for (const [key, entry] of entries) {
          if (!lookup(entry, path)) {
            problems.push(`${file}: $${variable}.${path.join('.')} is missing in .Values.${base.join('.')}.${key}`);
          }
        }
      }
    }
  }
  return problems;
}

/** Every `## @param` names an existing value, and every top-level value is documented. */
export function checkValuesDocumented(values: Record<string, unknown>, root = repoRoot()): Problems {
  const text = readFileSync(join(chartDir(root), 'values.yaml'), 'utf8');
  const documented = [...text.matchAll(/^## @param ([\w.-]+)/gm)].map((m) => m[1] ?? '');
  const problems: Problems = [];
  for (const path of documented) {
    if (!lookup(values, path.split('.'))) {
      problems.push(`values.yaml: @param ${path} documents no value`);
    }
  }
  const covered = (path: string): boolean => documented.some((d) => d === path || d.startsWith(`${path}.`));
  for (const key of Object.keys(values)) {
    if (!covered(key)) {
      problems.push(`values.yaml: ${key} has no ## @param`);
    }
  }
  return problems;
}
