"""A container does not outlive its engine, even when the daemon and its spawner are killed together.

``kill -9`` of the daemon's whole process group leaves nobody to kill the
containers (the spawner, which does so when the daemon goes, dies too): each
container process has asked the kernel for SIGKILL at its parent's death
(PR_SET_PDEATHSIG, runtime/init.py).  The next daemon on the same data root
then finds no mount and no cgroup of them left.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.root


def _docker(host: str, *args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, DOCKER_HOST=host))
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def _start_daemon(base, root: str, host: str, run: int) -> subprocess.Popen:
    log = open(base / f"daemon-{run}.log", "w")
    daemon = subprocess.Popen([sys.executable, "-m", "nbdock", "daemon", "--host", host, "--data-root", root, "--offline"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.time() + 60
    while subprocess.run(["docker", "version"], capture_output=True, env=dict(os.environ, DOCKER_HOST=host)).returncode:
        assert daemon.poll() is None and time.time() < deadline, (base / f"daemon-{run}.log").read_text()[-3000:]
        time.sleep(0.2)
    return daemon


def _pids_in_pid_namespace_of(pid: int) -> set[int]:
    """Host pids of every process in the PID namespace of ``pid``."""
    namespace = os.readlink(f"/proc/{pid}/ns/pid")
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                    found.add(int(entry))
            except OSError:
                pass
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_killing_the_daemons_process_group_kills_its_containers_and_the_next_daemon_cleans_up(tmp_path):
    root, host = str(tmp_path / "root"), f"unix://{tmp_path}/nbdock.sock"
    daemon = _start_daemon(tmp_path, root, host, 1)
    try:
        plain = _docker(host, "run", "-d", "busybox", "sleep", "1000")
        forking = _docker(host, "run", "-d", "busybox", "sh", "-c", "sleep 1000 & sleep 1000")
        _docker(host, "exec", "-d", plain, "sleep", "1000")
        pids: set[int] = set()
        deadline = time.time() + 10
        while True:
            pids = set()
            for container in (plain, forking):
                pids |= _pids_in_pid_namespace_of(int(_docker(host, "inspect", "-f", "{{.State.Pid}}", container)))
            if len(pids) >= 4 or time.time() > deadline:  # sleep and the exec's sleep; sleep & (sh execs the last sleep)
                break
            time.sleep(0.1)
        assert len(pids) == 4, pids
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()
        deadline = time.time() + 5
        while [pid for pid in pids if _alive(pid)] and time.time() < deadline:
            time.sleep(0.05)
        survivors = [pid for pid in pids if _alive(pid)]
        for pid in survivors:  # so a failure leaves no orphan behind
            os.kill(pid, signal.SIGKILL)
        assert survivors == []
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
    again = _start_daemon(tmp_path, root, host, 2)
    try:
        with open("/proc/self/mountinfo") as f:
            assert [line for line in f if root in line.split()[4]] == []
        assert [d for cid in (plain, forking) for d in glob.glob(f"/sys/fs/cgroup/*/nbdock/{cid}") + glob.glob(f"/sys/fs/cgroup/nbdock/{cid}")] == []
        assert _docker(host, "inspect", "-f", "{{.State.Status}}", plain) == "exited"
    finally:
        again.send_signal(signal.SIGTERM)
        try:
            again.wait(60)
        except subprocess.TimeoutExpired:
            again.kill()
            again.wait()
