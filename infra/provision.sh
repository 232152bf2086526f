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
AUTH_REGISTRY_CONFIG=/etc/dw-host/registry-auth.yml
AUTH_REGISTRY_HTPASSWD=/etc/dw-host/registry-auth.htpasswd
# The test user of the auth registry (tests/harness/registry.ts has the same two values).
AUTH_REGISTRY_USER=dw-test
AUTH_REGISTRY_PASSWORD=dw-test-registry-password
DOCKER_DAEMON_CONFIG=/etc/docker/daemon.json
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
# zstd, lz4 and curl: the baseline of the image benchmark (`curl | zstd -d | docker load`) and test
# archives; apache2-utils: `htpasswd -B`, the bcrypt file the auth registry reads; chromium: the
# interactive shell page's browser test (driven by playwright-core, which never downloads a browser).
install_packages ca-certificates iproute2 procps time docker.io rabbitmq-server docker-registry busybox-static \
  zstd lz4 curl apache2-utils chromium
# CI's checks of the machine image and the VM (tests/integration/infra.test.ts), Debian's own.
install_packages shellcheck packer vagrant
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

# The engine pulls Docker Hub names through the local registry first (registry-mirrors), so
# payloads naming `ubuntu:22.04` and the like run offline once stand-ins are pushed there.
# Merged into an existing daemon.json; a running engine reloads it on SIGHUP (no restart).
configure_docker_mirror() {
  mkdir -p "$(dirname "$DOCKER_DAEMON_CONFIG")"
  local changed
  changed=$(node -e '
    const fs = require("node:fs"); const file = process.argv[1]; const mirror = "http://127.0.0.1:5000";
    let config = {}; try { config = JSON.parse(fs.readFileSync(file, "utf8")); } catch (e) { if (e.code !== "ENOENT") throw e; }
    const mirrors = config["registry-mirrors"] ?? [];
    if (mirrors.includes(mirror)) { console.log("no"); process.exit(0); }
    config["registry-mirrors"] = [...mirrors, mirror];
    fs.writeFileSync(file + ".tmp", JSON.stringify(config, null, 2) + "\n"); fs.renameSync(file + ".tmp", file);
    console.log("yes");' "$DOCKER_DAEMON_CONFIG")
  [[ "$changed" == yes ]] || return 0
  say "registry-mirrors: http://127.0.0.1:5000 in $DOCKER_DAEMON_CONFIG"
  if docker info >/dev/null 2>&1; then
    if has_systemd; then systemctl reload docker; else kill -HUP "$(cat /var/run/docker.pid 2>/dev/null || pidof dockerd)"; fi
    wait_for "the engine to reload its mirrors" 10 docker_has_mirror
  fi
}
docker_has_mirror() { docker info --format '{{json .RegistryConfig.Mirrors}}' | grep -q '127.0.0.1:5000'; }

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

# A second registry that asks for a login (htpasswd, bcrypt), for the credential tests.
start_auth_registry() {
  if ! htpasswd -vbB "$AUTH_REGISTRY_HTPASSWD" "$AUTH_REGISTRY_USER" "$AUTH_REGISTRY_PASSWORD" >/dev/null 2>&1; then
    htpasswd -cbB "$AUTH_REGISTRY_HTPASSWD" "$AUTH_REGISTRY_USER" "$AUTH_REGISTRY_PASSWORD" 2>/dev/null
  fi
  cat >"$AUTH_REGISTRY_CONFIG" <<YAML
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: /var/lib/docker-registry-auth }
  delete: { enabled: true }
auth:
  htpasswd: { realm: dw-host-test, path: $AUTH_REGISTRY_HTPASSWD }
http:
  addr: 127.0.0.1:5001
YAML
  auth_registry_up && return 0
  say "starting the auth registry on 127.0.0.1:5001"
  nohup docker-registry serve "$AUTH_REGISTRY_CONFIG" >"$LOG_DIR/registry-auth.log" 2>&1 &
  wait_for "auth registry" 30 auth_registry_up
}
# Up means it answers /v2/ with 401: it asks for the login.
auth_registry_up() { (exec 3<>/dev/tcp/127.0.0.1/5001 && printf 'GET /v2/ HTTP/1.0\r\n\r\n' >&3 && grep -q '401 Unauthorized' <&3) 2>/dev/null; }

configure_docker_mirror
start_docker
start_rabbitmq
start_registry
start_auth_registry

# ---------------------------------------------------------------- the project
if [[ $WITH_PROJECT -eq 1 ]]; then
  cd "$PROJECT_DIR"
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  say "building test images"
  node tests/harness/build-test-images.ts
  ln -sf "$PROJECT_DIR/bin/dw-host" /usr/local/bin/dw-host
fi
say "ready: docker $(docker version --format '{{.Server.Version}}'), rabbitmq, registries 127.0.0.1:5000 and :5001 (auth)"
