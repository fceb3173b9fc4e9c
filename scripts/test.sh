#!/usr/bin/env bash
# Install everything, start the services the tests need (a reference dockerd), run the tests
# (pytest, the notebooks, the differential scenarios when ../shared is there), stop the services.
# Exits non-zero if anything failed.  Run as root.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

bash scripts/install.sh || exit 1

work=$(mktemp -d /tmp/nbdock-tests.XXXXXX)
dockerd_pid=""
cleanup() {
    if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
        kill "$dockerd_pid"
        for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    fi
    grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The reference engine: Docker 20.10 from Debian's docker.io, on a socket of its own.
dockerd --data-root "$work/docker" --exec-root "$work/docker-exec" -H "unix://$work/docker.sock" \
        --pidfile "$work/docker.pid" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
export NBDOCK_REF_DOCKER_HOST="unix://$work/docker.sock"
for _ in $(seq 150); do DOCKER_HOST=$NBDOCK_REF_DOCKER_HOST docker version >/dev/null 2>&1 && break; sleep 0.2; done
if ! DOCKER_HOST=$NBDOCK_REF_DOCKER_HOST docker version >/dev/null 2>&1; then
    echo "the reference dockerd did not start:"; tail -20 "$work/dockerd.log"; exit 1
fi
# Both engines get the same busybox:latest: the host's static busybox, imported, with the
# history comment nbdock's embedded default carries ("Imported from /usr/bin/busybox").
host_busybox=$(python3 -c 'from nbdock.image import busybox; print(busybox.find_host_busybox())') || exit 1
python3 -c 'import sys; from nbdock.image import busybox; sys.stdout.buffer.write(busybox.rootfs_tar(busybox.find_host_busybox()))' \
    | DOCKER_HOST=$NBDOCK_REF_DOCKER_HOST docker import --change 'CMD ["sh"]' -m "Imported from $host_busybox" - busybox:latest \
    >/dev/null || exit 1

export CI=${CI:-true} DOCKER_BUILDKIT=0
status=0

# How many tests there are, before running them: a folder pytest skips by default would show here
# (tests/test_collection.py fails on any test file that is not collected).
echo "pytest: $(python3 -m pytest --collect-only -q tests | tail -1)"
python3 -m pytest -q tests
code=$?
if [ $code -ne 0 ]; then
    echo "pytest failed (exit $code; 5 means no test ran)"; status=1
fi

if [ -d ../shared/conformance ]; then
    python3 ../shared/conformance/run.py --ref "$NBDOCK_REF_DOCKER_HOST" --start-sut ../shared/conformance/scenarios \
        | tee "$work/conformance.txt"
    summary=$(tail -1 "$work/conformance.txt")
    if ! [[ "$summary" =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]]; then
        echo "differential scenarios: $summary"; status=1
    fi
else
    echo "(../shared/conformance not found: differential scenarios skipped)"
fi

exit $status
