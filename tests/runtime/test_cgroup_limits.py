"""The cgroup limits of the block I/O and memory flags, written to the real kernel and read back.

Each test makes a container's cgroup directly (no process joins it) and
reads the files the kernel shows.  On cgroup v1 the blkio and memory
controllers are their own hierarchies; on a v2 hierarchy the same flags
go to io.max and io.weight, or are refused where v2 has no such setting.
"""

from __future__ import annotations

import os
import secrets

import pytest

from nbdock.runtime import cgroups
from nbdock.runtime.cgroups import CgroupError, Resources, Throttle, supports_blkio_weight
from nbdock.runtime.cgroups.v1 import CgroupV1
from nbdock.runtime.cgroups.v2 import CgroupV2, blkio_weight_to_io_weight

V1 = cgroups.detect() == 1


def _root_disk() -> tuple[int, int]:
    """The device numbers of the disk holding / (a real block device the kernel can throttle)."""
    info = os.stat("/")
    return os.major(info.st_dev), os.minor(info.st_dev)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


@pytest.fixture
def v1_cgroup():
    if not V1:
        pytest.skip("host: this host's /sys/fs/cgroup is cgroup v2")
    cgroup = CgroupV1("test-limits-" + secrets.token_hex(4))
    yield cgroup
    cgroup.destroy()
    assert not cgroup.exists()


@pytest.mark.skipif(not V1, reason="host: cgroup v1 files")
def test_v1_block_io_weight_and_throttles_are_the_kernels(v1_cgroup):
    major, minor = _root_disk()
    weighed = supports_blkio_weight()  # a weight needs BFQ (or CFQ) on the host's disks; the engine discards it elsewhere
    v1_cgroup.create(Resources(blkio_weight=300 if weighed else 0, throttles=(
        Throttle("read_bps", major, minor, 1048576), Throttle("write_iops", major, minor, 100))))
    blkio = v1_cgroup.dirs["blkio"]
    if weighed:
        weight_file = "blkio.weight" if os.path.exists(os.path.join(blkio, "blkio.weight")) else "blkio.bfq.weight"
        assert _read(os.path.join(blkio, weight_file)) == "300"
    assert _read(os.path.join(blkio, "blkio.throttle.read_bps_device")) == f"{major}:{minor} 1048576"
    assert _read(os.path.join(blkio, "blkio.throttle.write_iops_device")) == f"{major}:{minor} 100"
    assert _read(os.path.join(blkio, "blkio.throttle.write_bps_device")) == ""  # not asked for: no rule


@pytest.mark.skipif(not V1, reason="host: cgroup v1 files")
def test_v1_throttle_of_a_device_that_is_no_disk_is_the_kernels_refusal(v1_cgroup):
    # 1:3 is /dev/null, a character device: the kernel answers ENODEV, and the half-made cgroup goes.
    with pytest.raises(CgroupError, match="blkio.throttle.read_bps_device: No such device"):
        v1_cgroup.create(Resources(throttles=(Throttle("read_bps", 1, 3, 1024),)))
    assert not v1_cgroup.exists()


@pytest.mark.skipif(not V1, reason="host: cgroup v1 files")
def test_v1_swappiness_oom_killer_and_cpu_period_alone(v1_cgroup):
    v1_cgroup.create(Resources(memory=64 << 20, memory_swappiness=10, oom_kill_disable=True, cpu_period=50_000))
    memory = v1_cgroup.dirs["memory"]
    assert _read(os.path.join(memory, "memory.swappiness")) == "10"
    assert "oom_kill_disable 1" in _read(os.path.join(memory, "memory.oom_control")).splitlines()
    cpu = v1_cgroup.dirs["cpu"]
    assert _read(os.path.join(cpu, "cpu.cfs_period_us")) == "50000"
    assert _read(os.path.join(cpu, "cpu.cfs_quota_us")) == "-1"  # a period alone limits nothing


@pytest.mark.skipif(not V1, reason="host: cgroup v1 files")
@pytest.mark.skipif(not supports_blkio_weight(), reason="host: no I/O scheduler here holds a weight (no BFQ)")
def test_v1_update_changes_the_block_io_weight(v1_cgroup):
    v1_cgroup.create(Resources(blkio_weight=300))
    v1_cgroup.update(Resources(blkio_weight=700))
    blkio = v1_cgroup.dirs["blkio"]
    weight_file = "blkio.weight" if os.path.exists(os.path.join(blkio, "blkio.weight")) else "blkio.bfq.weight"
    assert _read(os.path.join(blkio, weight_file)).split()[-1] == "700"


@pytest.fixture
def v2_cgroup(v2_root):
    cgroup = CgroupV2("test-limits-" + secrets.token_hex(4), root=v2_root)
    yield cgroup
    cgroup.destroy()
    assert not cgroup.exists()


def test_v2_throttles_go_to_io_max_or_name_the_missing_controller(v2_cgroup):
    major, minor = _root_disk()
    resources = Resources(throttles=(Throttle("read_bps", major, minor, 1048576),
                                     Throttle("write_iops", major, minor, 100)))
    if "io" not in _read(os.path.join(v2_cgroup.root, "cgroup.controllers")).split():
        # A hybrid host: the block I/O controller is bound to v1, so v2 cannot have it.
        with pytest.raises(CgroupError, match="--device-read-bps needs the io controller"):
            v2_cgroup.create(resources)
        assert not v2_cgroup.exists()
        return
    v2_cgroup.create(resources)
    limits = _read(v2_cgroup._file("io.max")).split()
    assert limits[:2] == [f"{major}:{minor}", "rbps=1048576"] and "wiops=100" in limits


def test_v2_refuses_swappiness_and_the_oom_switch_it_does_not_have(v2_cgroup):
    for resources, flag in ((Resources(memory_swappiness=10), "--memory-swappiness"),
                            (Resources(oom_kill_disable=True), "--oom-kill-disable")):
        with pytest.raises(CgroupError, match=f"{flag} needs cgroup v1"):
            v2_cgroup.create(resources)
        assert not v2_cgroup.exists()


def test_blkio_weight_maps_onto_io_weight_as_runc_does():
    assert (blkio_weight_to_io_weight(10), blkio_weight_to_io_weight(1000)) == (1, 10000)
    assert blkio_weight_to_io_weight(500) == 4950


@pytest.mark.skipif(not V1, reason="host: cgroup v1 files")
def test_v1_real_time_period_is_written_and_a_runtime_beyond_the_parents_budget_is_the_kernels_refusal(v1_cgroup):
    """--cpu-rt-period goes to cpu.rt_period_us; --cpu-rt-runtime needs a real-time budget the parent
    cgroup does not have (dockerd's --cpu-rt-runtime gives it one), and the kernel says EINVAL."""
    v1_cgroup.create(Resources(cpu_rt_period=500_000))
    assert _read(v1_cgroup._file("cpu", "cpu.rt_period_us")) == "500000"
    other = CgroupV1("test-limits-" + secrets.token_hex(4))
    try:
        with pytest.raises(CgroupError, match="cpu.rt_runtime_us.*(invalid argument|Invalid argument)"):
            other.create(Resources(cpu_rt_runtime=1000))
        assert not other.exists()
    finally:
        other.destroy()
