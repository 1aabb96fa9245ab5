#!/usr/bin/env bash
# Runs every package's tests (after scripts/test or npm test has built them): e2e in the background from
# the start (it is the critical path), the other packages beside it, $1 at a time. Exits
# non-zero when either part failed.
set -uo pipefail
parallel="${1:-2}"
# The suite starts well over a hundred service processes: V8's on-disk compile cache spares each the
# compilation of NestJS, TypeORM and the services' own modules after the first.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.run/node-compile-cache}"
(
  set -o pipefail
  npm test --silent -w @stocklab/e2e 2>&1 | sed -u 's/^/@stocklab\/e2e: /'
) &
e2e=$!
# --excludeTaskDependencies: the packages are built already, and nx restoring a package's dist/
# from its cache would race with e2e's compile, which reads those files at the same moment
nx run-many -t test --exclude=@stocklab/e2e --parallel="$parallel" --excludeTaskDependencies --output-style=stream
others=$?
wait "$e2e"
e2e_status=$?
if [[ $others -ne 0 || $e2e_status -ne 0 ]]; then
  exit 1
fi
