"""User namespaces on the real kernel: root inside a container is an ordinary user outside.

The containers here are made by the runtime alone (the harness of
conftest.py) with a user namespace mapping 0..65535 inside to
210000..275535 outside -- ids no account on this host uses.
"""

import os
import signal
import stat
import threading

import pytest

from nbdock.runtime import userns
from nbdock.runtime.capabilities import CAPABILITY_NAMES, last_capability, to_mask
from nbdock.runtime.container import Stdio
from nbdock.runtime.spec import ExecSpec, Mount, Process
from nbdock.runtime.trace import read_trace

from .conftest import host_mounts_under

pytestmark = pytest.mark.root

OUTSIDE = 210000
MAP = [[0, OUTSIDE, 65536]]


def remapped(container, *, idmapped=True):
    """Turn a harness container into a user-namespaced one, as the engine does at start."""
    container.spec.user_namespace = {"uid_map": MAP, "gid_map": MAP, "idmapped_layers": idmapped}
    directory = container.directory
    for sub in ("upper", "work"):
        os.chown(os.path.join(directory, sub), OUTSIDE, OUTSIDE)
    for name in ("hostname", "hosts", "resolv.conf"):
        os.chown(os.path.join(directory, name), OUTSIDE, OUTSIDE)
    return container


def run(runtime, args, *, idmapped=True, mounts=(), capabilities=None, seccomp="default", extra_lowers=()):
    container = remapped(runtime.container(args, mounts=mounts, extra_lowers=extra_lowers), idmapped=idmapped)
    if capabilities is not None:
        container.spec.process.capabilities = capabilities
    container.spec.process.seccomp = seccomp
    out_r, out_w = os.pipe()
    done = threading.Event()
    container.start(Stdio(stdout=out_w, stderr=out_w), lambda status: done.set())
    os.close(out_w)
    output = b""
    while chunk := os.read(out_r, 65536):
        output += chunk
    os.close(out_r)
    assert done.wait(20)
    container.release()
    container.delete()
    return output.decode(errors="replace"), container


def status_field(pid: int, name: str) -> list[str]:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1:]
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def test_root_inside_is_an_ordinary_uid_outside(runtime):
    container = remapped(runtime.container(["sleep", "30"]))
    started = container.start(Stdio(), lambda status: None)
    try:
        assert status_field(started.pid, "Uid") == [str(OUTSIDE)] * 4
        assert status_field(started.pid, "Gid") == [str(OUTSIDE)] * 4
        assert status_field(started.pid, "Groups") == [str(OUTSIDE)]  # root's group inside; the host's were dropped
        with open(f"/proc/{started.pid}/uid_map") as f:
            assert f.read().split() == ["0", str(OUTSIDE), "65536"]
        assert os.stat(f"/proc/{started.pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino
        # Every other namespace is owned by the new user namespace (NS_GET_USERNS would say so);
        # at least they are all new.
        for kind in ("mnt", "uts", "ipc", "net", "pid"):
            assert os.stat(f"/proc/{started.pid}/ns/{kind}").st_ino != os.stat(f"/proc/self/ns/{kind}").st_ino
    finally:
        container.kill(signal.SIGKILL)


def test_id_inside_says_root_and_the_image_looks_root_owned(runtime, busybox_layer, tmp_path):
    secret = tmp_path / "secret-layer"
    (secret / "etc").mkdir(parents=True)
    (secret / "etc" / "shadow").write_text("root:*:1::::::\n")
    os.chmod(secret / "etc" / "shadow", 0o600)
    output, _ = run(runtime, ["sh", "-c", "id; cat /proc/self/uid_map; stat -c '%u:%g %n' /etc/passwd /bin/busybox; "
                                          "cat /etc/shadow; echo $$"], extra_lowers=[str(secret)])
    lines = output.splitlines()
    assert lines[0] == "uid=0(root) gid=0(root) groups=0(root)"
    assert lines[1].split() == ["0", str(OUTSIDE), "65536"]
    assert lines[2:4] == ["0:0 /etc/passwd", "0:0 /bin/busybox"]
    assert lines[4] == "root:*:1::::::"  # a 0600 file of the image: root inside may read it
    assert lines[5] == "1"


def test_the_containers_own_files_belong_to_the_remapped_root_on_disk(runtime):
    output, container = run(runtime, ["sh", "-c", "echo data > /made; mkdir /d; chown 1000:1000 /d; echo ok"])
    assert output.strip() == "ok"
    upper = os.path.join(container.directory, "upper")
    made, d = os.stat(os.path.join(upper, "made")), os.stat(os.path.join(upper, "d"))
    assert (made.st_uid, made.st_gid) == (OUTSIDE, OUTSIDE)
    assert (d.st_uid, d.st_gid) == (OUTSIDE + 1000, OUTSIDE + 1000)


def test_files_made_in_a_bind_mount_belong_to_the_remapped_uid_and_host_files_stay_closed(runtime, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    (shared / "host-file").write_text("the host's\n")
    os.chmod(shared / "host-file", 0o644)
    output, _ = run(runtime, ["sh", "-c", "echo new > /data/new; stat -c '%u' /data/host-file; "
                                          "echo changed >> /data/host-file 2>&1 || echo refused; "
                                          "chown 0 /data/host-file 2>&1 || echo no-chown"],
                    mounts=[Mount("/data", "bind", str(shared))])
    lines = output.splitlines()
    assert os.stat(shared / "new").st_uid == OUTSIDE
    assert lines[0] == "65534"  # host root is not mapped inside: "nobody"
    assert "refused" in lines and "no-chown" in lines
    assert (shared / "host-file").read_text() == "the host's\n"


def test_root_with_every_capability_still_cannot_touch_what_the_host_owns(runtime):
    # Every capability and no seccomp filter: what stops these is the user namespace alone.
    script = ("grep CapEff /proc/self/status; mkdir -p /tmp/a /tmp/b; "
              "mount -t tmpfs none /tmp/a && echo own-tmpfs; "
              "mount -t ext4 /dev/hostdisk /tmp/b 2>&1 || echo no-host-disk; "
              "mknod /tmp/null c 1 3 2>&1 || echo no-mknod; "
              "date -s 2001-01-01 2>&1 >/dev/null | grep -q 'not permitted' && echo no-clock; "
              "head -c 4096 /dev/zero > /tmp/m.ko; insmod /tmp/m.ko 2>&1")
    output, _ = run(runtime, ["sh", "-c", script], capabilities=to_mask(CAPABILITY_NAMES[:last_capability() + 1]),
                    seccomp="unconfined", mounts=[Mount("/dev/hostdisk", "bind", _root_disk())])
    lines = output.splitlines()
    assert int(lines[0].split()[1], 16) == to_mask(CAPABILITY_NAMES[:last_capability() + 1])
    assert "own-tmpfs" in lines  # a mount namespace it owns: allowed
    assert "permission denied" in lines[2].lower() or "not permitted" in lines[2], output  # not "no such device"
    assert "no-host-disk" in lines and "no-mknod" in lines and "no-clock" in lines, output
    if os.path.exists("/proc/modules"):  # a kernel with loadable modules: init_module needs the host's CAP_SYS_MODULE
        assert "Operation not permitted" in lines[-1], output
    else:
        assert "not support" in lines[-1], output  # this kernel has no modules at all


def _root_disk() -> str:
    """The block device the host's / is on (a bind of its node is all the container gets)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/":
                return fields[fields.index("-") + 2]
    raise AssertionError("no / in mountinfo")


def test_exec_joins_the_user_namespace_too(runtime):
    container = remapped(runtime.container(["sleep", "30"]))
    started = container.start(Stdio(), lambda status: None)
    try:
        out_r, out_w = os.pipe()
        done = threading.Event()
        process = Process(args=["sh", "-c", "id -u; cat /proc/self/uid_map; grep ^Uid /proc/self/status"], env=[])
        spec = ExecSpec(container_id=container.spec.id, target_pid=started.pid, process=process,
                        namespaces=["user", "ipc", "uts", "net", "pid", "mnt"])
        container.exec(spec, Stdio(stdout=out_w, stderr=out_w), lambda status: done.set())
        os.close(out_w)
        output = b""
        while chunk := os.read(out_r, 4096):
            output += chunk
        assert done.wait(10)
        lines = output.decode().splitlines()
        assert lines[0] == "0"
        assert lines[1].split() == ["0", str(OUTSIDE), "65536"]
        assert lines[2].split()[1:] == ["0"] * 4  # as the container sees itself
    finally:
        container.kill(signal.SIGKILL)


def test_the_trace_shows_the_map_writes_and_nothing_is_left_mounted(runtime, tmp_path):
    output, container = run(runtime, ["true"])
    events = read_trace(os.path.join(container.directory, "trace.jsonl"))
    writes = [(e["op"], e["args"].get("path", "")) for e in events if e["kind"] == "userns"]
    ops = [op for op, _ in writes]
    assert ops.index("setgroups") < ops.index("write") < ops.index("setresuid")
    paths = [path.rsplit("/", 1)[1] for op, path in writes if op == "write"]
    assert paths == ["uid_map", "gid_map"]
    unshare = next(e for e in events if e["op"] == "unshare")
    assert unshare["args"]["flags"].startswith("CLONE_NEWUSER")
    assert host_mounts_under(tmp_path) == []


def test_without_idmapped_mounts_a_chowned_copy_of_the_layers_serves(runtime, busybox_layer, tmp_path):
    copy = tmp_path / "shifted"
    userns.shifted_copy(busybox_layer, str(copy), userns.ranges_from_spec(MAP), userns.ranges_from_spec(MAP))
    assert os.lstat(copy / "bin" / "busybox").st_uid == OUTSIDE
    assert stat.S_IMODE(os.stat(copy / "tmp").st_mode) == 0o1777  # chown clears no mode we keep
    container = remapped(runtime.container(["sh", "-c", "stat -c %u /bin/busybox; id -u"]), idmapped=False)
    container.spec.rootfs.lowerdirs = [str(copy)]
    out_r, out_w = os.pipe()
    done = threading.Event()
    container.start(Stdio(stdout=out_w, stderr=out_w), lambda status: done.set())
    os.close(out_w)
    output = b""
    while chunk := os.read(out_r, 4096):
        output += chunk
    assert done.wait(10)
    container.release()
    container.delete()
    assert output.decode().split() == ["0", "0"]


def test_the_kernel_here_does_idmapped_mounts(tmp_path):
    assert userns.probe_idmapped_mounts(str(tmp_path)) is True


def test_subordinate_ranges_and_the_next_free_block(tmp_path):
    subuid = tmp_path / "subuid"
    subuid.write_text("alice:100000:65536\nbob:165536:65536\n# comment\nalice:300000:10\n")
    assert userns.subordinate_ranges(str(subuid), "alice", None) == [(100000, 65536), (300000, 10)]
    assert userns.next_free_range(str(subuid)) == 231072
    root = userns.RemappedRoot("alice", "alice", userns._as_map([(100000, 65536), (300000, 10)]), ())
    assert root.uid_map[1] == userns.IdRange(65536, 300000, 10)
    assert userns.to_host(list(root.uid_map), 65540) == 300004
    assert userns.to_host(list(root.uid_map), 70000) is None


def test_an_unknown_user_or_one_without_ranges_is_refused_by_name(tmp_path):
    empty = tmp_path / "subuid"
    empty.write_text("")
    with pytest.raises(userns.RemapError, match='no such user "no-such-user-here"'):
        userns.remapped_root("no-such-user-here", str(empty), str(empty))
    with pytest.raises(userns.RemapError, match='no subuid ranges found for user "root"'):
        userns.remapped_root("root", str(empty), str(empty))


def _layer_dir(path, *, owner=0):
    """A layer in overlay form: a setuid file, a file of uid 1000, a whiteout, an opaque directory."""
    os.makedirs(path / "bin")
    (path / "bin" / "su").write_text("#!/bin/sh\n")
    os.chmod(path / "bin" / "su", 0o4755)
    (path / "home").mkdir()
    (path / "home" / "user-file").write_text("mine\n")
    os.chown(path / "home" / "user-file", owner + 1000, owner + 1000)
    os.mknod(path / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    (path / "opaque").mkdir()
    os.setxattr(path / "opaque", "trusted.overlay.opaque", b"y")
    for entry in (path, path / "bin", path / "bin" / "su", path / "home", path / "gone", path / "opaque"):
        os.chown(entry, owner, owner)
    os.chmod(path / "bin" / "su", 0o4755)  # chown cleared the setuid bit
    return path


def test_the_chowned_copy_of_an_image_in_docker_s_layout(tmp_path):
    from nbdock.image.store import ImageStore

    store = ImageStore(str(tmp_path / "root"))
    layer = store.add_layer_from_dir(str(_layer_dir(tmp_path / "layer")))
    image_id = store.create_image({"architecture": "amd64", "os": "linux", "config": {},
                                   "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
                                   "history": [{"created_by": "test"}]})
    root = userns.RemappedRoot("u", "u", tuple(userns.ranges_from_spec(MAP)), tuple(userns.ranges_from_spec(MAP)))
    [copy] = store.remapped_lowerdirs(image_id, root)
    assert copy == str(tmp_path / "root" / f"{OUTSIDE}.{OUTSIDE}" / "layers" / layer.diff_id[7:] / "diff")
    su = os.stat(os.path.join(copy, "bin", "su"))
    assert (su.st_uid, su.st_gid, stat.S_IMODE(su.st_mode)) == (OUTSIDE, OUTSIDE, 0o4755)
    assert os.stat(os.path.join(copy, "home", "user-file")).st_uid == OUTSIDE + 1000
    gone = os.lstat(os.path.join(copy, "gone"))
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0 and gone.st_uid == OUTSIDE  # still a whiteout
    assert os.getxattr(os.path.join(copy, "opaque"), "trusted.overlay.opaque") == b"y"
    made = os.stat(copy).st_mtime_ns
    assert store.remapped_lowerdirs(image_id, root) == [copy] and os.stat(copy).st_mtime_ns == made  # made once
    assert os.listdir(store.tmp_dir) == []
    store.delete(image_id)
    assert not os.path.exists(os.path.dirname(copy))  # the copy goes with its layer
    assert os.listdir(store.tmp_dir) == []


def test_a_remapped_containers_changes_become_a_layer_with_the_ids_it_saw(tmp_path):
    import tarfile

    from nbdock.image.store import ImageStore

    store = ImageStore(str(tmp_path / "root"))
    store.remapped_root = userns.RemappedRoot("u", "u", tuple(userns.ranges_from_spec(MAP)),
                                              tuple(userns.ranges_from_spec(MAP)))
    upper = _layer_dir(tmp_path / "upper", owner=OUTSIDE)  # as a remapped container leaves it
    layer = store.add_layer_from_dir(str(upper), move=True)
    assert os.path.isdir(upper)  # not taken over: the unpacked layer must hold the container's ids
    with tarfile.open(store.blob_path(layer.diff_id)) as tar:
        owners = {member.name: (member.uid, member.gid) for member in tar.getmembers()}
    assert owners["bin/su"] == (0, 0) and owners["home/user-file"] == (1000, 1000) and owners[".wh.gone"] == (0, 0)
    plain = store.add_layer_from_dir(str(_layer_dir(tmp_path / "host-made")))  # owned by 0: kept as it is
    with tarfile.open(store.blob_path(plain.diff_id)) as tar:
        assert {m.name: m.uid for m in tar.getmembers()}["home/user-file"] == 1000
