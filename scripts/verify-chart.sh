#!/usr/bin/env bash
# Lints and renders the Helm chart with the real helm (pinned, installed into .toolchain/ like
# Node) and checks every rendering: the Kubernetes schemas, the rules the kustomize overlays pass,
# and parity with the prod overlay (libs/deploy-checks). A cluster is not needed and not used:
# `helm install --dry-run=server` is the one check that cannot run here.
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
source "$REPO_ROOT/scripts/lib/system-packages.sh"
ensure_system_packages
ensure_dependencies
ensure_kube_tools
ensure_promtool
cd "$REPO_ROOT"
nx run-many -t build -p @stocklab/deploy-checks --output-style=static >/dev/null
npm test --silent -w @stocklab/deploy-checks -- --coverage=false
echo "verify-chart: ok ($("$HELM" version --short), $("$KUBECTL" version --client | head -1), $("$PROMTOOL" --version | head -1))"
