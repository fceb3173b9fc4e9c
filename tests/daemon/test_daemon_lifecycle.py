"""The daemon under load and across its own death: nothing leaks, nothing is forgotten.

* 50 ``docker run --rm`` at once through the CLI: every output arrives, and
  no container, cgroup, mount or veth is left;
* SIGTERM: the daemon stops its containers and takes down what it made on
  the host (cgroups, veths, bridges, iptables chains, its socket);
* SIGKILL: the spawner kills the orphaned containers, and the next daemon
  on the same data root marks them exited, cleans up after them, removes
  the ``--rm`` ones, and keeps images and volumes.

The last two start daemons of their own (on a data root of their own), so
that killing one disturbs no other test.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from nbdock.network.instance import VETH_HOST_KIND, VETH_PEER_KIND, HostNames

pytestmark = pytest.mark.root


def docker(host: str, *args: str, timeout: float = 120, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                            env=dict(os.environ, DOCKER_HOST=host))
    if check:
        assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr}"
    return result.stdout


class Daemon:
    """An nbdock daemon of this test's own, ended by its pid."""

    def __init__(self, base: str):
        self.base = base
        self.root = os.path.join(base, "root")
        self.socket = os.path.join(base, "nbdock.sock")
        self.host = f"unix://{self.socket}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Daemon":
        log = open(os.path.join(self.base, "daemon.log"), "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nbdock", "daemon", "--host", self.host, "--data-root", self.root, "--offline"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.time() + 60
        while subprocess.run(["docker", "version"], capture_output=True, env=dict(os.environ, DOCKER_HOST=self.host)
                             ).returncode != 0:
            assert self.process.poll() is None and time.time() < deadline, self.log()
            time.sleep(0.2)
        return self

    def log(self) -> str:
        with open(os.path.join(self.base, "daemon.log")) as f:
            return f.read()[-3000:]

    def signal(self, signum: int, timeout: float = 60) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.signal(signal.SIGTERM)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def own_daemon(tmp_path):
    daemon = Daemon(str(tmp_path))
    yield daemon
    daemon.stop()
    shutil.rmtree(daemon.root, ignore_errors=True)


def cgroup_dirs(container_ids) -> list[str]:
    return [d for cid in container_ids for d in glob.glob(f"/sys/fs/cgroup/*/nbdock/{cid}")]


def links_of(data_root: str, *, bridges: bool) -> list[str]:
    """The host's network interfaces this data root's daemon made (veths; with ``bridges``, its bridges too)."""
    names = HostNames.for_data_root(data_root)
    links = [line.split(":")[1].strip().split("@")[0] for line in
             subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()]
    own = [link for link in links if names.owns_link(link)]
    return own if bridges else [link for link in own if link.startswith((VETH_HOST_KIND, VETH_PEER_KIND))]


def mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


def container_ids_since(host: str, since: float) -> set[str]:
    out = docker(host, "events", "--since", f"{since:.3f}", "--until", f"{time.time() + 1:.3f}",
                 "--filter", "type=container", "--filter", "event=create", "--format", "{{.Actor.ID}}")
    return set(out.split())


def test_fifty_parallel_runs_all_answer_and_leave_nothing(nbdock_host):
    root = docker(nbdock_host, "info", "--format", "{{.DockerRootDir}}").strip()
    docker(nbdock_host, "pull", "busybox")
    since = time.time()
    runs = [subprocess.Popen(["docker", "run", "--rm", "busybox", "echo", f"n{i}"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=dict(os.environ, DOCKER_HOST=nbdock_host)) for i in range(50)]
    results = [(run.wait(180), run.stdout.read(), run.stderr.read()) for run in runs]
    assert [(code, out) for code, out, _ in results] == [(0, f"n{i}\n".encode()) for i in range(50)], \
        [err for code, _, err in results if code]
    created = container_ids_since(nbdock_host, since)
    assert len(created) == 50
    deadline = time.time() + 30
    while docker(nbdock_host, "ps", "-aq", "--filter", "ancestor=busybox").split() and time.time() < deadline:
        time.sleep(0.2)
    remaining = set(docker(nbdock_host, "ps", "-aq", "--no-trunc").split())
    assert not created & remaining
    assert cgroup_dirs(created) == []
    assert links_of(root, bridges=False) == []
    assert mounts_under(os.path.join(root, "containers")) == []


def test_sigterm_stops_containers_and_takes_everything_down(own_daemon):
    daemon = own_daemon.start()
    host = daemon.host
    docker(host, "pull", "busybox")
    network = f"net-{uuid.uuid4().hex[:6]}"
    docker(host, "network", "create", network)
    ids = [docker(host, "run", "-d", *args, "busybox", "sleep", "300").strip() for args in (
        ["-p", "127.0.0.1::80"], ["-v", "data:/data"], ["--rm"], ["--network", network])]
    pids = [int(docker(host, "inspect", "-f", "{{.State.Pid}}", cid)) for cid in ids]
    assert cgroup_dirs(ids) and links_of(daemon.root, bridges=False)

    assert daemon.signal(signal.SIGTERM) == 0
    assert [pid for pid in pids if os.path.exists(f"/proc/{pid}")] == []
    assert cgroup_dirs(ids) == []
    assert links_of(daemon.root, bridges=True) == []
    chains = HostNames.for_data_root(daemon.root).chains
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert [name for name in vars(chains).values() if name in rules] == []
    assert mounts_under(daemon.root) == []
    assert not os.path.exists(daemon.socket)

    daemon.start()
    states = docker(host, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}}").split("\n")
    assert sorted(line for line in states if line) == sorted(f"{cid} exited" for cid in ids if cid != ids[2])
    assert "data" in docker(host, "volume", "ls", "-q").split()
    assert docker(host, "run", "--rm", "-v", "data:/data", "busybox", "echo", "again") == "again\n"


def test_sigkill_is_reconciled_at_the_next_start(own_daemon):
    daemon = own_daemon.start()
    host = daemon.host
    docker(host, "pull", "busybox")
    docker(host, "run", "--rm", "-v", "kept:/kept", "busybox", "sh", "-c", "echo safe > /kept/f")
    docker(host, "tag", "busybox", "mine:v1")
    ids = [docker(host, "run", "-d", *args, "busybox", "sleep", "300").strip() for args in (
        ["-p", "127.0.0.1::80"], ["--rm"], ["--name", "named"])]
    pids = [int(docker(host, "inspect", "-f", "{{.State.Pid}}", cid)) for cid in ids]

    daemon.signal(signal.SIGKILL)
    deadline = time.time() + 10  # the spawner sees its daemon gone and kills what it started
    while any(os.path.exists(f"/proc/{pid}") for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert [pid for pid in pids if os.path.exists(f"/proc/{pid}")] == []

    daemon.start()
    states = docker(host, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}} {{.Status}}").strip().split("\n")
    assert sorted(line.split(" (")[0] for line in states) == sorted(f"{cid} exited Exited" for cid in (ids[0], ids[2]))
    assert docker(host, "inspect", "-f", "{{.State.ExitCode}} {{.State.Pid}}", "named") == "255 0\n"
    assert cgroup_dirs(ids) == []
    assert links_of(daemon.root, bridges=False) == []
    assert "mine:v1" in docker(host, "images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert docker(host, "run", "--rm", "-v", "kept:/kept", "busybox", "cat", "/kept/f") == "safe\n"
    docker(host, "start", "named")
    assert docker(host, "inspect", "-f", "{{.State.Running}}", "named") == "true\n"
    port = docker(host, "port", ids[0], "80", check=False)
    assert port == ""  # a stopped container publishes nothing
