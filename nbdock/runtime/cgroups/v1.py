"""cgroup v1: one hierarchy per controller.

Each controller (memory, cpu, pids, ...) is its own file system mounted
under /sys/fs/cgroup, so a container's cgroup is really one directory per
hierarchy, all named nbdock/<id>, and a process joins by writing its pid to
the ``cgroup.procs`` of each.

The v1 file names, with what Docker's flags write into them:

==========================  =======================================================
memory.limit_in_bytes       --memory
memory.memsw.limit_in_bytes --memory-swap (memory + swap; needs swap accounting)
cpu.cfs_quota_us / _period  --cpus (CPU time allowed per period, in microseconds)
cpu.shares                  --cpu-shares (relative weight when CPUs are contended)
pids.max                    --pids-limit
memory.soft_limit_in_bytes  --memory-reservation (reclaimed down to it under pressure)
memory.swappiness           --memory-swappiness (0..100: how readily its pages go to swap)
memory.oom_control          --oom-kill-disable (1: at its limit a process waits, not killed)
cpuset.cpus / .mems         --cpuset-cpus, --cpuset-mems
blkio.bfq.weight            --blkio-weight (blkio.weight before Linux 5.0's BFQ; a share of
                            disk time, on disks whose I/O scheduler is bfq)
blkio.throttle.*_device     --device-read-bps, --device-write-iops... ("MAJOR:MINOR rate")
devices.deny / .allow       the device allow-list (deny "a"ll, then allow the defaults)
freezer.state               pause (FROZEN) / unpause (THAWED)
==========================  =======================================================
"""

from __future__ import annotations

import errno
import os
import time

from .. import devices
from ..kernel import Kernel
from ..trace import NO_TRACE, Trace
from . import CGROUP_ROOT, PARENT, THROTTLE_KINDS, Cgroup, CgroupError, Resources, Stats, _read, _read_int, _read_keyed, host_memory

#: v1 reports "no limit" as the largest page-aligned 64-bit value.
UNLIMITED = 0x7FFFFFFFFFFFF000


def hierarchies(root: str = CGROUP_ROOT) -> dict[str, str]:
    """Mounted v1 hierarchies: mount point -> comma-separated controllers (from /proc/self/mountinfo)."""
    found = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, super_options = fields[sep + 1], fields[sep + 3]
            mount_point = fields[4]
            if fstype == "cgroup" and mount_point.startswith(root + "/"):
                controllers = [o for o in super_options.split(",") if o not in ("rw", "ro")]
                found[mount_point] = ",".join(controllers)
    return found


class CgroupV1(Cgroup):
    version = 1

    def __init__(self, container_id: str, trace: Trace = NO_TRACE, *, root: str = CGROUP_ROOT,
                 kernel: Kernel | None = None):
        super().__init__(container_id, trace, kernel=kernel)
        self.root = root
        self.mounts = hierarchies(root)
        # controller name -> the container's directory in the hierarchy that has it
        self.dirs: dict[str, str] = {}
        for mount_point, controllers in self.mounts.items():
            for controller in controllers.split(","):
                self.dirs[controller] = os.path.join(mount_point, PARENT, container_id)

    def _dir(self, controller: str) -> str | None:
        return self.dirs.get(controller)

    def _file(self, controller: str, name: str) -> str | None:
        directory = self._dir(controller)
        return os.path.join(directory, name) if directory else None

    def _unique_dirs(self) -> list[str]:
        return sorted(set(self.dirs.values()))

    # -- life cycle
    def create(self, resources: Resources) -> None:
        try:
            for directory in self._unique_dirs():
                parent = os.path.dirname(directory)
                self._mkdir(parent)
                self._mkdir(directory)
                if directory == self.dirs.get("cpuset"):
                    self._inherit_cpuset(parent)
                    self._inherit_cpuset(directory)
            self._write_devices(resources)
            self._write_limits(resources)
        except Exception:
            self.destroy()
            raise

    def _inherit_cpuset(self, directory: str) -> None:
        """A new v1 cpuset starts with no CPUs and no memory nodes, and a process cannot
        join an empty cpuset: copy the parent's before anyone joins."""
        parent = os.path.dirname(directory)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not _read(os.path.join(directory, name)):
                self._write(os.path.join(directory, name), _read(os.path.join(parent, name)))

    def _write_devices(self, resources: Resources) -> None:
        if "devices" not in self.dirs:
            return
        self._write(self._file("devices", "devices.deny"), "a")
        # The same list v2 compiles into its device filter.
        for rule in devices.allow_rules(resources.device_rules):
            self._write(self._file("devices", "devices.allow"), str(rule))

    def _write_limits(self, r: Resources) -> None:
        if r.memory:
            self._require("memory", "memory.limit_in_bytes", "--memory")
            writes = [(self._file("memory", "memory.limit_in_bytes"), r.memory)]
            swap_total = r.swap_total()
            memsw = self._file("memory", "memory.memsw.limit_in_bytes")
            if swap_total is not None and memsw and os.path.exists(memsw):
                # memsw counts memory + swap together, so the kernel never lets it fall below the
                # memory limit: a growing memsw goes first, a shrinking one after the memory limit.
                if swap_total == -1 or swap_total >= _read_int(memsw):
                    writes.insert(0, (memsw, swap_total))
                else:
                    writes.append((memsw, swap_total))
            for path, value in writes:
                self._write(path, str(value))
        quota_period = r.cfs_quota_and_period()
        if quota_period:
            self._require("cpu", "cpu.cfs_quota_us", "--cpus")
            quota, period = quota_period
            self._write(self._file("cpu", "cpu.cfs_period_us"), str(period))
            self._write(self._file("cpu", "cpu.cfs_quota_us"), str(quota))
        elif r.cpu_period:  # --cpu-period alone: the period is set, the quota stays "none" (-1)
            self._require("cpu", "cpu.cfs_period_us", "--cpu-period")
            self._write(self._file("cpu", "cpu.cfs_period_us"), str(r.cpu_period))
        if r.cpu_rt_period or r.cpu_rt_runtime:
            # A cgroup's real-time budget comes out of its parent's (sched_rt_runtime_us at the
            # top): the kernel refuses (EINVAL) more than the parent has handed down -- dockerd's
            # --cpu-rt-runtime gives its parent cgroup a budget; without one, a start fails here.
            self._require("cpu", "cpu.rt_period_us", "--cpu-rt-period")
            if r.cpu_rt_period:
                self._write(self._file("cpu", "cpu.rt_period_us"), str(r.cpu_rt_period))
            if r.cpu_rt_runtime:
                self._write(self._file("cpu", "cpu.rt_runtime_us"), str(r.cpu_rt_runtime))
        if r.cpu_shares:
            self._require("cpu", "cpu.shares", "--cpu-shares")
            self._write(self._file("cpu", "cpu.shares"), str(r.cpu_shares))
        if r.pids_limit and r.pids_limit > 0:
            self._require("pids", "pids.max", "--pids-limit")
            self._write(self._file("pids", "pids.max"), str(r.pids_limit))
        if r.memory_reservation:
            self._require("memory", "memory.soft_limit_in_bytes", "--memory-reservation")
            self._write(self._file("memory", "memory.soft_limit_in_bytes"), str(r.memory_reservation))
        for name, value in (("cpuset.cpus", r.cpuset_cpus), ("cpuset.mems", r.cpuset_mems)):
            if value:
                self._require("cpuset", name, "--" + name.replace(".", "-"))
                self._write(self._file("cpuset", name), value)
        if r.memory_swappiness is not None:
            self._require("memory", "memory.swappiness", "--memory-swappiness")
            self._write(self._file("memory", "memory.swappiness"), str(r.memory_swappiness))
        if r.oom_kill_disable:
            # With the OOM killer off, a process that needs memory beyond the limit sleeps
            # until some is freed (under_oom 1 in this file) instead of being killed.
            self._require("memory", "memory.oom_control", "--oom-kill-disable")
            self._write(self._file("memory", "memory.oom_control"), "1")
        if r.blkio_weight:
            # CFQ's blkio.weight went with CFQ (Linux 5.0); BFQ's weight has the same scale.
            weight = self._file("blkio", "blkio.weight")
            name = "blkio.weight" if weight and os.path.exists(weight) else "blkio.bfq.weight"
            self._require("blkio", name, "--blkio-weight")
            self._write(self._file("blkio", name), str(r.blkio_weight))
        for throttle in r.throttles:
            name, _, flag = THROTTLE_KINDS[throttle.kind]
            self._require("blkio", name, flag)
            # One rule per line and device; a disk that is not a block device's number is ENODEV.
            self._write(self._file("blkio", name), f"{throttle.device()} {throttle.rate}")

    def _require(self, controller: str, name: str, flag: str) -> None:
        path = self._file(controller, name)
        if not path or not os.path.exists(path):
            raise CgroupError(errno.ENOENT, f"{flag} needs the {controller} cgroup controller ({name}), which this host lacks")

    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self._unique_dirs()]

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self._unique_dirs())

    def destroy(self) -> None:
        """rmdir every directory; a cgroup with live members cannot be removed, so kill them first."""
        for attempt in range(60):
            remaining = [d for d in self._unique_dirs() if os.path.isdir(d)]
            if not remaining:
                return
            if attempt == 0 and self.pids():
                self.thaw()
                self.kill_all()
            for directory in remaining:
                try:
                    self.kernel.remove_cgroup(directory)
                except OSError as e:
                    if e.errno not in (errno.EBUSY, errno.ENOENT):
                        raise
            # EBUSY: a process that just exited is released from its cgroups a moment later.
            time.sleep(0.002 * (attempt + 1))
        raise CgroupError(errno.EBUSY, f"cgroup of {self.container_id} still busy after killing its processes")

    # -- control
    def freeze(self) -> None:
        state = self._file("freezer", "freezer.state")
        self._write(state, "FROZEN")
        # FREEZING means some task has not stopped yet; the freeze is done at FROZEN.
        for _ in range(1000):
            if _read(state) == "FROZEN":
                return
            time.sleep(0.001)
        raise CgroupError(errno.EBUSY, f"{state} did not reach FROZEN")

    def thaw(self) -> None:
        state = self._file("freezer", "freezer.state")
        if state and os.path.exists(state):
            self._write(state, "THAWED")

    def is_frozen(self) -> bool:
        return _read(self._file("freezer", "freezer.state") or "") == "FROZEN"

    def pids(self) -> list[int]:
        for controller in ("pids", "memory", "cpu", "freezer"):
            path = self._file(controller, "cgroup.procs")
            if path and os.path.exists(path):
                return [int(p) for p in _read(path).split()]
        return []

    # -- reading back
    def stats(self) -> Stats:
        memory_stat = _read_keyed(self._file("memory", "memory.stat") or "")
        limit = _read_int(self._file("memory", "memory.limit_in_bytes") or "", UNLIMITED)
        cpuacct = _read_keyed(self._file("cpuacct", "cpuacct.stat") or "")
        ticks = os.sysconf("SC_CLK_TCK")
        oom = _read_keyed(self._file("memory", "memory.oom_control") or "")
        pids_max = _read(self._file("pids", "pids.max") or "", "max")
        quota = _read_int(self._file("cpu", "cpu.cfs_quota_us") or "", -1)
        return Stats(
            cpu_usage_ns=_read_int(self._file("cpuacct", "cpuacct.usage") or ""),
            cpu_user_ns=cpuacct.get("user", 0) * 1_000_000_000 // ticks,
            cpu_system_ns=cpuacct.get("system", 0) * 1_000_000_000 // ticks,
            memory_usage=_read_int(self._file("memory", "memory.usage_in_bytes") or ""),
            memory_limit=host_memory() if limit >= UNLIMITED else limit,
            memory_inactive_file=memory_stat.get("total_inactive_file", memory_stat.get("inactive_file", 0)),
            memory_max_usage=_read_int(self._file("memory", "memory.max_usage_in_bytes") or ""),
            pids_current=_read_int(self._file("pids", "pids.current") or ""),
            pids_limit=0 if pids_max == "max" else int(pids_max),
            oom_kills=oom.get("oom_kill", 0),
            cpu_quota_us=quota,
            cpu_period_us=_read_int(self._file("cpu", "cpu.cfs_period_us") or "", 100_000),
            memory_stat=memory_stat,
        )

    def limit_files(self) -> dict[str, str]:
        names = [
            ("memory", "memory.limit_in_bytes"),
            ("memory", "memory.memsw.limit_in_bytes"),
            ("memory", "memory.usage_in_bytes"),
            ("cpu", "cpu.cfs_quota_us"),
            ("cpu", "cpu.cfs_period_us"),
            ("cpu", "cpu.shares"),
            ("cpuacct", "cpuacct.usage"),
            ("memory", "memory.soft_limit_in_bytes"),
            ("memory", "memory.swappiness"),
            ("memory", "memory.oom_control"),
            ("pids", "pids.max"),
            ("pids", "pids.current"),
            ("cpuset", "cpuset.cpus"),
            ("blkio", "blkio.bfq.weight"),
            *(("blkio", name) for name, _, _ in THROTTLE_KINDS.values()),
            ("freezer", "freezer.state"),
        ]
        result = {}
        for controller, name in names:
            path = self._file(controller, name)
            if path and os.path.exists(path):
                result[path] = _read(path)
        return result

    def container_view(self) -> list[tuple[str, str]]:
        return [
            (os.path.join(mount_point, PARENT, self.container_id), os.path.basename(mount_point))
            for mount_point in sorted(self.mounts)
        ]

    def host_path(self) -> str:
        return self.dirs.get("memory") or next(iter(self._unique_dirs()), "")
