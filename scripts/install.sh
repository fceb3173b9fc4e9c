#!/usr/bin/env bash
# Install everything nbdock needs on a Debian or Ubuntu machine (run as root):
# the kernel-facing tools, the reference Docker engine and registry used by the tests,
# and nbdock itself with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "nbdock makes namespaces, mounts and cgroups: run this as root (sudo $0)" >&2
    exit 1
fi

packages=(
    busybox-static   # the embedded default image: busybox made from the host's static binary
    iproute2         # `ip`, to look at what nbdock's netlink calls did
    iptables         # published ports and bridge forwarding rules
    procps           # `ps`, which `docker top` runs
    tini             # docker-init (a static tini) for `run --init`
    uidmap           # newuidmap/newgidmap: user namespaces with subordinate ids (--userns-remap, rootless)
    git              # git build contexts
    docker.io        # the reference engine the differential tests compare against
    docker-registry  # a local OCI registry for push/pull tests and the registry tutorial
    etcd-server      # etcd 3.4: the cluster store of overlay networks (--cluster-store etcd://...)
    docker-compose   # the real compose client (1.29), run against nbdock by %%compose and the compose scenarios
    chromium         # the browser check of the notebook widgets (tests only)
)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

python3 -m pip install --quiet --disable-pip-version-check -e ".[dev]"
