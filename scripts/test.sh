#!/usr/bin/env bash
# Install everything (scripts/install.sh --tests), start the services the tests need (a reference
# dockerd), run the tests (pytest, the notebooks, the differential scenarios when ../shared is there),
# stop the services.  Exits non-zero if anything failed.
# Run as root: in a root shell `scripts/test.sh`, or `sudo scripts/test.sh`.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
    echo "the tests make namespaces, mounts and cgroups: run them as root (a root shell, or: sudo $0)" >&2
    exit 1
fi
bash scripts/install.sh --tests || exit 1
# Everything below runs from the project's virtual environment: pytest, the nbdock command, and
# `python3 -m nbdock daemon`, which ../shared/conformance/run.py starts from PATH.
export PATH="$repo/.venv/bin:$PATH"
export VIRTUAL_ENV="$repo/.venv"

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

# ---- docker-py's own integration suite, against dockerd and against nbdock ----------------------
# ../shared/peers/run-docker-py.sh runs docker-py's tests/integration (unmodified) against one daemon;
# scripts/compare-junit.py then lists every test that passed on dockerd and not on nbdock.  Each run
# takes 2 to 3 minutes on 2 cores.  nbdock gets a daemon of its own here (socket and data root
# under $work), stopped by pid at the end of this block.
if [ -x ../shared/peers/run-docker-py.sh ]; then
    # The suite's venv, made once: docker-py's version comes from git metadata the copy lacks, and
    # its tests import paramiko (the [ssh] extra), which the runner does not install.
    venv=${DOCKER_PY_VENV:-/tmp/docker-py-suite-venv}
    if [ ! -x "$venv/bin/pytest" ]; then
        cp -r ../shared/peers/docker-py "$work/docker-py-src" && chmod -R u+w "$work/docker-py-src"
        python3 -m venv "$venv" && SETUPTOOLS_SCM_PRETEND_VERSION=7.2.0 \
            "$venv/bin/pip" install -q "$work/docker-py-src[ssh]" pytest pytest-timeout >/dev/null \
            || { echo "docker-py suite: could not install it"; status=1; }
    fi
    echo "docker-py suite against dockerd:"
    DOCKER_PY_VENV=$venv ../shared/peers/run-docker-py.sh "$NBDOCK_REF_DOCKER_HOST" "$work/docker-py-ref"
    python3 -m nbdock daemon --host "unix://$work/peer-nbdock.sock" --data-root "$work/peer-nbdock" \
        >"$work/peer-nbdock.log" 2>&1 &
    peer_pid=$!
    trap 'kill "$peer_pid" 2>/dev/null; cleanup' EXIT   # stopped even if this script is interrupted
    for _ in $(seq 150); do DOCKER_HOST="unix://$work/peer-nbdock.sock" docker version >/dev/null 2>&1 && break; sleep 0.2; done
    echo "docker-py suite against nbdock:"
    DOCKER_PY_VENV=$venv ../shared/peers/run-docker-py.sh "unix://$work/peer-nbdock.sock" "$work/docker-py-sut"
    kill "$peer_pid"
    for _ in $(seq 100); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.2; done
    trap cleanup EXIT
    if ! python3 scripts/compare-junit.py --known scripts/docker-py-known-lost.txt \
            "$work/docker-py-ref/junit.xml" "$work/docker-py-sut/junit.xml"; then
        echo "docker-py suite: tests that pass against dockerd do not pass against nbdock (listed above)"
        status=1
    fi
else
    echo "(../shared/peers/run-docker-py.sh not found: docker-py's suite skipped)"
fi

exit $status
