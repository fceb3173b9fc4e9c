"""A daemon started with ``--userns-remap``, driven by the real docker CLI.

The module makes a user of its own (``nbdremap``) with a subordinate range
in /etc/subuid and /etc/subgid, starts an nbdock daemon remapping to it on a
data root of its own, and at the end stops it by pid, removes the user and
puts both files back byte for byte.
"""

from __future__ import annotations

import functools
import io
import os
import pwd
import signal
import subprocess
import sys
import tarfile
import time
import uuid

import pytest

from nbdock.runtime import userns

pytestmark = pytest.mark.root

USER = "nbdremap"
FILES = ("/etc/subuid", "/etc/subgid")


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _restore(path: str, content: bytes | None) -> None:
    if content is None:
        if os.path.exists(path):
            os.unlink(path)
        return
    with open(path, "wb") as f:
        f.write(content)


def _pings(socket_path: str) -> bool:
    import socket

    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(socket_path)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: nbdock\r\nConnection: close\r\n\r\n")
            return b"200 OK" in s.recv(4096)
    except OSError:
        return False


@pytest.fixture(scope="module", params=["idmapped mounts", "chowned copy"])
def remapped(request, tmp_path_factory):
    """(DOCKER_HOST, host uid of root inside, data root, layer method) of a daemon remapping to a test user.

    Twice: with the kernel's idmapped mounts, and as on a kernel without them (the chowned copy).
    """
    saved = {path: _read(path) for path in FILES}
    created_user = False
    base = tmp_path_factory.mktemp("nbdockd-userns")
    process = None
    try:
        try:
            pwd.getpwnam(USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/false", "--user-group", USER],
                           check=True)
            created_user = True
        # A line of our user left by an interrupted run would be the daemon's first range, not ours.
        for path in FILES:
            _restore(path, b"".join(line for line in (_read(path) or b"").splitlines(True)
                                    if not line.startswith(f"{USER}:".encode())))
        start = max(userns.next_free_range(path) for path in FILES)
        for path in FILES:
            with open(path, "a") as f:
                f.write(f"{USER}:{start}:65536\n")
        socket_path = base / "nbdock.sock"
        log = open(base / "daemon.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "nbdock", "daemon", "--host", f"unix://{socket_path}", "--data-root",
             str(base / "root"), "--offline", "--userns-remap", USER],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "NBDOCK_USERNS_LAYERS": "chowned-copy" if request.param == "chowned copy" else ""})
        deadline = time.time() + 60
        while not _pings(str(socket_path)):
            if process.poll() is not None or time.time() > deadline:
                pytest.fail(f"nbdock daemon did not start:\n{(base / 'daemon.log').read_text()[-3000:]}")
            time.sleep(0.1)
        host = f"unix://{socket_path}"
        subprocess.run(["docker", "pull", "-q", "busybox"], env={**os.environ, "DOCKER_HOST": host},
                       check=True, capture_output=True, timeout=120)
        yield host, start, str(base / "root"), request.param
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if created_user:
            subprocess.run(["userdel", USER], check=False)
            subprocess.run(["groupdel", USER], check=False, capture_output=True)
        for path, content in saved.items():
            _restore(path, content)
    with open("/proc/self/mountinfo") as f:
        assert [line for line in f if str(base) in line] == []  # nothing left mounted


@pytest.fixture
def docker(docker_cli, remapped):
    return functools.partial(docker_cli, remapped[0])


@pytest.fixture
def sleeper(docker):
    name = f"userns-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "busybox", "sleep", "1000")
    yield name, int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout)
    docker("rm", "-f", name, check=False)


def out(result: subprocess.CompletedProcess) -> str:
    return result.stdout.decode().strip()


def test_info_names_the_option_and_the_layer_method(docker, remapped):
    info = out(docker("info", "--format", "{{json .SecurityOptions}} {{json .DriverStatus}}"))
    assert '"name=userns"' in info and '"name=seccomp,profile=default"' in info
    assert f'["Userns Remap Layers","{remapped[3]}"]' in info


def test_root_inside_is_the_remapped_uid_outside(docker, sleeper, remapped):
    name, pid = sleeper
    uid = remapped[1]
    assert out(docker("exec", name, "id")).startswith("uid=0(root) gid=0(root)")
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    assert fields["Uid"].split() == [str(uid)] * 4
    ps = subprocess.run(["ps", "-o", "user=", "-p", str(pid)], capture_output=True, text=True, check=True)
    assert ps.stdout.strip() == str(uid)  # no account has this uid: ps shows the number
    assert out(docker("exec", name, "cat", "/proc/self/uid_map")).split() == ["0", str(uid), "65536"]
    assert out(docker("run", "--rm", "busybox", "id", "-u")) == "0"


def test_image_files_look_root_owned_and_the_containers_files_are_the_remapped_roots(docker, remapped):
    name = f"userns-{uuid.uuid4().hex[:8]}"
    try:
        assert out(docker("run", "--name", name, "busybox", "sh", "-c",
                          "stat -c %u:%g /bin/busybox /etc/passwd; touch /new; stat -c %u /etc/hosts")).split() == \
            ["0:0", "0:0", "0"]
        cid = out(docker("inspect", "-f", "{{.Id}}", name))
        upper = os.path.join(remapped[2], "containers", cid, "upper")
        assert os.stat(os.path.join(upper, "new")).st_uid == remapped[1]
        assert os.stat(os.path.join(remapped[2], "containers", cid, "hosts")).st_uid == remapped[1]
        copies = os.path.join(remapped[2], f"{remapped[1]}.{remapped[1]}", "layers")
        assert os.path.isdir(copies) == (remapped[3] == "chowned copy")  # Docker's layout, only without idmapping
    finally:
        docker("rm", "-f", name, check=False)


def test_bind_mount_files_belong_to_the_remapped_uid_and_host_files_stay_closed(docker, remapped, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    (shared / "hosts-own").write_text("host\n")
    result = out(docker("run", "--rm", "-v", f"{shared}:/data", "busybox", "sh", "-c",
                        "echo made > /data/made; echo x >> /data/hosts-own 2>/dev/null || echo refused; "
                        "cat /etc/shadow >/dev/null 2>&1; stat -c %u /data/hosts-own"))
    assert result.split() == ["refused", "65534"]
    assert os.stat(shared / "made").st_uid == remapped[1]
    assert (shared / "hosts-own").read_text() == "host\n"


def test_a_volume_is_root_owned_inside(docker, remapped):
    volume = f"userns-{uuid.uuid4().hex[:8]}"
    try:
        assert out(docker("run", "--rm", "-v", f"{volume}:/data", "busybox", "sh", "-c",
                          "echo v > /data/f; stat -c %u /data/f")) == "0"
        source = out(docker("volume", "inspect", "-f", "{{.Mountpoint}}", volume))
        # Idmapped, the disk holds the inside owner; without, the volume is the remapped root's (Docker's way).
        on_disk = 0 if remapped[3] == "idmapped mounts" else remapped[1]
        assert os.stat(os.path.join(source, "f")).st_uid == on_disk
    finally:
        docker("volume", "rm", "-f", volume, check=False)


def test_exec_joins_the_user_namespace(docker, sleeper):
    name, pid = sleeper
    seen = out(docker("exec", name, "readlink", "/proc/self/ns/user"))
    assert seen == os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    assert out(docker("exec", "-u", "1000", name, "id", "-u")) == "1000"


def test_docker_cp_keeps_ownership_right(docker, sleeper, remapped):
    name, _ = sleeper
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for filename, uid in (("mine", 0), ("users", 1000)):
            info = tarfile.TarInfo(filename)
            info.size, info.uid, info.gid = 3, uid, uid
            tar.addfile(info, io.BytesIO(b"hi\n"))
    docker("cp", "-", f"{name}:/tmp", input=buffer.getvalue())  # as Docker: owned by the container's root
    assert out(docker("exec", name, "stat", "-c", "%u", "/tmp/mine", "/tmp/users")).split() == ["0", "0"]
    docker("exec", name, "mkdir", "/kept")
    docker("cp", "-a", "-", f"{name}:/kept", input=buffer.getvalue())  # -a: the archive's ids
    assert out(docker("exec", name, "stat", "-c", "%u", "/kept/mine", "/kept/users")).split() == ["0", "1000"]
    cid = out(docker("inspect", "-f", "{{.Id}}", name))
    upper = os.path.join(remapped[2], "containers", cid, "upper")
    assert os.stat(os.path.join(upper, "tmp", "users")).st_uid == remapped[1]
    assert os.stat(os.path.join(upper, "kept", "users")).st_uid == remapped[1] + 1000
    archive = docker("cp", f"{name}:/kept/users", "-").stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.getmembers()[0].uid == 1000


def test_userns_host_opts_out_and_the_conflicts_are_docker_s(docker):
    assert out(docker("run", "--rm", "--userns=host", "busybox", "cat", "/proc/self/uid_map")).split() == \
        ["0", "0", "4294967295"]
    for flags, message in ((["--privileged"], "privileged mode is incompatible with user namespaces"),
                           (["--network", "host"], "cannot share the host's network namespace when user namespaces are enabled"),
                           (["--pid", "host"], "cannot share the host PID namespace when user namespaces are enabled")):
        result = docker("run", "--rm", *flags, "busybox", "true", check=False)
        assert result.returncode == 125 and message in result.stderr.decode(), (flags, result.stderr)


def test_the_trace_shows_the_map_writes(docker, sleeper, remapped):
    name, _ = sleeper
    cid = out(docker("inspect", "-f", "{{.Id}}", name))
    from nbdock.runtime.trace import read_trace

    events = read_trace(os.path.join(remapped[2], "containers", cid, "trace.jsonl"))
    writes = [e["args"]["path"].rsplit("/", 1)[1] for e in events if e["kind"] == "userns" and e["op"] == "write"]
    assert writes == ["uid_map", "gid_map"]


def test_an_unknown_user_stops_the_daemon_before_it_makes_anything(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nbdock", "daemon", "--host", f"unix://{tmp_path}/s.sock",
                             "--data-root", str(tmp_path / "root"), "--userns-remap", "no-such-user-here"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'no such user "no-such-user-here"' in result.stderr
    assert os.listdir(tmp_path) == []


def test_default_creates_dockremap_with_the_first_free_block(tmp_path):
    try:
        pwd.getpwnam(userns.DEFAULT_USER)
        existed = True
    except KeyError:
        existed = False
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("someone:100000:65536\n")
    subgid.write_text("")
    try:
        root = userns.remapped_root("default", str(subuid), str(subgid))
        assert (root.user, root.group) == ("dockremap", "dockremap")
        assert subuid.read_text().splitlines()[-1] == "dockremap:165536:65536"
        assert subgid.read_text() == "dockremap:100000:65536\n"
        assert root.uid == 165536 and root.gid == 100000
        assert pwd.getpwnam("dockremap").pw_shell == "/bin/false"
    finally:
        if not existed:
            subprocess.run(["userdel", userns.DEFAULT_USER], check=False)
            subprocess.run(["groupdel", userns.DEFAULT_USER], check=False, capture_output=True)


def test_dock_ns_shows_the_user_namespace_and_its_maps(remapped, sleeper):
    from nbdock.client.connection import Connection
    from nbdock.views import data

    name, _ = sleeper
    frame = data.namespaces_frame(Connection(remapped[0]), name)
    row = frame[frame["type"] == "user"].iloc[0]
    assert row["isolation"] == "isolated"
    assert row["uid_map"] == f"0 -> {remapped[1]} (65536 ids)"
    assert row["gid_map"] == f"0 -> {remapped[1]} (65536 ids)"
    net = frame[frame["type"] == "net"].iloc[0]
    assert net["uid_map"] == ""


def test_docker_cp_into_and_out_of_a_stopped_container(docker):
    name = f"userns-{uuid.uuid4().hex[:8]}"
    try:
        docker("create", "--name", name, "busybox", "sh", "-c", "stat -c '%u %n' /tmp/in /made")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo("in")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"hi\n"))
        docker("cp", "-", f"{name}:/tmp", input=buffer.getvalue())
        docker("start", "-a", name, check=False)
        assert out(docker("logs", name)).splitlines()[0] == "0 /tmp/in"
        docker("rm", name)
        docker("run", "--name", name, "busybox", "sh", "-c", "echo x > /made; chown 7 /made")
        archive = docker("cp", f"{name}:/made", "-").stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            assert tar.getmembers()[0].uid == 7
    finally:
        docker("rm", "-f", name, check=False)


def test_sharing_a_containers_namespaces_shares_its_user_namespace(docker, sleeper):
    name, pid = sleeper
    other = f"userns-{uuid.uuid4().hex[:8]}"
    try:
        docker("run", "-d", "--name", other, "--network", f"container:{name}", "--pid", f"container:{name}",
               "busybox", "sleep", "100")
        other_pid = int(out(docker("inspect", "-f", "{{.State.Pid}}", other)))
        assert os.readlink(f"/proc/{other_pid}/ns/user") == os.readlink(f"/proc/{pid}/ns/user")
        assert os.readlink(f"/proc/{other_pid}/ns/net") == os.readlink(f"/proc/{pid}/ns/net")
        assert "sleep 1000" in out(docker("exec", other, "ps"))  # its /proc: the shared PID namespace
    finally:
        docker("rm", "-f", other, check=False)


def test_commit_and_build_keep_the_ids_the_container_saw(docker):
    name, image = f"userns-{uuid.uuid4().hex[:8]}", f"userns-img-{uuid.uuid4().hex[:8]}"
    try:
        docker("run", "--name", name, "busybox", "sh", "-c", "mkdir /d; echo x > /d/f; chown 5:6 /d/f")
        docker("commit", name, f"{image}:committed")
        assert out(docker("run", "--rm", f"{image}:committed", "stat", "-c", "%u:%g", "/d", "/d/f")).split() == \
            ["0:0", "5:6"]
        dockerfile = b"FROM busybox\nRUN mkdir /built && touch /built/f && chown 7:8 /built/f\n"
        docker("build", "-q", "-t", f"{image}:built", "-", input=dockerfile)  # DOCKER_BUILDKIT=0 as for every test
        assert out(docker("run", "--rm", f"{image}:built", "stat", "-c", "%u:%g", "/built", "/built/f")).split() == \
            ["0:0", "7:8"]
    finally:
        docker("rm", "-f", name, check=False)
        docker("rmi", "-f", f"{image}:committed", f"{image}:built", check=False)


def test_exec_with_a_terminal(docker, sleeper):
    name, _ = sleeper
    assert out(docker("exec", "-t", name, "tty")) == "/dev/pts/0"
    assert out(docker("exec", "-t", "-u", "1000", name, "stat", "-c", "%u", "/dev/pts/0")) == "1000"


def test_host_ipc_and_an_oom_score_in_a_user_namespace(docker):
    # The host's IPC namespace is not ours to mount message queues in: the host's are bound instead.
    assert out(docker("run", "--rm", "--ipc", "host", "busybox", "id", "-u")) == "0"
    # /proc/self stays root-inside's after the change of ids (dumpable), so init can write it.
    assert out(docker("run", "--rm", "--oom-score-adj", "100", "busybox", "cat", "/proc/self/oom_score_adj")) == "100"
