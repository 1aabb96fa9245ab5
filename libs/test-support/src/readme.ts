import { readFileSync } from 'node:fs';

interface DocumentedVariable {
  defaultValue?: string;
}

/**
 * Checks that the README's configuration table has a row for every variable of `schema`
 * (a first cell of exactly `NAME` in backticks) showing its default; returns the problems found.
 */
export function undocumentedVariables(readmePath: string, schema: Record<string, DocumentedVariable>): string[] {
  const lines = readFileSync(readmePath, 'utf8').split('\n');
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(schema)) {
    const row = lines.find((line) => new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`).test(line));
    if (!row) {
      problems.push(`${name} has no row`);
    } else if (spec.defaultValue !== undefined && !row.includes(`\`${spec.defaultValue}\``)) {
      problems.push(`${name}'s row does not show its default ${spec.defaultValue}`);
    }
  }
  return problems;
}
