"""The runtime's pure logic: no root, no kernel state."""

import os
import stat

import pytest

from nbdock.kernel import libc
from nbdock.runtime import capabilities, init, rootfs, trace, users
from nbdock.runtime.cgroups import Resources
from nbdock.runtime.errors import ContainerStartError
from nbdock.runtime.cgroups.v2 import CgroupV2, shares_to_weight
from nbdock.runtime.spec import ContainerSpec, Mount, Process, Rootfs


def test_docker_default_capabilities_are_the_mask_docker_reports():
    assert capabilities.to_mask(capabilities.DOCKER_DEFAULT) == 0xA80425FB


def test_cap_add_and_drop_change_the_default_set():
    with_admin = capabilities.container_set(cap_add=["NET_ADMIN"])
    assert with_admin & (1 << 12)
    without_chown = capabilities.container_set(cap_drop=["CAP_CHOWN"])
    assert not without_chown & 1
    assert capabilities.container_set(cap_drop=["ALL"]) == 0


def test_unknown_capability_is_named_in_the_error():
    with pytest.raises(ValueError, match="FLY"):
        capabilities.to_mask(["FLY"])


def _write(path, text):
    path.write_text(text)
    return str(path)


@pytest.fixture
def passwd_and_group(tmp_path):
    passwd = _write(tmp_path / "passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
    group = _write(tmp_path / "group", "root:x:0:\nalice:x:1000:\nstaff:x:50:alice,bob\n")
    return passwd, group


def test_user_by_name_gets_home_and_groups(passwd_and_group):
    user = users.resolve("alice", *passwd_and_group)
    assert (user.uid, user.gid, user.home) == (1000, 1000, "/home/alice")
    assert user.groups == [1000, 50]


def test_numeric_uid_unknown_to_the_image_is_accepted(passwd_and_group):
    user = users.resolve("4242:77", *passwd_and_group)
    assert (user.uid, user.gid, user.home) == (4242, 77, "/")


def test_unknown_user_name_is_docker_s_error(passwd_and_group):
    with pytest.raises(users.UserLookupError, match="unable to find user nobody: no matching entries in passwd file"):
        users.resolve("nobody", *passwd_and_group)


def test_group_by_name(passwd_and_group):
    assert users.resolve("alice:staff", *passwd_and_group).gid == 50


def test_default_user_is_root_with_its_home(passwd_and_group):
    user = users.resolve("", *passwd_and_group)
    assert (user.uid, user.gid, user.home) == (0, 0, "/root")


def test_cpus_become_a_cfs_quota_per_period():
    assert Resources(nano_cpus=1_500_000_000).cfs_quota_and_period() == (150_000, 100_000)
    assert Resources(cpu_quota=50_000, cpu_period=200_000).cfs_quota_and_period() == (50_000, 200_000)
    assert Resources().cfs_quota_and_period() is None


def test_memory_swap_follows_docker_rules():
    mib = 1024 * 1024
    assert Resources(memory=32 * mib).swap_total() == 64 * mib  # unset: as much swap as memory
    assert Resources(memory=32 * mib, memory_swap=32 * mib).swap_total() == 32 * mib
    assert Resources(memory=32 * mib, memory_swap=-1).swap_total() == -1
    assert Resources().swap_total() is None


def test_cpu_shares_map_onto_v2_weight_like_runc():
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000


def test_v2_backend_writes_limits_where_the_controllers_are(tmp_path):
    """A v2 hierarchy made of plain files: the backend enables controllers and writes Docker's values."""
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    nbdock_dir = root / "nbdock"
    nbdock_dir.mkdir()
    (nbdock_dir / "cgroup.controllers").write_text("cpu memory pids\n")
    (nbdock_dir / "cgroup.subtree_control").write_text("")
    container = nbdock_dir / "abc"
    container.mkdir()
    for name in ("memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "pids.max"):
        (container / name).write_text("max\n")
    cgroup = CgroupV2("abc", root=str(root))
    cgroup._write_limits(Resources(memory=64 << 20, memory_swap=96 << 20, nano_cpus=500_000_000, cpu_shares=512, pids_limit=20))
    assert (container / "memory.max").read_text() == str(64 << 20)
    assert (container / "memory.swap.max").read_text() == str(32 << 20)
    assert (container / "cpu.max").read_text() == "50000 100000"
    assert (container / "cpu.weight").read_text() == str(shares_to_weight(512))
    assert (container / "pids.max").read_text() == "20"
    cgroup._enable_controllers(str(root))
    assert (root / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"


def test_v2_backend_refuses_a_limit_its_controller_cannot_enforce(tmp_path):
    (tmp_path / "nbdock" / "abc").mkdir(parents=True)
    cgroup = CgroupV2("abc", root=str(tmp_path))
    with pytest.raises(OSError, match="--memory needs the memory controller"):
        cgroup._write_limits(Resources(memory=64 << 20))


def test_overlay_options_list_layers_top_first_and_read_only_without_upper():
    rw = Rootfs(["/l/top", "/l/base"], "/c/upper", "/c/work", "/c/root")
    assert rootfs.overlay_options(rw) == "lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work"
    ro = Rootfs(["/c/upper", "/l/top"], "", "", "/c/root")
    assert rootfs.overlay_options(ro) == "lowerdir=/c/upper:/l/top"


def test_tmpfs_options_split_into_flags_and_data():
    flags, data = rootfs.tmpfs_flags_and_data("size=64m,exec,mode=1777", readonly=False)
    assert data == "size=64m,mode=1777"
    assert flags & libc.MS_NOSUID and flags & libc.MS_NODEV and not flags & libc.MS_NOEXEC
    flags, _ = rootfs.tmpfs_flags_and_data("", readonly=True)
    assert flags & libc.MS_RDONLY and flags & libc.MS_NOEXEC


def test_find_executable_errors_match_runc(tmp_path):
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    with pytest.raises(ContainerStartError, match='exec: "nope": executable file not found in \\$PATH') as missing:
        init.find_executable("nope", str(tmp_path))
    assert missing.value.exit_code == 127
    with pytest.raises(ContainerStartError, match="stat /no/such/binary: no such file or directory") as absent:
        init.find_executable("/no/such/binary", str(tmp_path))
    assert absent.value.exit_code == 127
    with pytest.raises(ContainerStartError, match="permission denied") as directory:  # runc's words for a directory
        init.find_executable(str(tmp_path), "")
    assert directory.value.exit_code == 126
    script.chmod(0o755)
    assert init.find_executable("tool", f"/nonexistent:{tmp_path}") == str(script)


def test_syscall_error_names_the_call_and_arguments():
    with pytest.raises(libc.SyscallError) as error:
        libc.pivot_root("/no/such/new_root", "/no/such/new_root/old")
    text = str(error.value)
    assert text.startswith("pivot_root('/no/such/new_root', '/no/such/new_root/old') failed: [Errno")
    assert error.value.errno in (2, 1)  # ENOENT as root, EPERM otherwise


def test_spec_survives_the_trip_to_the_spawner_as_json():
    spec = ContainerSpec(
        id="c" * 64, rootfs=Rootfs(["/a"], "/u", "/w", "/m"), process=Process(args=["sh"], tty=True),
        hostname="box", namespaces={"mnt": "new", "net": "/proc/1/ns/net"},
        mounts=[Mount("/data", "bind", "/srv", readonly=True, copy_up=True)], cgroup_view=[("/sys/fs/cgroup/memory/x", "memory")],
    )
    assert ContainerSpec.from_dict(spec.to_dict()) == spec


def test_trace_records_json_lines_and_reads_them_back(tmp_path):
    path = str(tmp_path / "trace.jsonl")
    with trace.Trace(path) as t:
        t.emit("mount", "mount", source="proc", target="/proc", fstype="proc")
    events = trace.read_trace(path)
    assert [e["op"] for e in events] == ["mount"]
    assert trace.describe(events[0]) == 'mount(source="proc", target="/proc", fstype="proc")'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
