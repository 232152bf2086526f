#!/usr/bin/env bash
# Mounts the instance's data disk at /mnt (formatting it, once, when it has no filesystem) and
# makes the directories dw-host and Docker keep there. Run by dw-host-data-disk.service before
# Docker starts. Which disk: DW_DATA_DISK from /etc/default/dw-host, else the first of the usual
# names for a cloud instance's second disk. Without one, /mnt stays on the root disk.
set -euo pipefail
# shellcheck source=/dev/null
[[ -r /etc/default/dw-host ]] && . /etc/default/dw-host

say() { printf 'dw-host-data-disk: %s\n' "$*"; }

find_disk() {
  if [[ -n "${DW_DATA_DISK:-}" ]]; then
    echo "$DW_DATA_DISK"
    return
  fi
  for disk in /dev/nvme1n1 /dev/sdb /dev/vdb /dev/xvdb; do
    [[ -b "$disk" ]] && { echo "$disk"; return; }
  done
}

if mountpoint -q /mnt; then
  say "/mnt is mounted already"
else
  disk=$(find_disk)
  if [[ -z "$disk" ]]; then
    say "no data disk found: Docker and the caches stay on the root disk"
  else
    if ! blkid "$disk" >/dev/null 2>&1; then
      say "formatting $disk (ext4)"
      mkfs.ext4 -q -L dw-data "$disk"
    fi
    mount "$disk" /mnt
    say "mounted $disk at /mnt"
  fi
fi
# Docker's data root, the volume caches (cache.volumeCachePath), dw-host's spool and state.
mkdir -p /mnt/docker /mnt/var/cache/docker-worker /mnt/dw-host/work /mnt/dw-host/state
