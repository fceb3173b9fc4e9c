"""cgroup v2: one unified hierarchy.

All controllers share one tree, so a container's cgroup is a single
directory, /sys/fs/cgroup/nbdock/<id>.  Two rules of v2 shape the code:

* A controller is only available in a cgroup if its *parent* lists it in
  ``cgroup.subtree_control``; so we enable cpu, memory, pids... from the root
  down to nbdock/ before creating the container's directory.
* "No internal processes": a cgroup that hands controllers to its children
  may not hold processes itself, which is why containers live in leaves and
  nbdock/ stays empty.

The v2 file names, with what Docker's flags write into them:

=================  ============================================================
memory.max         --memory
memory.swap.max    --memory-swap minus --memory (v2 counts swap on its own)
cpu.max            --cpus, as "<quota> <period>" in microseconds ("max" = none)
cpu.weight         --cpu-shares, mapped from 2..262144 onto 1..10000
pids.max           --pids-limit
memory.low         --memory-reservation (memory protected from reclaim)
cpuset.cpus/.mems  --cpuset-cpus, --cpuset-mems
io.bfq.weight      --blkio-weight (v1's scale), or io.weight mapped onto 1..10000
io.max             --device-read-bps... as "MAJOR:MINOR rbps=N wbps=N riops=N wiops=N"
cgroup.freeze      pause (1) / unpause (0); done when cgroup.events says frozen 1
cgroup.kill        writing 1 SIGKILLs every process in the group (Linux 5.14+)
=================  ============================================================

v2 has no swappiness and no switch for the OOM killer: ``--memory-swappiness``
and ``--oom-kill-disable`` are refused at create there (Docker drops them with
a warning), and refused here too should a Resources carry them.

Devices are not a v2 controller at all: there is no devices.allow to write.
The kernel instead asks the eBPF programs of type BPF_PROG_TYPE_CGROUP_DEVICE
attached to a cgroup whether a member may mknod or open a device node.  So
:meth:`CgroupV2.create` compiles the allow-list of devices.py into such a
program and attaches it to the new directory before any process joins
(devicefilter.py); a kernel that refuses fails the create, since a
container that keeps CAP_MKNOD could otherwise open the host's disks.
"""

from __future__ import annotations

import errno
import os
import time

from ..kernel import Kernel
from ..trace import NO_TRACE, Trace
from .. import devices
from . import devicefilter
from . import CGROUP_ROOT, PARENT, THROTTLE_KINDS, Cgroup, CgroupError, Resources, Stats, _read, _read_int, _read_keyed, host_memory

WANTED_CONTROLLERS = ("cpu", "cpuset", "io", "memory", "pids")


def shares_to_weight(shares: int) -> int:
    """Map v1 cpu.shares (2..262144, default 1024) onto v2 cpu.weight (1..10000, default 100).

    The same linear formula runc and Docker use, so a container gets the same
    relative share of CPU on either version.
    """
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """Map a v1 blkio weight (10..1000, default 500) onto v2's io.weight (1..10000, default 100).

    runc's formula: linear, 10 -> 1 and 1000 -> 10000.
    """
    return 1 + (weight - 10) * 9999 // 990


class CgroupV2(Cgroup):
    version = 2

    def __init__(self, container_id: str, trace: Trace = NO_TRACE, *, root: str = CGROUP_ROOT,
                 kernel: Kernel | None = None):
        super().__init__(container_id, trace, kernel=kernel)
        self.root = root
        self.parent = os.path.join(root, PARENT)
        self.path = os.path.join(self.parent, container_id)

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    # -- life cycle
    def create(self, resources: Resources) -> None:
        try:
            self._mkdir(self.parent)
            self._enable_controllers(self.root)
            self._enable_controllers(self.parent)
            self._mkdir(self.path)
            # Guard the devices while the cgroup is still empty: a process that joined
            # first could open a device node before the filter was there.
            devicefilter.attach(self.path, devicefilter.compile_rules(devices.allow_rules(resources.device_rules)),
                                self.kernel)
            self._write_limits(resources)
        except Exception:
            self.destroy()
            raise

    def _enable_controllers(self, directory: str) -> None:
        available = _read(os.path.join(directory, "cgroup.controllers")).split()
        enabled = _read(os.path.join(directory, "cgroup.subtree_control")).split()
        missing = [c for c in WANTED_CONTROLLERS if c in available and c not in enabled]
        if missing:
            self._write(os.path.join(directory, "cgroup.subtree_control"), " ".join("+" + c for c in missing))

    def _write_limits(self, r: Resources) -> None:
        if r.memory:
            self._write_required("memory.max", str(r.memory), "--memory")
            swap_total = r.swap_total()
            if swap_total is not None and os.path.exists(self._file("memory.swap.max")):
                swap = "max" if swap_total == -1 else str(max(swap_total - r.memory, 0))
                self._write(self._file("memory.swap.max"), swap)
        quota_period = r.cfs_quota_and_period()
        if quota_period:
            quota, period = quota_period
            self._write_required("cpu.max", f"{quota} {period}", "--cpus")
        elif r.cpu_period:  # --cpu-period alone: no quota, as v1's -1
            self._write_required("cpu.max", f"max {r.cpu_period}", "--cpu-period")
        if r.cpu_shares:
            self._write_required("cpu.weight", str(shares_to_weight(r.cpu_shares)), "--cpu-shares")
        if r.pids_limit and r.pids_limit > 0:
            self._write_required("pids.max", str(r.pids_limit), "--pids-limit")
        if r.memory_reservation:
            self._write_required("memory.low", str(r.memory_reservation), "--memory-reservation")
        for name, value in (("cpuset.cpus", r.cpuset_cpus), ("cpuset.mems", r.cpuset_mems)):
            if value:
                self._write_required(name, value, "--" + name.replace(".", "-"))
        for wanted, flag in ((r.memory_swappiness is not None, "--memory-swappiness"),
                             (r.oom_kill_disable, "--oom-kill-disable")):
            if wanted:
                raise CgroupError(errno.EINVAL, f"{flag} needs cgroup v1: cgroup v2 has no such setting")
        if r.blkio_weight:
            if os.path.exists(self._file("io.bfq.weight")):
                self._write(self._file("io.bfq.weight"), str(r.blkio_weight))
            else:
                self._write_required("io.weight", f"default {blkio_weight_to_io_weight(r.blkio_weight)}",
                                     "--blkio-weight")
        # io.max holds every limit of a device on one line: the throttles grouped by device.
        by_device: dict[str, list] = {}
        for throttle in r.throttles:
            by_device.setdefault(throttle.device(), []).append(throttle)
        for device, throttles in by_device.items():
            limits = " ".join(f"{THROTTLE_KINDS[t.kind][1]}={t.rate}" for t in throttles)
            self._write_required("io.max", f"{device} {limits}", THROTTLE_KINDS[throttles[0].kind][2])

    def _write_required(self, name: str, value: str, flag: str) -> None:
        path = self._file(name)
        if not os.path.exists(path):
            controller = name.split(".")[0]
            raise CgroupError(errno.ENOENT, f"{flag} needs the {controller} controller, which is not enabled in {self.root}")
        self._write(path, value)

    def procs_files(self) -> list[str]:
        return [self._file("cgroup.procs")]

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def destroy(self) -> None:
        for attempt in range(60):
            if not os.path.isdir(self.path):
                return
            if attempt == 0 and self.pids():
                self.thaw()
                self.kill_all()
            try:
                self.kernel.remove_cgroup(self.path)
                return
            except OSError as e:
                if e.errno not in (errno.EBUSY, errno.ENOENT):
                    raise
            time.sleep(0.002 * (attempt + 1))  # a process that just exited leaves its cgroup a moment later
        raise CgroupError(errno.EBUSY, f"cgroup {self.path} still busy after killing its processes")

    # -- control
    def freeze(self) -> None:
        self._write(self._file("cgroup.freeze"), "1")
        for _ in range(1000):
            if _read_keyed(self._file("cgroup.events")).get("frozen") == 1:
                return
            time.sleep(0.001)
        raise CgroupError(errno.EBUSY, f"{self.path} did not report frozen")

    def thaw(self) -> None:
        if os.path.exists(self._file("cgroup.freeze")):
            self._write(self._file("cgroup.freeze"), "0")

    def is_frozen(self) -> bool:
        return _read(self._file("cgroup.freeze")) == "1"

    def kill_all(self, sig: int = 9) -> None:
        if sig == 9 and os.path.exists(self._file("cgroup.kill")):
            self._write(self._file("cgroup.kill"), "1")
        else:
            super().kill_all(sig)

    def pids(self) -> list[int]:
        return [int(p) for p in _read(self._file("cgroup.procs")).split()]

    # -- reading back
    def stats(self) -> Stats:
        cpu = _read_keyed(self._file("cpu.stat"))
        memory_stat = _read_keyed(self._file("memory.stat"))
        memory_max = _read(self._file("memory.max"), "max")
        pids_max = _read(self._file("pids.max"), "max")
        quota, _, period = _read(self._file("cpu.max"), "max 100000").partition(" ")
        return Stats(
            cpu_usage_ns=cpu.get("usage_usec", 0) * 1000,
            cpu_user_ns=cpu.get("user_usec", 0) * 1000,
            cpu_system_ns=cpu.get("system_usec", 0) * 1000,
            memory_usage=_read_int(self._file("memory.current")),
            memory_limit=host_memory() if memory_max in ("max", "") else int(memory_max),
            memory_inactive_file=memory_stat.get("inactive_file", 0),
            memory_max_usage=_read_int(self._file("memory.peak")),
            pids_current=_read_int(self._file("pids.current")),
            pids_limit=0 if pids_max in ("max", "") else int(pids_max),
            oom_kills=_read_keyed(self._file("memory.events")).get("oom_kill", 0),
            cpu_quota_us=-1 if quota == "max" else int(quota),
            cpu_period_us=int(period or 100000),
            memory_stat=memory_stat,
        )

    def limit_files(self) -> dict[str, str]:
        names = ("memory.max", "memory.swap.max", "memory.low", "memory.current", "cpu.max", "cpu.weight",
                 "cpuset.cpus", "io.weight", "io.bfq.weight", "io.max", "pids.max", "pids.current", "cgroup.freeze")
        return {self._file(n): _read(self._file(n)) for n in names if os.path.exists(self._file(n))}

    def container_view(self) -> list[tuple[str, str]]:
        return []  # the container mounts cgroup2 itself, inside a cgroup namespace rooted here

    def host_path(self) -> str:
        return self.path
