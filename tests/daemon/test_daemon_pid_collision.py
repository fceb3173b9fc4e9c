"""Entering a running container must not depend on pid numbers.

A container has a PID namespace of its own, so one process has two pids: the
host's and the container's.  nbdock once decided which namespaces an exec had
to join by looking up ``/proc/<os.getpid()>`` -- the pid the new process has
*inside* the container -- in the host's /proc.  When that number was also the
host pid of one of the container's own processes, every namespace looked
"already joined", and ``docker exec`` ran in the host's mount, UTS, network and
IPC namespaces.

These tests force exactly that collision through the kernel:
``/proc/sys/kernel/ns_last_pid`` (written by a process inside the container's
PID namespace) sets the last pid handed out there, so the next process the
container gets is numbered like its PID 1 is on the host.  Then exec, cp, top
and stats must still see only the container.
"""

from __future__ import annotations

import functools
import io
import os
import socket
import subprocess
import tarfile
import uuid

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def docker(docker_cli, nbdock_host):
    return functools.partial(docker_cli, nbdock_host)


@pytest.fixture
def sleeper(docker):
    """A running container (name, host pid of its PID 1)."""
    name = f"collide-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "busybox", "sleep", "1000")
    host_pid = int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout)
    yield name, host_pid
    docker("rm", "-f", name, check=False)


def collide(host_pid: int) -> None:
    """Make the container's next pid equal to ``host_pid`` (the host pid of its own PID 1).

    nsenter forks into the container's PID namespace (only that one: the shell
    is the host's and so is /proc); ns_last_pid acts on the writer's PID namespace.
    """
    subprocess.run(["nsenter", f"--target={host_pid}", "--pid", "--", "sh", "-c",
                    f"echo {host_pid - 1} > /proc/sys/kernel/ns_last_pid"], check=True, timeout=10)


def namespace_link(pid: int | str, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_the_collision_is_real(docker, sleeper):
    """The precondition of every test below: the exec'd process really gets the colliding pid."""
    name, host_pid = sleeper
    collide(host_pid)
    assert docker("exec", name, "sh", "-c", "echo $$").stdout.decode().strip() == str(host_pid)


def test_exec_stays_in_every_namespace_of_the_container(docker, sleeper):
    name, host_pid = sleeper
    for kind in ("mnt", "uts", "net", "ipc", "pid"):
        collide(host_pid)
        seen = docker("exec", name, "readlink", f"/proc/self/ns/{kind}").stdout.decode().strip()
        assert seen == namespace_link(host_pid, kind), kind
        assert seen != namespace_link("self", kind), f"exec ran in the host's {kind} namespace"


def test_exec_sees_the_container_hostname_and_files(docker, sleeper, tmp_path):
    name, host_pid = sleeper
    collide(host_pid)
    hostname = docker("exec", name, "hostname").stdout.decode().strip()
    assert hostname == docker("inspect", "-f", "{{.Config.Hostname}}", name).stdout.decode().strip()
    assert hostname != socket.gethostname()
    marker = f"/tmp/nbdock-collision-{uuid.uuid4().hex}"
    collide(host_pid)
    docker("exec", name, "touch", marker)
    assert not os.path.exists(marker), "the exec wrote into the host's /tmp"
    assert docker("exec", name, "ls", marker).returncode == 0


def test_cp_reads_and_writes_the_container_files(docker, sleeper, tmp_path):
    name, host_pid = sleeper
    container_hostname = docker("inspect", "-f", "{{.Config.Hostname}}", name).stdout.decode().strip()
    collide(host_pid)
    archive = docker("cp", f"{name}:/etc/hostname", "-").stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.extractfile("hostname").read().decode().strip() == container_hostname
    source = tmp_path / "into-the-container"
    source.write_text("inside\n")
    collide(host_pid)
    docker("cp", str(source), f"{name}:/tmp/")
    assert not os.path.exists("/tmp/into-the-container")
    assert docker("exec", name, "cat", "/tmp/into-the-container").stdout == b"inside\n"


def test_top_and_stats_list_only_the_container(docker, sleeper):
    name, host_pid = sleeper
    collide(host_pid)
    rows = docker("top", name, "-o", "pid,args").stdout.decode().splitlines()[1:]
    assert [row.split(None, 1) for row in rows] == [[str(host_pid), "sleep 1000"]]
    collide(host_pid)
    assert docker("stats", "--no-stream", "--format", "{{.PIDs}}", name).stdout.decode().strip() == "1"
