#!/usr/bin/env bash
# Install what the tour needs (scripts/install.sh), then take the tour: build a small image, run it,
# look at its layers, watch a memory limit at work, see what the kernel did.  Offline.
# Run as root: in a root shell `scripts/tour.sh`, or `sudo scripts/tour.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "the tour makes namespaces, mounts and cgroups: run it as root (a root shell, or: sudo $0)" >&2
    exit 1
fi
bash scripts/install.sh
exec .venv/bin/python -m nbdock.tour
