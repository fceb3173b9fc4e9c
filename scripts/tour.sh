#!/usr/bin/env bash
# Install everything, then take the tour: build a small image, run it, look at its layers,
# watch a memory limit at work, see what the kernel did.  Offline; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec python3 -m nbdock.tour
