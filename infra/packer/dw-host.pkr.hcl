# Machine image for dw-host workers: Debian 12 with Docker, Node 24 and dw-host, provisioned by the
# same infra/provision.sh as CI and the Vagrant VM, then made a worker by setup-worker.sh: dw-host
# (or worker-runner launching it) as a systemd service logging to journald, Docker's data root and
# the cache root on the instance's data disk, v4l2loopback and snd-aloop for test pools.
#
#   packer build -var debian_image_url=... -var debian_image_checksum=sha512:... infra/packer
#
# Written for Debian 12's packer (1.6.6), whose qemu builder is built in; newer Packer releases
# need the plugin first: packer plugins install github.com/hashicorp/qemu
# CI checks it with `packer validate` (tests/integration/infra.test.ts).

variable "debian_image_url" {
  type        = string
  description = "A Debian 12 cloud image (qcow2) reachable from the build host."
  default     = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"
}

variable "debian_image_checksum" {
  type        = string
  description = "Its checksum, e.g. sha512:<hex> or file:<url of SHA512SUMS>."
  default     = "file:https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS"
}

variable "worker_mode" {
  type        = string
  description = "worker-runner: worker-runner starts dw-host (pools managed by worker-manager); standalone: dw-host.service with a config file of permanent credentials."
  default     = "worker-runner"
}

variable "worker_runner_url" {
  type        = string
  description = "Where to download Taskcluster's start-worker binary (worker-runner) from; empty for a standalone image."
  default     = ""
}

variable "worker_runner_sha256" {
  type        = string
  description = "The sha256 of that binary (required with worker_runner_url)."
  default     = ""
}

variable "worker_runner_provider" {
  type        = string
  description = "worker-runner's providerType in the image's runner config: aws, google, azure (from instance metadata), or static/standalone (then edit /etc/taskcluster/worker-runner.yaml)."
  default     = "aws"
}

variable "loopback_devices" {
  type        = number
  description = "v4l2loopback video devices and snd-aloop cards to create: one per task slot of a test pool."
  default     = 4
}

source "qemu" "debian12" {
  iso_url          = var.debian_image_url
  iso_checksum     = var.debian_image_checksum
  disk_image       = true
  disk_size        = "20G"
  format           = "qcow2"
  headless         = true
  ssh_username     = "debian"
  ssh_timeout      = "20m"
  shutdown_command = "sudo shutdown -P now"
  output_directory = "output-dw-host"
}

build {
  sources = ["source.qemu.debian12"]

  provisioner "file" {
    source      = "${path.root}/../.."
    destination = "/tmp/dw-host"
  }

  provisioner "shell" {
    environment_vars = [
      "DW_WORKER_MODE=${var.worker_mode}",
      "DW_WORKER_RUNNER_URL=${var.worker_runner_url}",
      "DW_WORKER_RUNNER_SHA256=${var.worker_runner_sha256}",
      "DW_WORKER_RUNNER_PROVIDER=${var.worker_runner_provider}",
      "DW_LOOPBACK_DEVICES=${var.loopback_devices}",
    ]
    inline = [
      "sudo rm -rf /opt/dw-host/app && sudo mkdir -p /opt/dw-host && sudo mv /tmp/dw-host /opt/dw-host/app",
      "sudo bash /opt/dw-host/app/infra/provision.sh --no-project",
      "sudo --preserve-env=DW_WORKER_MODE,DW_WORKER_RUNNER_URL,DW_WORKER_RUNNER_SHA256,DW_WORKER_RUNNER_PROVIDER,DW_LOOPBACK_DEVICES bash /opt/dw-host/app/infra/packer/setup-worker.sh",
    ]
  }
}
