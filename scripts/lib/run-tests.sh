#!/usr/bin/env bash
# Runs every package's tests (after scripts/test or npm test has built them): the two longest
# packages, e2e (whole platforms under chaos) and trading (replicas, failovers, the Kiwoom chaos),
# in the background from the start (together they are the critical path, and both spend most of
# their time waiting on processes and clocks, not on the CPU), the other packages beside them, $1
# at a time. Exits non-zero when any part failed.
set -uo pipefail
parallel="${1:-1}"
# The suite starts well over a hundred service processes: V8's on-disk compile cache spares each the
# compilation of NestJS, TypeORM and the services' own modules after the first.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.run/node-compile-cache}"
long=(e2e trading)
pids=()
for name in "${long[@]}"; do
  (
    set -o pipefail
    npm test --silent -w "@stocklab/$name" 2>&1 | sed -u "s/^/@stocklab\/$name: /"
  ) &
  pids+=($!)
done
# --excludeTaskDependencies: the packages are built already, and nx restoring a package's dist/
# from its cache would race with e2e's compile, which reads those files at the same moment
nx run-many -t test --exclude="$(printf '@stocklab/%s,' "${long[@]}" | sed 's/,$//')" --parallel="$parallel" \
  --excludeTaskDependencies --output-style=stream
failed=$?
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
exit $(( failed == 0 ? 0 : 1 ))
