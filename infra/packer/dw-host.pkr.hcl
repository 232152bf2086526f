# Machine image for dw-host workers: Debian 12 with Docker, Node 24 and dw-host installed by the
# same provisioning script as CI and the Vagrant VM. Build: packer build infra/packer
packer {
  required_plugins {
    qemu = { source = "github.com/hashicorp/qemu", version = ">= 1.1.0" }
  }
}

variable "debian_image_url" {
  type        = string
  description = "A Debian 12 cloud image (qcow2) reachable from the build host."
}

variable "debian_image_checksum" {
  type = string
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
    inline = [
      "sudo rm -rf /opt/dw-host/app && sudo mkdir -p /opt/dw-host && sudo mv /tmp/dw-host /opt/dw-host/app",
      "sudo bash /opt/dw-host/app/infra/provision.sh",
    ]
  }
}
