import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { repoRoot } from './repo.js';

/**
 * The promtool the alert checks run: $PROMTOOL, else the copy scripts/test extracts into
 * .toolchain/ (scripts/lib/env.sh: ensure_promtool), else one on PATH. None is an error, never a
 * reason to skip: the alert rules would otherwise ship untested.
 */
export function promtoolPath(root = repoRoot()): string {
  const fromEnv = process.env.PROMTOOL;
  if (fromEnv) {
    if (!existsSync(fromEnv)) {
      throw new Error(`PROMTOOL=${fromEnv} does not exist`);
    }
    return fromEnv;
  }
  const candidates = [
    join(root, '.toolchain', 'promtool', 'promtool'),
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter((dir) => dir !== '')
      .map((dir) => join(dir, 'promtool')),
  ];
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(
      "no promtool: run ./scripts/test once (it extracts promtool from Debian's prometheus package into .toolchain/), or set PROMTOOL",
    );
  }
  return found;
}

export interface PromtoolResult {
  status: number;
  /** stdout and stderr together, as promtool reports a failure on either */
  output: string;
}

/** Runs promtool with these arguments in `cwd` (test files name their rule files relative to it). */
export function promtool(args: string[], cwd: string, root = repoRoot()): PromtoolResult {
  const result = spawnSync(promtoolPath(root), args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (result.error) {
    throw result.error;
  }
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}
