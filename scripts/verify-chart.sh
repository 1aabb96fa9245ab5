#!/usr/bin/env bash
# Lints and renders the Helm chart and validates the output against the Kubernetes schemas.
# Needs helm and kubeconform on PATH. Neither exists on the development machines (no helm binary
# is reachable there): the script then says so and exits 2 instead of pretending to pass.
# The static chart checks that run everywhere are in libs/deploy-checks (values schema, values
# referenced by the templates).
set -euo pipefail
cd "$(dirname "$0")/.."
chart=helm/stocklab
for tool in helm kubeconform; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "verify-chart: $tool not found on PATH; the chart was NOT linted or rendered" >&2
    exit 2
  fi
done
values=(--set existingSecret=stocklab-secrets)
helm lint --strict "$chart" "${values[@]}"
helm template stocklab "$chart" --namespace stocklab "${values[@]}" \
  | kubeconform -strict -summary -kubernetes-version 1.32.0 -ignore-missing-schemas
helm template stocklab "$chart" --namespace stocklab "${values[@]}" \
  --set ingress.tls.enabled=true --set ingress.host=api.example.com \
  --set services.auth.autoscaling.enabled=false \
  | kubeconform -strict -summary -kubernetes-version 1.32.0
echo "verify-chart: ok"
