"""The order and arguments of a container's setup, checked without root (as youki's tests check get_mount_args()).

The runtime's steps are handed a RecordingKernel (kernelrecorder.py): it
records every call and makes none.  A temporary directory stands for the
container's root -- the steps resolve mount targets in it and make the
directories of /dev there, as they would in the real overlay.  The same
steps against the real kernel are the root tests of test_runtime_containers.py.
"""

from __future__ import annotations

import ast
import errno
import inspect
import os
import pathlib
import signal
import socket
import stat

import pytest

from nbdock.kernel import libc
from nbdock.kernel.libc import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT
from nbdock.runtime import init, namespaces, rootfs, userns
from nbdock.runtime.capabilities import to_mask
from nbdock.runtime.kernel import LINUX, Kernel, LinuxKernel, TracingKernel
from nbdock.runtime.spec import ContainerSpec, ExecSpec, Mount, Process, Rootfs
from nbdock.runtime.trace import Trace, read_trace

from .kernelrecorder import Executed, RecordingKernel


@pytest.fixture
def container(tmp_path):
    """A spec whose root is a temporary directory, with the host files and a volume a container has."""
    root = tmp_path / "rootfs"
    root.mkdir()
    for name in ("hostname", "hosts"):
        (tmp_path / name).write_text("")
    (tmp_path / "volume").mkdir()
    spec = ContainerSpec(
        id="c" * 64, rootfs=Rootfs(["/layers/2", "/layers/1"], str(tmp_path / "upper"), str(tmp_path / "work"), str(root)),
        process=Process(args=["/bin/sh", "-c", "true"], cwd="/work", oom_score_adj=100, rlimits=[["NOFILE", 1024, 2048]]),
        hostname="box", domainname="example.org", cgroup_version=2,
        namespaces={"mnt": "new", "uts": "new", "ipc": "new", "net": "new", "pid": "new", "cgroup": "new"},
        mounts=[Mount("/data", "bind", str(tmp_path / "volume"), readonly=True), Mount("/scratch", "tmpfs", data="size=1m,exec")],
        etc_files={"/etc/hostname": str(tmp_path / "hostname"), "/etc/hosts": str(tmp_path / "hosts")},
        masked_paths=["/proc/kcore", "/proc/acpi", "/proc/not-here"], readonly_paths=["/proc/sys", "/proc/absent"],
    )
    return spec


def channels_for_start():
    """A gate the daemon has already said "go" on, and a live supervisor (a pidfd of ourselves)."""
    gate_r, gate_w = os.pipe()
    os.write(gate_w, b"go")
    os.close(gate_w)
    return {"gate": gate_r, "supervisor": os.pidfd_open(os.getpid())}


def start(spec: ContainerSpec, kernel, attached=None) -> Executed:
    """init.set_up_container against ``kernel``, up to the execve it ends with."""
    # What /proc holds once mounted: the masked and read-only paths that exist.
    root = spec.rootfs.mountpoint
    os.makedirs(os.path.join(root, "proc", "acpi"))
    os.makedirs(os.path.join(root, "proc", "sys"))
    open(os.path.join(root, "proc", "kcore"), "w").close()
    channels = channels_for_start()
    try:
        with pytest.raises(Executed) as executed:
            init.set_up_container(spec, channels, kernel, attached)
    finally:
        os.close(channels["gate"])
    return executed.value


def test_the_mounts_of_a_container_in_order(container):
    kernel = RecordingKernel()
    start(container, kernel)
    dev = MS_NOSUID | MS_NODEV | MS_NOEXEC
    assert kernel.mounts() == [
        (None, "/", None, MS_REC | MS_PRIVATE),  # nothing we mount travels back to the host
        ("overlay", container.rootfs.mountpoint, "overlay", 0),
        ("proc", "/proc", "proc", dev),
        ("tmpfs", "/dev", "tmpfs", MS_NOSUID | libc.MS_STRICTATIME),
        ("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC),
        ("shm", "/dev/shm", "tmpfs", dev),
        ("mqueue", "/dev/mqueue", "mqueue", dev),
        ("sysfs", "/sys", "sysfs", MS_RDONLY | dev),
        (container.etc_files["/etc/hostname"], "/etc/hostname", None, MS_BIND | MS_REC),
        (container.etc_files["/etc/hosts"], "/etc/hosts", None, MS_BIND | MS_REC),
        (container.mounts[0].source, "/data", None, MS_BIND | MS_REC),
        (None, "/data", None, MS_REMOUNT | MS_BIND | MS_RDONLY),  # a bind is made read-only by a second call
        ("tmpfs", "/scratch", "tmpfs", MS_NOSUID | MS_NODEV),  # "exec" took MS_NOEXEC away
        # after pivot_root: read-only paths, then masked ones (a missing path is skipped)
        ("/proc/sys", "/proc/sys", None, MS_BIND | MS_REC),
        (None, "/proc/sys", None, MS_REMOUNT | MS_BIND | MS_RDONLY | dev),
        ("/dev/null", "/proc/kcore", None, MS_BIND),
        ("tmpfs", "/proc/acpi", "tmpfs", MS_RDONLY),
        ("cgroup", "/sys/fs/cgroup", "cgroup2", MS_RDONLY | dev),  # last, inside the new cgroup namespace
    ]
    overlay = next(c for c in kernel.calls if c.op == "mount" and c["fstype"] == "overlay")
    assert overlay["data"] == f"lowerdir=/layers/2:/layers/1,upperdir={container.rootfs.upperdir},workdir={container.rootfs.workdir}"
    scratch = next(c for c in kernel.calls if c.op == "mount" and c.get("shown_target") == "/scratch")
    assert scratch["data"] == "size=1m"
    # Every target inside the root was handed to mount(2) as a descriptor resolved in it, never as a path.
    inside = [c for c in kernel.calls if c.op == "mount" and c.get("shown_target") and c["shown_target"].startswith(("/proc", "/etc", "/data"))
              and c["source"] not in ("/proc/sys", "/dev/null", None, "tmpfs")]
    assert inside and all(c["target"].startswith("/proc/self/fd/") for c in inside)


def test_a_containers_setup_from_the_first_mount_to_execve(container):
    kernel = RecordingKernel()
    executed = start(container, kernel)
    ops = kernel.ops()
    # The order of the stages, as runc takes them.
    stages = ["mount", "mknod", "symlink", "pivot_root", "umount2", "sethostname", "setdomainname", "unshare",
              "set_oom_score_adj", "setrlimit", "capbset_drop", "load_seccomp", "set_credentials", "capset", "execve"]
    firsts = [ops.index(op) for op in stages]
    assert firsts == sorted(firsts), list(zip(stages, firsts))
    assert ops[-1] == "execve" and executed.path == "/bin/sh" and executed.argv == ["/bin/sh", "-c", "true"]
    pivot = ops.index("pivot_root")
    assert ops[pivot:pivot + 2] == ["pivot_root", "umount2"]
    assert all(op != "mknod" and op != "symlink" for op in ops[pivot:])  # /dev is complete before the pivot
    # pivot_root(".", "."): from inside the new root, whose old root is then detached from "/".
    pivot_at = next(i for i, c in enumerate(kernel.calls) if c.op == "pivot_root")
    chdir_before = [c for c in kernel.calls[:pivot_at] if c.op == "chdir"]
    assert chdir_before[-1]["path"] == container.rootfs.mountpoint
    (pivot_call,) = [c for c in kernel.calls if c.op == "pivot_root"]
    assert (pivot_call["new_root"], pivot_call["put_old"]) == (".", ".")
    (umount,) = [c for c in kernel.calls if c.op == "umount2"]
    assert (umount["target"], umount["flags"]) == ("/", libc.MNT_DETACH)
    # The working directory: made (before a read-only root could stop it), then entered, after the pivot.
    assert os.path.isdir(os.path.join(container.rootfs.mountpoint, "work"))
    assert [c["path"] for c in kernel.calls if c.op == "chdir"][-1] == "/work"
    (unshare,) = [c for c in kernel.calls if c.op == "unshare"]
    assert unshare["flags"] == libc.CLONE_NEWCGROUP
    # Credentials last: the bounding set while CAP_SETPCAP is ours, then the ids, then the parent-death signal.
    tail = [c for c in kernel.steps() if c.op in ("capbset_drop", "set_credentials", "prctl", "capset", "execve")]
    assert [c.op for c in tail] == ["capbset_drop", "set_credentials", "prctl", "capset", "prctl", "execve"]
    assert (tail[2]["option"], tail[2]["arg2"]) == (libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_CLEAR_ALL)
    assert tail[3]["effective"] == tail[3]["permitted"] == container.process.capabilities and tail[3]["inheritable"] == 0
    assert (tail[4]["option"], tail[4]["arg2"]) == (libc.PR_SET_PDEATHSIG, signal.SIGKILL)
    assert to_mask(["SYS_ADMIN"]).bit_length() - 1 in tail[0]["bits"]
    assert not set(tail[0]["bits"]) & {bit for bit in range(64) if container.process.capabilities >> bit & 1}


def test_the_dev_nodes_and_links(container):
    kernel = RecordingKernel()
    start(container, kernel)
    nodes = [(c["shown_path"], os.major(c["device"]), os.minor(c["device"]), c["mode"]) for c in kernel.calls if c.op == "mknod"]
    assert nodes == [(f"/dev/{name}", major, minor, stat.S_IFCHR | 0o666)
                     for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                                                ("urandom", 1, 9), ("tty", 5, 0))]
    links = {c["shown_path"]: c["target"] for c in kernel.calls if c.op == "symlink"}
    assert links == {"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1",
                     "/dev/stderr": "/proc/self/fd/2", "/dev/ptmx": "pts/ptmx"}


def test_no_new_privileges_puts_the_filter_last(container):
    container.process.no_new_privileges = True
    kernel = RecordingKernel()
    start(container, kernel)
    ops = kernel.ops()
    assert ops.index("set_credentials") < ops.index("load_seccomp") < ops.index("execve")
    nnp = [c for c in kernel.calls if c.op == "prctl" and c["option"] == libc.PR_SET_NO_NEW_PRIVS]
    assert nnp and ops.index("set_credentials") < kernel.steps().index(nnp[0]) < ops.index("load_seccomp")


def test_unconfined_loads_no_filter(container):
    container.process.seccomp = "unconfined"
    kernel = RecordingKernel()
    start(container, kernel)
    assert "load_seccomp" not in kernel.ops()


def test_a_read_only_root_is_remounted_after_the_masks(container):
    container.rootfs.readonly = True
    container.namespaces["uts"] = "host"  # and the host's hostname is left alone
    kernel = RecordingKernel()
    start(container, kernel)
    mounts = kernel.mounts()
    assert (None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY) in mounts
    assert mounts.index((None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY)) > mounts.index(("tmpfs", "/proc/acpi", "tmpfs", MS_RDONLY))
    assert "sethostname" not in kernel.ops()
    # --read-only makes the host's files read-only too
    assert (None, "/etc/hosts", None, MS_REMOUNT | MS_BIND | MS_RDONLY) in mounts


def test_a_tty_is_opened_after_the_hostname_bound_on_the_console_and_handed_to_the_daemon(container):
    container.process.tty, container.process.console_size = True, [24, 80]
    daemon_end, container_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    kernel = RecordingKernel()
    root = container.rootfs.mountpoint
    os.makedirs(os.path.join(root, "proc", "sys"))
    channels = {**channels_for_start(), "console": container_end.detach()}
    try:
        with pytest.raises(Executed):
            init.set_up_container(container, channels, kernel)
        _, fds, _, _ = socket.recv_fds(daemon_end, 16, 1)
    finally:
        os.close(channels["gate"])
        daemon_end.close()
    assert len(fds) == 1  # the pty master, now the daemon's
    os.close(fds[0])
    ops = [c.op for c in kernel.calls]
    terminal = ["openpty", "set_window_size", "mount", "make_controlling_terminal"]
    at = ops.index("openpty")
    assert ops[at:at + 4] == terminal and ops.index("sethostname") < at < ops.index("execve")
    assert (kernel.calls[at + 1]["rows"], kernel.calls[at + 1]["columns"]) == (24, 80)
    assert (kernel.calls[at + 2]["source"], kernel.calls[at + 2]["target"]) == ("/dev/pts/0", "/dev/console")
    assert os.path.isfile(os.path.join(root, "dev", "console"))  # the console's mount point, made in the new /dev


def test_on_cgroup_v1_the_containers_own_hierarchies_are_bound_read_only(container):
    container.cgroup_version = 1
    container.namespaces["cgroup"] = "host"
    container.cgroup_view = [("/sys/fs/cgroup/memory/nbdock/c", "memory"), ("/sys/fs/cgroup/cpu,cpuacct/nbdock/c", "cpu,cpuacct")]
    os.makedirs(os.path.join(container.rootfs.mountpoint, "sys", "fs", "cgroup"))  # what sysfs holds
    kernel = RecordingKernel()
    start(container, kernel)
    dev = MS_NOSUID | MS_NODEV | MS_NOEXEC
    cgroup = [m for m in kernel.mounts() if m[1].startswith("/sys/fs/cgroup")]
    assert cgroup == [
        ("tmpfs", "/sys/fs/cgroup", "tmpfs", dev),
        ("/sys/fs/cgroup/memory/nbdock/c", "/sys/fs/cgroup/memory", None, MS_BIND),
        (None, "/sys/fs/cgroup/memory", None, MS_REMOUNT | MS_BIND | MS_RDONLY | dev),
        ("/sys/fs/cgroup/cpu,cpuacct/nbdock/c", "/sys/fs/cgroup/cpu,cpuacct", None, MS_BIND),
        (None, "/sys/fs/cgroup/cpu,cpuacct", None, MS_REMOUNT | MS_BIND | MS_RDONLY | dev),
    ]
    assert kernel.mounts().index(cgroup[0]) == kernel.mounts().index(("sysfs", "/sys", "sysfs", MS_RDONLY | dev)) + 1
    assert os.readlink(os.path.join(container.rootfs.mountpoint, "sys/fs/cgroup/cpuacct")) == "cpu,cpuacct"
    assert "unshare" not in kernel.ops()


def test_in_a_user_namespace_the_spawners_mounts_are_attached_and_the_dev_nodes_bound(container, tmp_path):
    container.user_namespace = {"uid_map": [[0, 100000, 65536]], "gid_map": [[0, 100000, 65536]]}
    # The spawner's detached mounts: here descriptors of plain directories and files.
    attached = {"rootfs": os.open(container.rootfs.mountpoint, os.O_PATH), "mountpoint": os.open(tmp_path, os.O_PATH),
                "etc:/etc/hosts": os.open(container.etc_files["/etc/hosts"], os.O_PATH),
                "mount:0": os.open(container.mounts[0].source, os.O_PATH)}
    # sysfs over a network namespace another user namespace owns: EPERM, and the host's /sys is bound instead.
    kernel = RecordingKernel(fail={"mount": lambda call: errno.EPERM if call["fstype"] == "sysfs" else 0})
    try:
        start(container, kernel, attached)
    finally:
        for fd in attached.values():
            os.close(fd)
    moves = [(c["from_fd"], c["shown_target"]) for c in kernel.calls if c.op == "move_mount"]
    assert moves == [(attached["rootfs"], container.rootfs.mountpoint), (attached["etc:/etc/hosts"], "/etc/hosts"),
                     (attached["mount:0"], "/data")]
    assert "mknod" not in kernel.ops() and "overlay" not in [m[2] for m in kernel.mounts()]
    binds = [m for m in kernel.mounts() if m[1] in ("/dev/null", "/dev/tty")]
    assert binds == [("/dev/null", "/dev/null", None, MS_BIND), ("/dev/tty", "/dev/tty", None, MS_BIND)]
    assert ("/sys", "/sys", None, MS_BIND | MS_REC) in kernel.mounts()
    (pivot,) = [c for c in kernel.calls if c.op == "pivot_root"]
    assert pivot["shown_new_root"] == f"/proc/self/fd/{attached['rootfs']}"
    # The spawner's descriptors are closed once pivoted; the detached /data was not remounted inside.
    closed = [c["fd"] for c in kernel.calls if c.op == "close"]
    assert set(attached.values()) <= set(closed)
    assert (None, "/data", None, MS_REMOUNT | MS_BIND | MS_RDONLY) not in kernel.mounts()


def test_namespaces_joined_first_the_user_one_before_all_then_the_new_ones_unshared():
    kernel = RecordingKernel()
    namespaces.create({"mnt": "new", "net": "/proc/42/ns/net", "user": "/proc/42/ns/user", "uts": "new", "ipc": "host"},
                      kernel)
    steps = kernel.steps()
    assert [(c.op, c.get("shown_path"), c.get("nstype") or c.get("flags")) for c in steps] == [
        ("setns", "/proc/42/ns/user", libc.CLONE_NEWUSER),
        ("setns", "/proc/42/ns/net", libc.CLONE_NEWNET),
        ("unshare", None, libc.CLONE_NEWNS | libc.CLONE_NEWUTS),
    ]
    opened = [c for c in kernel.calls if c.op == "open"]
    assert [c["path"] for c in opened] == ["/proc/42/ns/user", "/proc/42/ns/net"]
    assert len([c for c in kernel.calls if c.op == "close"]) == 2


def test_an_exec_joins_by_its_pidfd_in_one_setns_then_becomes_root_inside():
    kernel = RecordingKernel()
    spec = ExecSpec(container_id="c" * 64, target_pid=42, process=Process(args=["sh"]),
                    namespaces=["ipc", "uts", "net", "pid", "mnt", "user"])
    channels = {"target": 7}
    init.join_container(spec, channels, kernel)
    assert [c.op for c in kernel.calls] == ["setns", "close", "setresuid", "prctl"]
    setns, close, setresuid, dumpable = kernel.calls
    assert setns["fd"] == 7 and setns["nstype"] == (libc.CLONE_NEWIPC | libc.CLONE_NEWUTS | libc.CLONE_NEWNET
                                                    | libc.CLONE_NEWNS | libc.CLONE_NEWUSER)  # not the PID one
    assert close["fd"] == 7 and "target" not in channels
    assert (setresuid["uid"], setresuid["gid"], setresuid["groups"]) == (0, 0, [])
    assert (dumpable["option"], dumpable["arg2"]) == (libc.PR_SET_DUMPABLE, 1)
    plain = RecordingKernel()
    init.join_container(ExecSpec("c" * 64, 42, Process(args=["sh"]), ["pid", "mnt"]), {"target": 7}, plain)
    assert [c.op for c in plain.calls] == ["setns", "close"] and plain.calls[0]["nstype"] == libc.CLONE_NEWNS


def test_the_spawner_writes_the_maps_in_the_kernels_order():
    kernel = RecordingKernel()
    userns.write_id_maps(4242, {"uid_map": [[0, 100000, 65536]], "gid_map": [[0, 200000, 1000], [1000, 300000, 10]]}, kernel)
    assert [(c.op, c.get("name"), c.get("text")) for c in kernel.calls] == [
        ("read_setgroups", None, None),
        ("write_id_map", "uid_map", "0 100000 65536\n"),
        ("write_id_map", "gid_map", "0 200000 1000\n1000 300000 10\n"),  # every range in one write
    ]


def remapped_spec(tmp_path, *, idmapped=True):
    spec = ContainerSpec(
        id="c" * 64, rootfs=Rootfs(["/layers/own", "/layers/2", "/layers/1"], "/c/upper", "/c/work", "/c/rootfs", readonly=True),
        process=Process(args=["sh"]), hostname="box", namespaces={"mnt": "new"},
        mounts=[Mount("/data", "bind", "/volumes/data", readonly=True), Mount("/t", "tmpfs"),
                Mount("/ids", "bind", "/srv/ids", idmap=True)],
        etc_files={"/etc/hosts": "/c/hosts"},
        user_namespace={"uid_map": [[0, 100000, 65536]], "gid_map": [[0, 100000, 65536]], "idmapped_layers": idmapped,
                        "plain_lowerdirs": 1},
    )
    return spec


def test_the_spawner_makes_a_remapped_containers_mounts_detached_in_order(tmp_path):
    kernel = RecordingKernel()
    fds = userns.prepare_mounts(4242, remapped_spec(tmp_path), kernel)
    assert list(fds) == ["rootfs", "mountpoint", "etc:/etc/hosts", "mount:0", "mount:2"]  # the tmpfs is made inside
    steps = [(c.op, c.get("path") or c.get("shown_path") or c.get("key") or c.get("fstype")) for c in kernel.calls
             if c.op != "close"]
    assert steps == [
        ("open", "/proc/4242/ns/user"),
        # each image layer an idmapped detached mount; the container's own top one (plain) as it is
        ("open_tree", "/layers/2"), ("mount_setattr", "/layers/2"),
        ("open_tree", "/layers/1"), ("mount_setattr", "/layers/1"),
        ("fsopen", "overlay"),
        ("fsconfig", "lowerdir+"), ("fsconfig", "lowerdir+"), ("fsconfig", "lowerdir+"),
        ("fsconfig", "upperdir"), ("fsconfig", "workdir"), ("fsconfig", None),  # FSCONFIG_CMD_CREATE
        ("fsmount", None),
        ("open", "/proc/4242/root/c/rootfs"),
        ("open_tree", "/c/hosts"), ("mount_setattr", "/c/hosts"),  # --read-only: the host's files too
        ("open_tree", "/volumes/data"), ("mount_setattr", "/volumes/data"),
        ("open_tree", "/srv/ids"), ("mount_setattr", "/srv/ids"),
    ]
    ns = 1000  # the recorder's first descriptor
    lowers = [c["value"] for c in kernel.calls if c.op == "fsconfig" and c["key"] == "lowerdir+"]
    layer_fds = [c for c in kernel.calls if c.op == "open_tree"][:2]
    assert lowers[0] == "/layers/own" and len(lowers) == 3 and all(v.startswith("/proc/self/fd/") for v in lowers[1:])
    setattrs = [c for c in kernel.calls if c.op == "mount_setattr"]
    assert [(c["attr_set"], c["userns_fd"]) for c in setattrs] == [
        (libc.MOUNT_ATTR_IDMAP, ns), (libc.MOUNT_ATTR_IDMAP, ns), (libc.MOUNT_ATTR_RDONLY, 0), (libc.MOUNT_ATTR_RDONLY, 0),
        (libc.MOUNT_ATTR_IDMAP, ns)]
    assert all(c["flags"] == libc.OPEN_TREE_CLONE | libc.AT_RECURSIVE for c in kernel.calls if c.op == "open_tree"
               and c not in layer_fds)
    # Every descriptor but the ones handed over is closed: the layers' (the overlay holds them), the context, the namespace.
    closed = {c["fd"] for c in kernel.calls if c.op == "close"}
    assert not closed & set(fds.values()) and ns in closed and len(closed) == 4


def test_a_kernel_without_lowerdir_plus_gets_the_layers_in_one_option(tmp_path):
    kernel = RecordingKernel(fail={"fsconfig": lambda call: errno.EINVAL if call["key"] == "lowerdir+" else 0})
    userns.prepare_mounts(4242, remapped_spec(tmp_path, idmapped=False), kernel)
    options = [(c["key"], c["value"]) for c in kernel.calls if c.op == "fsconfig"]
    assert options[:2] == [("lowerdir+", "/layers/own"), ("lowerdir", "/layers/own:/layers/2:/layers/1")]
    assert "mount_setattr" not in [c.op for c in kernel.calls[:8]]  # no idmapped layers


def test_sysctls_are_written_through_the_kernel_and_a_missing_key_is_a_start_error():
    kernel = RecordingKernel(fail={"write_sysctl": lambda call: errno.ENOENT if call["key"] == "net.nope" else 0})
    init._write_sysctls({"net.ipv4.ip_forward": "1"}, kernel)
    assert [(c.op, c["key"], c["value"]) for c in kernel.calls] == [("write_sysctl", "net.ipv4.ip_forward", "1")]
    with pytest.raises(init.ContainerStartError, match="write sysctl key net.nope"):
        init._write_sysctls({"net.nope": "1"}, kernel)


# ---------------------------------------------------------------------------
# The tracing kernel: the trace is what the kernel was asked


def test_the_trace_is_the_calls_made(container, tmp_path):
    """Every step the kernel is asked is one event, in the same order, with today's shapes."""
    path = str(tmp_path / "trace.jsonl")
    recorder = RecordingKernel()
    with Trace(path) as trace:
        start(container, TracingKernel(recorder, trace))
    events = read_trace(path)
    steps = [c for c in recorder.steps() if c.op != "note"]
    assert len(events) == len(steps)
    named = {"write_sysctl": "sysctl", "set_oom_score_adj": "oom_score_adj", "capbset_drop": "prctl",
             "set_credentials": "setuid", "load_seccomp": "load"}
    assert [e["op"] for e in events] == [named.get(c.op, c.op) for c in steps]
    by_op = {}
    for event in events:
        by_op.setdefault(event["op"], []).append(event)
    proc = next(e for e in by_op["mount"] if e["args"]["source"] == "proc")
    assert (proc["kind"], proc["args"]) == ("mount", {"source": "proc", "target": "/proc", "fstype": "proc",
                                                      "flags": "MS_NOSUID|MS_NODEV|MS_NOEXEC", "data": None})
    assert by_op["pivot_root"][0]["kind"] == "rootfs"
    assert by_op["pivot_root"][0]["args"] == {"new_root": container.rootfs.mountpoint, "put_old": "."}
    assert by_op["umount2"][0]["args"] == {"target": "/", "flags": "MNT_DETACH", "why": "detach the old root stacked on top"}
    assert by_op["mknod"][0]["args"] == {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "mode": "0o666"}
    assert by_op["symlink"][0]["args"] == {"path": "/dev/fd", "target": "/proc/self/fd"}
    assert by_op["sethostname"][0]["args"] == {"name": "box"}
    assert by_op["unshare"][0]["args"] == {"flags": "CLONE_NEWCGROUP"}
    assert by_op["setrlimit"][0]["args"] == {"resource": "NOFILE", "soft": 1024, "hard": 2048}
    drop = next(e for e in by_op["prctl"] if e["args"]["option"] == "PR_CAPBSET_DROP")
    assert drop["kind"] == "capability" and "SYS_ADMIN" in drop["args"]["dropped"] and "CHOWN" not in drop["args"]["dropped"]
    assert {"option": "PR_SET_PDEATHSIG", "signal": "SIGKILL"} in [e["args"] for e in by_op["prctl"]]
    assert (by_op["setuid"][0]["kind"], by_op["setuid"][0]["args"]["uid"], by_op["setuid"][0]["args"]["gid"]) == ("process", 0, 0)
    assert by_op["capset"][0]["args"] == {"effective": hex(container.process.capabilities), "inheritable": "0x0"}
    assert by_op["load"][0]["kind"] == "seccomp" and by_op["load"][0]["args"]["profile"] == "default"
    assert by_op["execve"][0]["args"] == {"path": "/bin/sh", "argv": ["/bin/sh", "-c", "true"]}


def test_the_trace_of_joins_and_map_writes(tmp_path):
    path = str(tmp_path / "trace.jsonl")
    with Trace(path) as trace:
        kernel = TracingKernel(RecordingKernel(), trace)
        namespaces.create({"user": "new", "mnt": "new", "net": "/proc/9/ns/net"}, kernel)
        namespaces.enter(5, ["net", "user", "mnt"], kernel)
        userns.write_id_maps(9, {"uid_map": [[0, 100000, 65536]], "gid_map": [[0, 100000, 65536]]}, kernel)
        userns.become_root_inside(kernel)
        userns.detached_bind("/volumes/data", True, kernel)
        userns.detached_overlay(["/layers/1"], "/c/upper", "/c/work", 3, kernel)
    events = [(e["kind"], e["op"], e["args"]) for e in read_trace(path)]
    assert events == [
        ("namespace", "setns", {"path": "/proc/9/ns/net", "nstype": "CLONE_NEWNET"}),
        ("namespace", "unshare", {"flags": "CLONE_NEWUSER | CLONE_NEWNS"}),  # the user namespace named first
        ("namespace", "setns", {"fd": "pidfd", "nstype": "CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET"}),
        ("userns", "setgroups", {"path": "/proc/9/setgroups", "value": "allow",
                                 "why": "left as is: a privileged writer may map groups without denying setgroups(2)"}),
        ("userns", "write", {"path": "/proc/9/uid_map", "value": "0 100000 65536"}),
        ("userns", "write", {"path": "/proc/9/gid_map", "value": "0 100000 65536"}),
        ("userns", "setresuid", {"uid": 0, "gid": 0, "groups": [], "why": "root inside the user namespace"}),
        ("process", "prctl", {"option": "PR_SET_DUMPABLE", "value": 1}),
        ("userns", "open_tree", {"path": "/volumes/data", "flags": "OPEN_TREE_CLONE|AT_RECURSIVE"}),
        ("userns", "mount_setattr", {"path": "/volumes/data", "attr": "MOUNT_ATTR_RDONLY", "recursive": True}),
        ("userns", "open_tree", {"path": "/layers/1", "flags": "OPEN_TREE_CLONE"}),
        ("userns", "mount_setattr", {"path": "/layers/1", "attr": "MOUNT_ATTR_IDMAP", "userns": "the container's"}),
        ("userns", "fsopen", {"fstype": "overlay"}),
        ("userns", "fsconfig", {"cmd": "FSCONFIG_SET_STRING", "key": "lowerdir+", "value": "/proc/self/fd/1002"}),
        ("userns", "fsconfig", {"cmd": "FSCONFIG_SET_STRING", "key": "upperdir", "value": "/c/upper"}),
        ("userns", "fsconfig", {"cmd": "FSCONFIG_SET_STRING", "key": "workdir", "value": "/c/work"}),
        ("userns", "fsconfig", {"cmd": "FSCONFIG_CMD_CREATE"}),
        ("userns", "fsmount", {"what": "the overlay, detached: attached by the container inside"}),
    ]


def test_a_failed_call_is_the_last_event_of_the_trace(tmp_path):
    path = str(tmp_path / "trace.jsonl")
    recorder = RecordingKernel(fail={"pivot_root": lambda call: errno.EINVAL})
    with Trace(path) as trace, pytest.raises(libc.SyscallError):
        rootfs.pivot(str(tmp_path), TracingKernel(recorder, trace))
    assert [e["op"] for e in read_trace(path)] == ["pivot_root"]


def test_a_copy_up_is_a_note_in_the_trace(tmp_path):
    image = tmp_path / "rootfs" / "seed"
    image.mkdir(parents=True)
    (image / "file").write_text("from the image")
    volume = tmp_path / "volume"
    volume.mkdir()
    path = str(tmp_path / "trace.jsonl")
    with Trace(path) as trace:
        rootfs.bind_mount(str(tmp_path / "rootfs"), Mount("/seed", "bind", str(volume), copy_up=True),
                          TracingKernel(RecordingKernel(), trace))
    assert (volume / "file").read_text() == "from the image"
    assert [(e["op"], e["args"].get("target")) for e in read_trace(path)] == [("copy_up", None), ("mount", "/seed")]


def test_steps_given_no_kernel_use_the_real_one_untraced():
    assert rootfs.pivot.__defaults__ == (LINUX,) and namespaces.enter.__defaults__ == (LINUX,)


# ---------------------------------------------------------------------------
# The seam holds


SETUP_MODULES = ("rootfs", "namespaces", "init", "devices", "capabilities", "userns", "spawner", "fsaccess")
#: What a setup step must ask the kernel for rather than call itself.
DIRECT = {"os": {"mknod", "chdir", "setuid", "setgid", "setgroups", "setresuid", "setresgid", "execve", "chroot", "setrlimit"},
          "resource": {"setrlimit"}, "terminal": {"open_pty", "make_controlling_terminal", "set_window_size"}}


def calls_beside_the_seam(module: str, direct: dict[str, set[str]]) -> list[str]:
    """The calls of runtime/``module``.py that bypass the Kernel: a libc function, one of ``direct``, a trace emit."""
    path = pathlib.Path(rootfs.__file__).parent / f"{module}.py"
    wrong = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            owner, name = node.func.value.id, node.func.attr
            if owner == "libc" and name != "SyscallError" or name in direct.get(owner, ()) or name == "emit":
                wrong.append(f"{module}.py:{node.lineno}: {owner}.{name}(...)")
    return wrong


@pytest.mark.parametrize("module", SETUP_MODULES)
def test_a_setup_module_calls_the_kernel_only_through_the_seam(module):
    """No libc function, no kernel-facing os call, no hand-written trace event beside a call: the Kernel is asked."""
    wrong = calls_beside_the_seam(module, DIRECT)
    assert not wrong, "\n".join(wrong)


#: The daemon's side of a container (its cgroup, its signals): the same rule, so every event of a
#: container's trace is a call the tracing kernel made.
OUTSIDE_MODULES = ("container", "cgroups/__init__", "cgroups/v1", "cgroups/v2", "cgroups/devicefilter")
OUTSIDE_DIRECT = {"os": {"mkdir", "rmdir"}, "signal": {"pidfd_send_signal"}}


@pytest.mark.parametrize("module", OUTSIDE_MODULES)
def test_the_daemons_calls_on_a_container_go_through_the_seam_too(module):
    wrong = calls_beside_the_seam(module, OUTSIDE_DIRECT)
    assert not wrong, "\n".join(wrong)


def test_a_cgroup_asks_the_kernel_for_its_writes_and_its_device_filter(tmp_path):
    from nbdock.runtime.cgroups import devicefilter
    from nbdock.runtime.cgroups.v2 import CgroupV2

    kernel = RecordingKernel()
    cgroup = CgroupV2("rec-1", root=str(tmp_path), kernel=kernel)
    cgroup._write(str(tmp_path / "x" / "memory.max"), "1048576")
    devicefilter.attach(str(tmp_path / "x"), devicefilter.compile_rules(), kernel)
    assert [(c.op, c.get("value") or c.get("name")) for c in kernel.steps()] == [
        ("write_cgroup_file", "1048576"), ("attach_device_program", devicefilter.PROGRAM_NAME)]


def test_every_kernel_answers_every_call_with_the_same_signature():
    def parameters(function):  # names, kinds and defaults: what a caller relies on (annotations aside)
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    calls = [name for name, value in vars(Kernel).items() if callable(value) and not name.startswith("_")]
    assert len(calls) > 30
    for implementation in (LinuxKernel, TracingKernel, RecordingKernel):
        for name in calls:
            method = getattr(implementation, name, None)
            assert method is not None, f"{implementation.__name__} has no {name}"
            assert parameters(method) == parameters(getattr(Kernel, name)), f"{implementation.__name__}.{name}"
