"""``docker logs`` of a big log, through the docker CLI: fast, exact, and in bounded daemon memory.

A container prints 200,000 lines; then ``--tail 5`` must come from the end
of the file (not from reading it all), the full log must arrive complete
and in order while the daemon's resident memory barely moves, ``-f`` must
pass from the file to live output without losing or repeating a line, and
``--log-opt max-size/max-file`` must rotate as Docker's json-file does.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid

import pytest

pytestmark = [pytest.mark.root, pytest.mark.slow]

LINES = 200_000


def docker(host: str, *args: str, timeout: float = 120, **options) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, timeout=timeout,
                          env=dict(os.environ, DOCKER_HOST=host), **options)


def daemon_pid(host: str) -> int:
    """The process listening on the daemon's unix socket (through the socket's inode)."""
    path = host.removeprefix("unix://")
    with open("/proc/net/unix") as f:
        inodes = {fields[6] for fields in (line.split() for line in f) if len(fields) > 7 and fields[7] == path}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    raise AssertionError(f"no process listens on {path}")


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1))


@pytest.fixture(scope="module")
def big_log(nbdock_host):
    """A stopped container whose log holds LINES lines, and the seconds its `seq` took to print them."""
    name = f"logs-{uuid.uuid4().hex[:8]}"
    started = docker(nbdock_host, "run", "-d", "--name", name, "busybox", "sh", "-c",
                     f"(time seq 1 {LINES}) 2>/timing")
    assert started.returncode == 0, started.stderr
    assert docker(nbdock_host, "wait", name).stdout.strip() == b"0"
    timing = docker(nbdock_host, "cp", f"{name}:/timing", "-").stdout
    real = re.search(rb"real\s+(?:(\d+)m\s*)?([\d.]+)s", timing)
    yield name, int(real.group(1) or 0) * 60 + float(real.group(2))
    docker(nbdock_host, "rm", "-f", name)


def test_printing_is_not_slowed_by_the_log(big_log):
    """The old capture (a write and a json.dumps per line) made `seq` wait ~6 s for 200k lines."""
    _, seconds = big_log
    assert seconds < 1.0


def test_full_logs_are_complete_in_order_in_bounded_memory(nbdock_host, big_log):
    name, _ = big_log
    pid = daemon_pid(nbdock_host)
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # the peak resident size starts again from the current one
    before = status_kb(pid, "VmRSS")
    out = docker(nbdock_host, "logs", name)
    peak = status_kb(pid, "VmHWM")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "".join(f"{n}\n" for n in range(1, LINES + 1)).encode()
    # Reading the whole file into entries grew the daemon by ~100 MB for this log; batches need a few.
    assert peak - before < 40 * 1024, f"the daemon grew by {(peak - before) // 1024} MB"


def test_tail_comes_from_the_end_of_the_file(nbdock_host, big_log):
    name, _ = big_log
    start = time.perf_counter()
    out = docker(nbdock_host, "logs", "--tail", "5", name)
    tail_seconds = time.perf_counter() - start
    assert out.stdout == b"199996\n199997\n199998\n199999\n200000\n"
    start = time.perf_counter()
    everything = docker(nbdock_host, "logs", name)
    full_seconds = time.perf_counter() - start
    assert everything.returncode == 0
    # Reading the whole log for the last lines took as long as printing all of them.
    assert tail_seconds < min(1.0, full_seconds / 4), (tail_seconds, full_seconds)
    assert docker(nbdock_host, "logs", "--tail", "1", "-t", name).stdout.endswith(b"Z 200000\n")


def test_follow_goes_from_the_file_to_live_output_without_loss(nbdock_host):
    name = f"logs-{uuid.uuid4().hex[:8]}"
    script = "seq 1 30000; sleep 1; seq 30001 60000; sleep 0.5; seq 60001 90000"
    assert docker(nbdock_host, "run", "-d", "--name", name, "busybox", "sh", "-c", script).returncode == 0
    try:
        time.sleep(0.5)  # some lines are in the file already, more are coming
        out = docker(nbdock_host, "logs", "-f", name, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "".join(f"{n}\n" for n in range(1, 90001)).encode()
    finally:
        docker(nbdock_host, "rm", "-f", name)


def test_rotation_keeps_max_file_files(nbdock_host):
    name = f"logs-{uuid.uuid4().hex[:8]}"
    run = docker(nbdock_host, "run", "--name", name, "--log-opt", "max-size=10k", "--log-opt", "max-file=3",
                 "busybox", "seq", "1", "2000")
    try:
        assert run.returncode == 0, run.stderr
        path = docker(nbdock_host, "inspect", "-f", "{{.LogPath}}", name).stdout.decode().strip()
        assert os.path.exists(path + ".1") and os.path.exists(path + ".2") and not os.path.exists(path + ".3")
        assert all(os.path.getsize(path + suffix) >= 10_000 for suffix in (".1", ".2"))
        numbers = [int(n) for n in docker(nbdock_host, "logs", name).stdout.split()]
        # Three files of ~10 kB of ~75-byte records: the last 400-ish lines, contiguous.
        assert numbers == list(range(numbers[0], 2001)) and 250 < len(numbers) < 500
        assert docker(nbdock_host, "logs", "--tail", "2", name).stdout == b"1999\n2000\n"
    finally:
        docker(nbdock_host, "rm", "-f", name)


def test_a_bad_log_opt_is_refused_at_create_leaving_nothing(nbdock_host):
    before = docker(nbdock_host, "ps", "-aq").stdout
    out = docker(nbdock_host, "create", "--log-opt", "max-size=abc", "busybox", "true")
    assert out.returncode != 0
    assert b"failed to initialize logging driver: invalid size: 'abc'" in out.stderr
    out = docker(nbdock_host, "run", "--rm", "--log-opt", "max-file=0", "busybox", "true")
    assert b"max-file cannot be less than 1" in out.stderr
    assert docker(nbdock_host, "ps", "-aq").stdout == before


def test_a_slow_attached_client_slows_the_container_not_the_daemons_memory(nbdock_host):
    """`docker run` whose reader stalls: the daemon keeps a few MB for it, not all 60 MB printed meanwhile."""
    pid = daemon_pid(nbdock_host)
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    before = status_kb(pid, "VmRSS")
    out = subprocess.run(f"docker run --rm busybox seq 1 8000000 | (sleep 6; wc -l)", shell=True, capture_output=True,
                         timeout=120, env=dict(os.environ, DOCKER_HOST=nbdock_host))
    assert out.stdout.strip() == b"8000000", out.stderr
    grown = status_kb(pid, "VmHWM") - before
    assert grown < 30 * 1024, f"the daemon grew by {grown // 1024} MB"
