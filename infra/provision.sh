#!/usr/bin/env bash
# Installs and starts everything dw-host and its tests need, on Debian 12 or Ubuntu, as root.
# Idempotent: run it again and it only does what is missing. Shared by Packer (machine image),
# Vagrant (dev VM) and CI (.ci/run), so all three get the same machine.
#
#   infra/provision.sh            install, start services, npm install, build test images
#   infra/provision.sh --no-project   system only (Packer bakes the project in separately)
set -euo pipefail

PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WITH_PROJECT=1
[[ "${1:-}" == "--no-project" ]] && WITH_PROJECT=0
NODE_PREFIX=/opt/dw-host/node24
STATE_DIR=/var/lib/dw-host
LOG_DIR=/var/log/dw-host
REGISTRY_CONFIG=/etc/dw-host/registry.yml
export DEBIAN_FRONTEND=noninteractive

say() { printf '[provision] %s\n' "$*"; }
die() { printf '[provision] error: %s\n' "$*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root (sudo $0)"
mkdir -p "$STATE_DIR" "$LOG_DIR" /etc/dw-host

# ---------------------------------------------------------------- Debian packages
install_packages() {
  local missing=()
  for pkg in "$@"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  say "installing ${missing[*]}"
  apt-get update -q
  # Services are started below, by this script, whether or not the machine runs systemd.
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}
install_packages ca-certificates iproute2 procps time docker.io rabbitmq-server docker-registry busybox-static
command -v npm >/dev/null || install_packages nodejs npm

# ---------------------------------------------------------------- Node 24 LTS
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
install_node24() {
  local bin="$NODE_PREFIX/node_modules/node/bin/node"
  if ! "$bin" --version >/dev/null 2>&1; then
    say "installing Node 24 from the npm package node@24 into $NODE_PREFIX"
    npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error node@24
  fi
  if ! "$bin" --version >/dev/null 2>&1; then
    # node@24 fetches its binary in a preinstall script; where npm's script policy skipped it,
    # take the same binary from the per-platform package, which needs no script.
    local arch; arch=$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')
    npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error "node-linux-$arch@24"
    bin="$NODE_PREFIX/node_modules/node-linux-$arch/bin/node"
  fi
  ln -sf "$bin" /usr/local/bin/node
  hash -r
}
if [[ "$(node_major)" -lt 24 ]]; then install_node24; fi
[[ "$(node_major)" -ge 24 ]] || die "node on PATH is $(node --version 2>&1), expected 24 (is /usr/local/bin before /usr/bin on PATH?)"
say "node $(node --version), npm $(npm --version)"

# ---------------------------------------------------------------- services
has_systemd() { [[ "$(ps -p 1 -o comm= 2>/dev/null)" == systemd ]]; }

wait_for() { # wait_for WHAT SECONDS COMMAND...
  local what=$1 seconds=$2; shift 2
  for ((i = 0; i < seconds * 4; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  die "$what did not come up within ${seconds}s (logs in $LOG_DIR)"
}

start_docker() {
  docker info >/dev/null 2>&1 && return 0
  say "starting the Docker engine"
  if has_systemd; then systemctl start docker; else nohup dockerd >"$LOG_DIR/dockerd.log" 2>&1 & fi
  wait_for "Docker engine" 60 docker info
}

start_rabbitmq() {
  rabbitmqctl -q status >/dev/null 2>&1 && return 0
  say "starting RabbitMQ"
  if has_systemd; then systemctl start rabbitmq-server; else (cd /var/lib/rabbitmq && rabbitmq-server -detached); fi
  wait_for "RabbitMQ" 90 rabbitmqctl -q await_startup --timeout 5
}

start_registry() {
  # Our own config: no auth, loopback only. Debian's default config points htpasswd at a directory.
  cat >"$REGISTRY_CONFIG" <<'YAML'
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: /var/lib/docker-registry }
  delete: { enabled: true }
http:
  addr: 127.0.0.1:5000
YAML
  registry_up && return 0
  say "starting the registry on 127.0.0.1:5000"
  nohup docker-registry serve "$REGISTRY_CONFIG" >"$LOG_DIR/registry.log" 2>&1 &
  wait_for "registry" 30 registry_up
}
registry_up() { (exec 3<>/dev/tcp/127.0.0.1/5000 && printf 'GET /v2/ HTTP/1.0\r\n\r\n' >&3 && grep -q '200 OK' <&3) 2>/dev/null; }

start_docker
start_rabbitmq
start_registry

# ---------------------------------------------------------------- the project
if [[ $WITH_PROJECT -eq 1 ]]; then
  cd "$PROJECT_DIR"
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  say "building test images"
  node tests/harness/build-test-images.ts
  ln -sf "$PROJECT_DIR/bin/dw-host" /usr/local/bin/dw-host
fi
say "ready: docker $(docker version --format '{{.Server.Version}}'), rabbitmq, registry 127.0.0.1:5000"
