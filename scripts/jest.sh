#!/usr/bin/env bash
# Runs Jest for the workspace package in the current folder: type-checks and compiles its
# sources and tests (tsc -p tsconfig.spec.json -> dist-spec/), then runs the emitted ESM.
# Extra arguments go to Jest (a file name pattern, -t 'test name', --coverage=false).
set -euo pipefail
# plain text in logs and CI output (nx asks its tasks for colours)
export FORCE_COLOR=0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/node_modules/.bin/tsc" -p tsconfig.spec.json
# Each package's results as JSON, for the suite's closing line (scripts/lib/summarize-tests.mjs).
results="$root/.run/test-results/$(basename "$PWD").json"
mkdir -p "$(dirname "$results")"
rm -f "$results"
exec node --experimental-vm-modules --disable-warning=ExperimentalWarning \
  "$root/node_modules/jest/bin/jest.js" --ci --json --outputFile="$results" "$@"
