#!/usr/bin/env bash
# Makes a machine provisioned by infra/provision.sh a dw-host worker (the machine image; also
# `vagrant provision --provision-with worker` in the dev VM). Run as root, from the project at
# /opt/dw-host/app (packer) or anywhere (it uses its own location). Idempotent.
#
#   DW_WORKER_MODE            worker-runner (default) or standalone (dw-host.service, permanent credentials)
#   DW_WORKER_RUNNER_URL      where to fetch worker-runner's start-worker binary (none: not installed)
#   DW_WORKER_RUNNER_SHA256   its sha256 (required with the URL)
#   DW_WORKER_RUNNER_PROVIDER providerType in /etc/taskcluster/worker-runner.yaml (default aws)
#   DW_LOOPBACK_DEVICES       v4l2loopback devices and snd-aloop cards (default 4)
set -euo pipefail

APP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FILES="$APP_DIR/infra/packer/files"
MODE="${DW_WORKER_MODE:-worker-runner}"
DEVICES="${DW_LOOPBACK_DEVICES:-4}"
export DEBIAN_FRONTEND=noninteractive

say() { printf '[setup-worker] %s\n' "$*"; }
die() { printf '[setup-worker] error: %s\n' "$*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root"
[[ "$MODE" == worker-runner || "$MODE" == standalone ]] || die "DW_WORKER_MODE must be worker-runner or standalone, not $MODE"
[[ "$DEVICES" =~ ^[0-9]+$ ]] || die "DW_LOOPBACK_DEVICES must be a number"

# ---------------------------------------------------------------- dw-host itself
say "installing dw-host's runtime dependencies"
(cd "$APP_DIR" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
install -m 0755 "$FILES/dw-host-worker" /usr/local/bin/dw-host-worker
ln -sf "$APP_DIR/bin/dw-host" /usr/local/bin/dw-host
# A pool's own functions directory (claim.ts, run.ts, upload.ts, resolve.ts): dw-host-worker passes
# --functions when it holds one. Empty: the built-in functions.
install -d -m 0755 /etc/dw-host /etc/dw-host/functions /var/lib/dw-host
[[ -e /etc/dw-host/worker-config.json ]] || install -m 0600 "$FILES/worker-config.json" /etc/dw-host/worker-config.json
[[ -e /etc/default/dw-host ]] || install -m 0644 "$FILES/default-dw-host" /etc/default/dw-host

# ---------------------------------------------------------------- the data disk
# Docker's data root, the volume caches and dw-host's spool live on the instance's data disk,
# mounted at /mnt before Docker starts (docker-worker's dockerVolume was /mnt too).
install -m 0755 "$FILES/data-disk.sh" /usr/local/sbin/dw-host-data-disk
install -m 0644 "$FILES/dw-host-data-disk.service" /etc/systemd/system/dw-host-data-disk.service
install -d /etc/systemd/system/docker.service.d
printf '[Unit]\nRequires=dw-host-data-disk.service\nAfter=dw-host-data-disk.service\n' \
  >/etc/systemd/system/docker.service.d/dw-host-data-disk.conf
node -e '
  const fs = require("node:fs"); const file = "/etc/docker/daemon.json";
  let config = {}; try { config = JSON.parse(fs.readFileSync(file, "utf8")); } catch (e) { if (e.code !== "ENOENT") throw e; }
  config["data-root"] = "/mnt/docker";
  fs.mkdirSync("/etc/docker", { recursive: true });
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + "\n");'

# ---------------------------------------------------------------- loopback devices for test pools
# v4l2loopback is built by DKMS for the installed kernel; snd-aloop is in Debian's full kernel
# (the cloud kernel has no sound drivers), hence linux-image-amd64.
say "installing v4l2loopback and the kernel that has snd-aloop"
apt-get install -y -q --no-install-recommends linux-image-amd64 linux-headers-amd64 v4l2loopback-dkms
printf 'v4l2loopback\nsnd-aloop\n' >/etc/modules-load.d/dw-host.conf
cards=$(seq -s, 1 "$DEVICES" | sed 's/[0-9]*/1/g')
printf 'options v4l2loopback devices=%s exclusive_caps=1\noptions snd-aloop enable=%s\n' "$DEVICES" "$cards" \
  >/etc/modprobe.d/dw-host.conf

# ---------------------------------------------------------------- the services
install -m 0644 "$FILES/dw-host.service" /etc/systemd/system/dw-host.service
install -m 0644 "$FILES/worker-runner.service" /etc/systemd/system/worker-runner.service
if [[ -n "${DW_WORKER_RUNNER_URL:-}" ]]; then
  [[ -n "${DW_WORKER_RUNNER_SHA256:-}" ]] || die "DW_WORKER_RUNNER_URL needs DW_WORKER_RUNNER_SHA256"
  say "installing worker-runner from $DW_WORKER_RUNNER_URL"
  curl -fsSL -o /usr/local/bin/start-worker.partial "$DW_WORKER_RUNNER_URL"
  echo "$DW_WORKER_RUNNER_SHA256  /usr/local/bin/start-worker.partial" | sha256sum -c --quiet
  chmod 0755 /usr/local/bin/start-worker.partial
  mv /usr/local/bin/start-worker.partial /usr/local/bin/start-worker
fi
install -d -m 0700 /etc/taskcluster
if [[ ! -e /etc/taskcluster/worker-runner.yaml ]]; then
  sed "s/@PROVIDER@/${DW_WORKER_RUNNER_PROVIDER:-aws}/" "$FILES/worker-runner.yaml" >/etc/taskcluster/worker-runner.yaml
  chmod 0600 /etc/taskcluster/worker-runner.yaml
fi
# The image runs no test services.
if [[ -d /run/systemd/system ]]; then
  systemctl disable --now rabbitmq-server >/dev/null 2>&1 || say "rabbitmq-server was not enabled"
  systemctl daemon-reload
  systemctl enable dw-host-data-disk.service
  if [[ "$MODE" == worker-runner ]]; then
    [[ -x /usr/local/bin/start-worker ]] || say "warning: no /usr/local/bin/start-worker yet (set DW_WORKER_RUNNER_URL)"
    systemctl disable dw-host.service >/dev/null 2>&1 || true
    systemctl enable worker-runner.service
  else
    systemctl disable worker-runner.service >/dev/null 2>&1 || true
    systemctl enable dw-host.service
  fi
fi
say "ready: $MODE; config in /etc/dw-host (standalone) or /etc/taskcluster/worker-runner.yaml"
