"""A daemon killed with SIGKILL in the middle of its work, then started again on the same data root.

Each test starts a daemon of its own (its own --data-root and socket), makes
an image and a volume it will need afterwards, starts a long operation -- a
build context being uploaded, a RUN step, a commit of a big change, a pull
from a registry on 127.0.0.1, a load of a big archive, a ``cp`` into a
container -- and kills the daemon by its pid while the operation is under
way.  Then a new daemon starts on the same data root, and once it answers:

* no partial blob (every blob's content has the digest it is named by) and
  no blob, layer or scratch directory that nothing refers to;
* nothing in ``tmp/``, no half-made volume or container directory;
* the image and the volume made before the crash still work (``docker run``);
* no mount left under the data root, no cgroup of its containers, and the
  killed daemon's spawner and containers are gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time

import pytest

from nbdock.image.store import ImageStore, mounts_under
from nbdock.runtime import cgroups

pytestmark = pytest.mark.root

BIG = 48 * 1024 * 1024  # big enough that the operation is still running when the daemon is killed


class Daemon:
    """An nbdock daemon on ``root``, started, killed and restarted by its pid."""

    def __init__(self, base):
        self.base = base
        self.root = str(base / "root")
        self.socket = str(base / "nbdock.sock")
        self.host = f"unix://{self.socket}"
        self.process: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        log = open(self.base / f"daemon-{self.runs}.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nbdock", "daemon", "--host", self.host, "--data-root", self.root, "--offline"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.time() + 60
        while not self.pings():
            if self.process.poll() is not None or time.time() > deadline:
                pytest.fail(f"the daemon did not start:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def log(self) -> str:
        return (self.base / f"daemon-{self.runs}.log").read_text()

    def pings(self) -> bool:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(self.socket)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: nbdock\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
        return False

    def kill(self) -> list[int]:
        """SIGKILL the daemon; returns the pids of what it had started (its spawner), which must end by themselves."""
        children = _children(self.process.pid)
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        deadline = time.time() + 30
        while any(_alive(pid) for pid in children) and time.time() < deadline:
            time.sleep(0.1)
        return [pid for pid in children if _alive(pid)]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        done = subprocess.run(["docker", *args], env={**os.environ, "DOCKER_HOST": self.host},
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            pytest.fail(f"docker {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done.stdout.strip()

    def connection(self, timeout: float = 120) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("localhost", timeout=timeout)
        connection.sock = socket.socket(socket.AF_UNIX)
        connection.sock.settimeout(timeout)
        connection.sock.connect(self.socket)
        return connection


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture
def daemon(tmp_path):
    """A daemon with an image (``pre``) and a volume (``keep``) made before anything goes wrong."""
    d = Daemon(tmp_path)
    d.start()
    try:
        d.docker("pull", "busybox")
        d.docker("volume", "create", "keep")
        d.docker("run", "--name", "maker", "-v", "keep:/v", "busybox", "sh", "-c",
                 "echo kept > /v/f; echo pre > /etc/pre")
        d.docker("commit", "maker", "pre")
        d.docker("rm", "maker")
        yield d
    finally:
        d.stop()


def _wait_for(condition, what: str, seconds: float = 60, step: float = 0.01):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"timed out waiting for {what}")


def _scratch(d: Daemon) -> list[str]:
    return os.listdir(os.path.join(d.root, "tmp"))


def _crash_and_restart(d: Daemon) -> None:
    survivors = d.kill()
    assert survivors == [], f"processes of the killed daemon still running: {survivors}"
    d.start()


def _assert_reconciled(d: Daemon) -> None:
    root = d.root
    assert os.listdir(os.path.join(root, "tmp")) == []
    store = ImageStore(root)  # read only, to name what the blobs belong to
    wanted = {image.id for image in store.list(all=True)}
    for diff_id in store._all_layer_ids():
        wanted |= {diff_id, *store._layer_record(diff_id)["compressed"]}
    blobs_dir = os.path.join(root, "blobs", "sha256")
    for name in os.listdir(blobs_dir):
        digest = hashlib.sha256()
        with open(os.path.join(blobs_dir, name), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        assert digest.hexdigest() == name, f"partial blob {name}"
        assert "sha256:" + name in wanted, f"blob {name} belongs to no image and no layer"
    for diff_id in store._all_layer_ids():
        assert any(diff_id in store.config(i)["rootfs"]["diff_ids"] for i in {image.id for image in store.list(all=True)})
    assert [n for n in os.listdir(os.path.join(root, "layers")) if not os.path.exists(
        os.path.join(root, "layers", n, "layer.json"))] == []
    assert [n for n in os.listdir(os.path.join(root, "l")) if not os.path.exists(os.path.join(root, "l", n))] == []
    assert [n for n in os.listdir(os.path.join(root, "volumes")) if n.startswith(".")] == []
    containers_dir = os.path.join(root, "containers")
    for cid in os.listdir(containers_dir):
        entries = os.listdir(os.path.join(containers_dir, cid))
        assert "container.json" in entries
        assert not [e for e in entries if e.endswith(".tmp")]
        assert not cgroups.open_cgroup(cid).exists(), f"cgroup of container {cid[:12]} left behind"
    assert mounts_under(root) == []
    # What was made before the crash is intact and usable.
    assert d.docker("run", "--rm", "-v", "keep:/v", "pre", "cat", "/v/f", "/etc/pre") == "kept\npre"
    assert "Traceback" not in d.log()


def _tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _start_upload(d: Daemon, method: str, url: str, total: int, first: bytes, content_type: str):
    """A request whose body is announced as ``total`` bytes, of which only ``first`` is sent (for now)."""
    connection = d.connection()
    connection.putrequest(method, url)
    connection.putheader("Content-Type", content_type)
    connection.putheader("Content-Length", str(total))
    connection.endheaders()
    connection.send(first)
    return connection


def test_killed_while_a_build_context_is_uploaded(daemon):
    context = _tar_of({"Dockerfile": b"FROM busybox\nCOPY big /big\n", "big": os.urandom(BIG)})
    upload = _start_upload(daemon, "POST", "/build?t=never", len(context), context[: len(context) // 2],
                           "application/x-tar")
    _wait_for(lambda: any(n.startswith("build-context-") for n in _scratch(daemon)), "the context's staging")
    _crash_and_restart(daemon)
    upload.close()
    _assert_reconciled(daemon)
    assert daemon.docker("images", "-q", "never") == ""


def test_killed_during_a_run_step(daemon):
    context = _tar_of({"Dockerfile": b"FROM busybox\nRUN head -c 10000000 /dev/urandom > /junk && sleep 60\n"})
    upload = _start_upload(daemon, "POST", "/build?t=never", len(context), context, "application/x-tar")
    running = _wait_for(lambda: daemon.docker("ps", "-q"), "the RUN step's container", step=0.1)
    _crash_and_restart(daemon)
    upload.close()
    _assert_reconciled(daemon)
    assert daemon.docker("ps", "-q") == ""
    assert daemon.docker("inspect", "-f", "{{.State.Status}}", running) == "exited"


def test_killed_during_a_commit(daemon):
    daemon.docker("run", "--name", "big", "busybox", "sh", "-c", f"head -c {BIG} /dev/urandom > /big")
    commit = daemon.connection()
    commit.request("POST", "/commit?container=big&repo=never")
    _wait_for(lambda: _scratch(daemon), "the commit's staging")
    _crash_and_restart(daemon)
    commit.close()
    _assert_reconciled(daemon)
    assert daemon.docker("images", "-q", "never") == ""
    assert daemon.docker("inspect", "-f", "{{.State.Status}}", "big") == "exited"  # the container is untouched


def test_killed_during_a_load(daemon, tmp_path):
    daemon.docker("run", "--name", "big", "busybox", "sh", "-c", f"head -c {BIG} /dev/urandom > /big")
    daemon.docker("commit", "big", "bigimage")
    archive = tmp_path / "big.tar"
    daemon.docker("save", "-o", str(archive), "bigimage")
    daemon.docker("rm", "big")
    daemon.docker("rmi", "bigimage")
    data = archive.read_bytes()
    upload = _start_upload(daemon, "POST", "/images/load?quiet=1", len(data), data[: len(data) // 2],
                           "application/x-tar")
    _wait_for(lambda: _scratch(daemon), "the load's staging")
    time.sleep(0.5)  # well into the archive
    _crash_and_restart(daemon)
    upload.close()
    _assert_reconciled(daemon)
    assert daemon.docker("images", "-q", "bigimage") == ""


def test_killed_during_a_cp_into_a_container(daemon):
    daemon.docker("run", "-d", "--name", "target", "busybox", "sleep", "300")
    data = _tar_of({"big": os.urandom(BIG)})
    upload = _start_upload(daemon, "PUT", "/containers/target/archive?path=/tmp", len(data),
                           data[: len(data) // 2], "application/x-tar")
    time.sleep(1)  # the copy is under way, waiting for the rest of the archive
    _crash_and_restart(daemon)
    upload.close()
    _assert_reconciled(daemon)
    assert daemon.docker("inspect", "-f", "{{.State.Status}}", "target") == "exited"
    daemon.docker("start", "target")
    assert daemon.docker("exec", "target", "echo", "alive") == "alive"


REGISTRY_BINARY = "/usr/bin/docker-registry"


@pytest.fixture
def registry(tmp_path):
    """host:port of Debian's docker-registry on 127.0.0.1, storage in tmp_path (as tests/registry/ start one)."""
    if not os.path.exists(REGISTRY_BINARY):
        pytest.fail("docker-registry is not installed (apt-get install docker-registry)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: "
                      f"{tmp_path / 'registry-storage'}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    with open(tmp_path / "registry.log", "w") as log:
        process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        def listens():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
            return process.poll() is not None
        _wait_for(listens, "the registry", seconds=15, step=0.05)
        assert process.poll() is None, (tmp_path / "registry.log").read_text()
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def test_killed_during_a_pull(daemon, registry):
    image = f"{registry}/big"
    daemon.docker("run", "--name", "big", "busybox", "sh", "-c", f"head -c {BIG} /dev/urandom > /big")
    daemon.docker("commit", "big", image)
    daemon.docker("push", image, timeout=300)
    daemon.docker("rm", "big")
    daemon.docker("rmi", image)
    pull = daemon.connection()
    pull.request("POST", f"/images/create?fromImage={image}&tag=latest")
    _wait_for(lambda: _scratch(daemon), "the pull's staging")
    _crash_and_restart(daemon)
    pull.close()
    _assert_reconciled(daemon)
    assert daemon.docker("images", "-q", image) == ""
    daemon.docker("pull", image)  # and the pull, done again, works
    assert daemon.docker("run", "--rm", image, "wc", "-c", "/big").split()[0] == str(BIG)


# --- the store's part, with every kind of leftover made on purpose -------------------------------


def _layer_from(store: ImageStore, tmp_path, name: str, content: bytes):
    upper = tmp_path / f"upper-{name}"
    upper.mkdir()
    (upper / name).write_bytes(content)
    return store.add_layer_from_dir(str(upper))


def test_the_store_keeps_what_images_use_and_removes_the_rest(tmp_path):
    root = tmp_path / "root"
    store = ImageStore(str(root))
    used = _layer_from(store, tmp_path, "used", b"used")
    image_id = store.create_image({"architecture": "amd64", "os": "linux", "config": {},
                                   "rootfs": {"type": "layers", "diff_ids": [used.diff_id]}})
    store.tag(image_id, "kept:latest")
    store.lowerdirs(image_id)  # unpacked, with its short link
    # A commit killed after its layer was in place, before its image config was written:
    orphan = _layer_from(store, tmp_path, "orphan", os.urandom(1 << 20))
    store.layer_dir(orphan.diff_id)
    orphan_config = store.put_blob(b'{"an": "image config whose metadata was never written"}')
    # ... a blob being received, a layer being unpacked, a build context being uploaded:
    (root / "tmp" / "blob-cut-short").write_bytes(os.urandom(1000))
    (root / "tmp" / "layer-half" / "diff" / "etc").mkdir(parents=True)
    (root / "tmp" / "build-context-x" / "sub").mkdir(parents=True)
    os.symlink("../layers/" + "0" * 64 + "/diff", root / "l" / "DANGLING")
    (root / "layers" / ("f" * 64)).mkdir()  # a layer directory without its record

    removed = ImageStore(str(root)).reconcile()  # as at the next start

    hex_of = lambda digest: digest.split(":", 1)[1]  # noqa: E731
    assert sorted(os.path.relpath(p, root) for p in removed) == sorted([
        "tmp/blob-cut-short", "tmp/layer-half", "tmp/build-context-x", f"layers/{hex_of(orphan.diff_id)}",
        f"layers/{'f' * 64}", f"blobs/sha256/{hex_of(orphan_config)}", "l/DANGLING"])
    assert os.listdir(root / "tmp") == []
    again = ImageStore(str(root))
    assert again.resolve("kept:latest") == image_id
    assert sorted(os.listdir(root / "blobs" / "sha256")) == sorted([hex_of(image_id), hex_of(used.diff_id)])
    with open(os.path.join(again.lowerdirs(image_id)[0], "used"), "rb") as f:  # through its short link
        assert f.read() == b"used"
    assert not again.has_layer(orphan.diff_id)
    assert again.reconcile() == []  # nothing more to do


def test_a_mount_left_under_the_scratch_directory_is_detached_not_emptied(tmp_path):
    """rm -r through a bind mount would delete the mounted folder's files: the mount is detached first."""
    root = tmp_path / "root"
    store = ImageStore(str(root))
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "file").write_text("keep me")
    target = root / "tmp" / "build-copy-x" / "mnt"
    target.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(precious), str(target)], check=True)
    try:
        assert mounts_under(str(root)) == [str(target)]
        store.reconcile()
    finally:
        if mounts_under(str(target)):
            subprocess.run(["umount", "-l", str(target)])
    assert mounts_under(str(root)) == []
    assert os.listdir(root / "tmp") == []
    assert (precious / "file").read_text() == "keep me"


def test_a_cgroup_a_killed_daemon_was_setting_up_is_removed_at_restart(daemon):
    """Killed between making a container's cgroup and recording it as running: the record says "created"."""
    container = daemon.docker("create", "busybox", "true")
    assert daemon.kill() == []
    cgroup = cgroups.open_cgroup(container)
    cgroup.create(cgroups.Resources(pids_limit=10))  # what the start had done when the daemon died
    try:
        assert cgroup.exists()
        daemon.start()
        assert not cgroup.exists()
    finally:
        if cgroup.exists():
            cgroup.destroy()
    _assert_reconciled(daemon)
    daemon.docker("start", "-a", container)  # and it starts, in a cgroup of its own again
