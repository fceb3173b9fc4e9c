"""Fixtures for driving the runtime directly: a busybox root file system, the spawner, containers."""

import os
import secrets
import shutil
import subprocess
import threading
from dataclasses import dataclass

import pytest

from nbdock.runtime.cgroups import Resources
from nbdock.runtime.container import Container, Stdio, exit_code_from_status
from nbdock.runtime.spawner import Spawner
from nbdock.runtime.spec import ContainerSpec, Mount, Process, Rootfs
from nbdock.runtime.trace import Trace


@pytest.fixture(scope="session")
def v2_root() -> str:
    """Where this host mounts a cgroup v2 hierarchy (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    pytest.fail("this host has no cgroup2 hierarchy mounted")


@pytest.fixture(scope="session")
def busybox_layer(tmp_path_factory, host_busybox):
    """A directory holding a busybox root file system (one image layer)."""
    root = tmp_path_factory.mktemp("busybox-layer")
    for directory in ("bin", "etc", "root", "tmp", "home", "var"):
        (root / directory).mkdir()
    os.chmod(root / "tmp", 0o1777)
    shutil.copy(host_busybox, root / "bin" / "busybox")
    applets = subprocess.run([host_busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", root / "bin" / applet)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return str(root)


@pytest.fixture(scope="session")
def spawner():
    spawner = Spawner()
    spawner.start()
    yield spawner
    spawner.stop()


@dataclass
class Result:
    exit_code: int
    output: str
    container: Container
    directory: str


class Harness:
    """Makes containers like the engine does, minus images and networks."""

    def __init__(self, spawner, layer, tmp_path):
        self.spawner = spawner
        self.layer = layer
        self.tmp_path = tmp_path
        self.made: list[Container] = []

    def container(self, args, *, tty=False, user="", resources=None, mounts=(), readonly=False, extra_lowers=(),
                  namespaces=None, cwd="/"):
        cid = secrets.token_hex(32)
        directory = self.tmp_path / cid[:12]
        for sub in ("upper", "work", "rootfs"):
            (directory / sub).mkdir(parents=True)
        for name in ("hostname", "hosts", "resolv.conf"):
            (directory / name).write_text("")
        spec = ContainerSpec(
            id=cid,
            rootfs=Rootfs([*extra_lowers, self.layer], str(directory / "upper"), str(directory / "work"),
                          str(directory / "rootfs"), readonly=readonly),
            process=Process(args=list(args), env=[f"HOSTNAME={cid[:12]}"], user=user, tty=tty, cwd=cwd),
            hostname=cid[:12],
            namespaces=dict(namespaces or {k: "new" for k in ("mnt", "uts", "ipc", "net", "pid")}),
            mounts=list(mounts),
            etc_files={"/etc/hostname": str(directory / "hostname"), "/etc/hosts": str(directory / "hosts"),
                       "/etc/resolv.conf": str(directory / "resolv.conf")},
        )
        container = Container(spec, self.spawner, Trace(str(directory / "trace.jsonl")))
        container.create(resources or Resources())
        self.made.append(container)
        container.directory = str(directory)
        return container

    def run(self, args, *, stdin: bytes | None = None, timeout=30, **options) -> Result:
        """Start a container, collect its output until it exits, clean it up."""
        container = self.container(args, **options)
        exited = threading.Event()
        status = {}

        def on_exit(wait_status):
            status["code"] = exit_code_from_status(wait_status)
            exited.set()

        out_r, out_w = os.pipe()
        stdio = Stdio(stdout=out_w, stderr=out_w)
        stdin_w = None
        if stdin is not None:
            stdio.stdin, stdin_w = os.pipe()
        try:
            started = container.start(stdio, on_exit)
        except BaseException:
            container.delete()
            raise
        finally:
            os.close(out_w)
            if stdio.stdin is not None:
                os.close(stdio.stdin)
        if stdin_w is not None:
            os.write(stdin_w, stdin)
            os.close(stdin_w)
        chunks = []
        source = started.console if started.console is not None else out_r
        while True:
            try:
                chunk = os.read(source, 65536)
            except OSError:  # EIO: the pty's slave side is closed
                chunk = b""
            if not chunk:
                break
            chunks.append(chunk)
        os.close(out_r)
        assert exited.wait(timeout), "the container did not exit"
        container.release()
        container.delete()
        return Result(status["code"], b"".join(chunks).decode(errors="replace"), container, container.directory)

    def cleanup(self):
        for container in self.made:
            if container.init is not None:
                try:
                    container.kill(9)
                except ProcessLookupError:
                    pass
            container.cgroup.destroy()


@pytest.fixture
def runtime(spawner, busybox_layer, tmp_path):
    harness = Harness(spawner, busybox_layer, tmp_path)
    yield harness
    harness.cleanup()


def host_mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


__all__ = ["Result", "Harness", "host_mounts_under", "Mount"]
