#!/usr/bin/env bash
# Runs every package's tests (after scripts/test or npm test has built them): e2e in the background from
# the start, the other packages beside it, $1 at a time, the longest first. Exits non-zero when any
# package failed.
set -uo pipefail
parallel="${1:-2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The suite starts well over a hundred service processes: V8's on-disk compile cache spares each the
# compilation of NestJS, TypeORM and the services' own modules after the first.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$root/.run/node-compile-cache}"
# Filled before the first wave: the tests' first minute starts some twenty service processes at once
# (each package's first files with their replicas, e2e's platforms), and with an empty cache every
# one of them compiled the same modules on two shared cores. As the images fill theirs.
for service in "$root"/services/*/; do
  (
    cd "$service" || exit 1
    entries=(--entry dist/bundle/main.js --entry dist/bundle/migrate.js)
    if [[ -f dist/bundle/worker.js ]]; then
      entries+=(--entry dist/bundle/worker.js dist/bundle/backtest-thread.js)
    fi
    node "$root/libs/platform/dist/bootstrap/warm-compile-cache.js" "${entries[@]}" pg >/dev/null
  ) &
done
wait

# One package's tests (its folder), each output line prefixed with the package's name.
run_package() {
  set -o pipefail
  npm test --silent -w "$1" 2>&1 | sed -u "s|^|${1##*/}: |"
}
export -f run_package

(run_package libs/e2e) &
e2e=$!
# Longest first (the sum of each package's file durations in scripts/lib/test-durations.json), so
# that the long packages start with e2e and the short ones fill the cores at the end, instead of
# the longest starting last and running alone: trading's files spend much of their time waiting
# on the broker double's pacing and timeouts, which overlaps well with the CPU-bound e2e.
mapfile -t packages < <(node "$root/scripts/lib/workspace-packages.mjs" --exclude e2e --longest-first)
# nx needs no say here: every package is built already (and nx restoring a package's dist/ from its
# cache would race with the tests that read those files at the same moment)
printf '%s\n' "${packages[@]}" | xargs -P "$parallel" -I{} bash -c 'run_package "$1"' _ {}
others=$?
wait "$e2e"
e2e_status=$?
if [[ $others -ne 0 || $e2e_status -ne 0 ]]; then
  exit 1
fi
