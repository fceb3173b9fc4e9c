"""Control groups: the kernel's accounting and limits for a group of processes.

Namespaces decide what a container can *see*; cgroups decide how much it can
*use*: memory, CPU time, number of processes, devices.  A cgroup is a
directory in a special file system; its files are its settings and
statistics, and moving a process into it is writing its pid to a file.

Linux has two versions, and a runtime must handle both:

* **cgroup v1** (still on these course machines): one hierarchy per
  controller, each mounted at /sys/fs/cgroup/<controller>.  A container gets a
  directory in every hierarchy: /sys/fs/cgroup/memory/nbdock/<id>,
  /sys/fs/cgroup/cpu/nbdock/<id>, ...
* **cgroup v2** (most current distributions): one unified hierarchy at
  /sys/fs/cgroup, a single directory per container, different file names
  (memory.max instead of memory.limit_in_bytes, cpu.max instead of
  cpu.cfs_quota_us + cpu.cfs_period_us).

Both sit behind the one :class:`Cgroup` interface below; :func:`detect`
chooses at run time, as Docker does: if /sys/fs/cgroup itself is a cgroup2
file system the host is "pure v2", otherwise the v1 controllers are used
(a "hybrid" host's extra v2 tree at /sys/fs/cgroup/unified holds no
controllers that matter to us).
"""

from __future__ import annotations

import abc
import functools
import os
from dataclasses import asdict, dataclass

from ..kernel import LINUX, Kernel, TracingKernel
from ..trace import NO_TRACE, Trace

CGROUP_ROOT = "/sys/fs/cgroup"
#: Every container's cgroup lives under this parent, in every hierarchy.
PARENT = "nbdock"


@dataclass(frozen=True)
class Throttle:
    """One I/O throttle of a block device: at most ``rate`` bytes or operations per second.

    The kernel knows a disk by its device number, not its path: ``--device-read-bps
    /dev/vda:1mb`` becomes the rule "254:0 1048576" (the path is stat'ed on the host).
    """

    kind: str  # one of THROTTLE_KINDS
    major: int
    minor: int
    rate: int

    def device(self) -> str:
        return f"{self.major}:{self.minor}"


#: The throttle kinds: the v1 file each is written to, the v2 io.max key, and the docker flag.
THROTTLE_KINDS = {
    "read_bps": ("blkio.throttle.read_bps_device", "rbps", "--device-read-bps"),
    "write_bps": ("blkio.throttle.write_bps_device", "wbps", "--device-write-bps"),
    "read_iops": ("blkio.throttle.read_iops_device", "riops", "--device-read-iops"),
    "write_iops": ("blkio.throttle.write_iops_device", "wiops", "--device-write-iops"),
}


@dataclass
class Resources:
    """The limits of ``docker run``, in Docker's units (bytes, nano-CPUs, shares)."""

    memory: int = 0  # --memory, bytes; 0 = unlimited
    memory_swap: int = 0  # --memory-swap: memory + swap; 0 = unset (twice --memory), -1 = unlimited swap
    nano_cpus: int = 0  # --cpus 1.5 -> 1_500_000_000
    cpu_quota: int = 0  # --cpu-quota, microseconds per period
    cpu_period: int = 0  # --cpu-period, microseconds; 0 = 100 ms
    cpu_shares: int = 0  # --cpu-shares, relative weight; 0 = default (1024)
    pids_limit: int = 0  # --pids-limit; 0 or -1 = unlimited
    memory_reservation: int = 0  # --memory-reservation: the soft limit memory is pushed back to under pressure
    cpuset_cpus: str = ""  # --cpuset-cpus "0-1,3": the CPUs it may run on ("" = all of its parent's)
    cpuset_mems: str = ""  # --cpuset-mems: the memory nodes it may allocate from
    # --device-cgroup-rule: allow rules added to Docker's list ("c 7:128 rwm", devices.allow syntax)
    device_rules: tuple[str, ...] = ()
    blkio_weight: int = 0  # --blkio-weight 10..1000: the share of disk time under contention; 0 = default
    # --device-read-bps, --device-write-bps, --device-read-iops, --device-write-iops
    throttles: tuple["Throttle", ...] = ()
    memory_swappiness: int | None = None  # --memory-swappiness 0..100 (v1 only); None = the parent's
    oom_kill_disable: bool = False  # --oom-kill-disable (v1 only): wait for memory rather than be killed
    cpu_rt_period: int = 0  # --cpu-rt-period (v1 only), microseconds: the real-time scheduler's period
    cpu_rt_runtime: int = 0  # --cpu-rt-runtime (v1 only), microseconds of each period real-time tasks may use

    def cfs_quota_and_period(self) -> tuple[int, int] | None:
        """The CFS bandwidth pair (quota, period) in microseconds, or None for no CPU limit.

        ``--cpus 1.5`` means "1.5 CPUs' worth of time in every period": with
        the default 100 ms period, 150 ms of CPU time per 100 ms of wall time.
        """
        period = self.cpu_period or 100_000
        if self.nano_cpus:
            return self.nano_cpus * period // 1_000_000_000, period
        if self.cpu_quota > 0:
            return self.cpu_quota, period
        return None

    def swap_total(self) -> int | None:
        """memory + swap in bytes (None: no limit to write), following Docker's rules."""
        if not self.memory:
            return None
        if self.memory_swap == -1:
            return -1
        if self.memory_swap == 0:
            return 2 * self.memory  # Docker's default: as much swap as memory
        return self.memory_swap


@dataclass
class Stats:
    """One sample of a cgroup's counters."""

    cpu_usage_ns: int = 0  # total CPU time used by every process of the group
    cpu_user_ns: int = 0
    cpu_system_ns: int = 0
    memory_usage: int = 0  # bytes charged, page cache included
    memory_limit: int = 0  # bytes; the host's RAM when unlimited (what Docker reports)
    memory_inactive_file: int = 0  # reclaimable page cache; `docker stats` subtracts it
    memory_max_usage: int = 0
    pids_current: int = 0
    pids_limit: int = 0  # 0 = unlimited
    oom_kills: int = 0
    cpu_quota_us: int = 0  # -1 = unlimited
    cpu_period_us: int = 0
    memory_stat: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class CgroupError(OSError):
    pass


class Cgroup(abc.ABC):
    """One container's cgroup, whichever version the host runs."""

    version: int

    def __init__(self, container_id: str, trace: Trace = NO_TRACE, *, kernel: Kernel | None = None):
        self.container_id = container_id
        self.trace = trace
        # Every mkdir, write and rmdir goes through the kernel seam, so the trace is what was asked.
        self.kernel = kernel or TracingKernel(LINUX, trace)

    # -- life cycle
    @abc.abstractmethod
    def create(self, resources: Resources) -> None:
        """Make the directories and write the limits."""

    def update(self, resources: Resources) -> None:
        """Change the limits of a cgroup in use (``docker update``): the ones ``resources`` sets."""
        self._write_limits(resources)

    @abc.abstractmethod
    def _write_limits(self, resources: Resources) -> None: ...

    @abc.abstractmethod
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to in order to join."""

    @abc.abstractmethod
    def destroy(self) -> None:
        """Remove the directories (killing any process still inside first)."""

    @abc.abstractmethod
    def exists(self) -> bool: ...

    # -- control
    @abc.abstractmethod
    def freeze(self) -> None: ...

    @abc.abstractmethod
    def thaw(self) -> None: ...

    @abc.abstractmethod
    def is_frozen(self) -> bool: ...

    @abc.abstractmethod
    def pids(self) -> list[int]:
        """Host pids of every process in the group."""

    def kill_all(self, sig: int = 9) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    # -- reading back
    @abc.abstractmethod
    def stats(self) -> Stats: ...

    @abc.abstractmethod
    def limit_files(self) -> dict[str, str]:
        """The files that limit this container and their current values (for ``%dock cgroup``)."""

    @abc.abstractmethod
    def container_view(self) -> list[tuple[str, str]]:
        """(host directory, name under the container's /sys/fs/cgroup) pairs to bind-mount (v1),
        or [] when the container mounts its own cgroup2 in a cgroup namespace (v2)."""

    @abc.abstractmethod
    def host_path(self) -> str:
        """The main directory, for display."""

    # -- helpers shared by both backends
    def _write(self, path: str, value: str) -> None:
        """Write one cgroup file, with the path and value in any error."""
        try:
            self.kernel.write_cgroup_file(path, value)
        except OSError as e:
            raise CgroupError(e.errno, f"writing {value!r} to {path}: {e.strerror}") from None

    def _mkdir(self, path: str) -> None:
        if os.path.isdir(path):
            return
        try:
            self.kernel.make_cgroup(path)
        except FileExistsError:
            pass  # another container created the shared parent at the same moment


def _read(path: str, default: str = "") -> str:
    # os.open/os.read rather than open(): a cgroup file is a few bytes, and Python's text file
    # object costs more than the kernel's read (it matters to a chart sampling ten times a second).
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return default
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode().strip()
    except OSError:
        return default
    finally:
        os.close(fd)


def _read_int(path: str, default: int = 0) -> int:
    text = _read(path)
    try:
        return int(text)
    except ValueError:
        return default


def _read_keyed(path: str) -> dict[str, int]:
    """Parse "key value" lines (memory.stat, cpu.stat, memory.events...)."""
    result = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        try:
            result[key] = int(value)
        except ValueError:
            continue
    return result


@functools.cache
def host_memory() -> int:
    """The machine's memory (MemTotal): what Docker reports as the limit of a container without one."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def detect(root: str = CGROUP_ROOT) -> int:
    """2 if the host's cgroup file system is the unified v2 hierarchy, else 1."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[4] == root:
                return 2 if fields[sep + 1] == "cgroup2" else 1
    raise CgroupError(2, f"{root} is not mounted: this host has no cgroup file system")


def supports_blkio_weight(root: str = CGROUP_ROOT, block: str = "/sys/block", version: int | None = None) -> bool:
    """Whether a container's cgroup can hold a --blkio-weight on this host.

    A block I/O weight is the I/O scheduler's: the cgroup gets a weight file
    only from a scheduler that shares a disk among groups -- BFQ's
    ``blkio.bfq.weight`` (``io.bfq.weight`` on v2) once BFQ is in the kernel,
    CFQ's ``blkio.weight`` before Linux 5.0, or v2's ``io.weight`` where the
    kernel has the iocost controller (its ``io.cost.qos`` at the root).  With
    none of them (mq-deadline, kyber or none on every disk), Docker discards
    the weight with a warning, and so does nbdock.
    """
    def bfq_in_kernel() -> bool:
        try:
            disks = os.listdir(block)
        except OSError:
            return False
        for disk in disks:
            try:
                with open(os.path.join(block, disk, "queue", "scheduler")) as f:
                    if "bfq" in f.read().replace("[", " ").replace("]", " ").split():
                        return True
            except OSError:
                continue
        return False

    if (version or detect(root)) == 2:
        return os.path.exists(os.path.join(root, "io.cost.qos")) or bfq_in_kernel()
    return os.path.exists(os.path.join(root, "blkio", "blkio.weight")) or bfq_in_kernel()


def open_cgroup(container_id: str, trace: Trace = NO_TRACE, *, version: int | None = None) -> Cgroup:
    """The cgroup of a container, on whichever hierarchy this host uses."""
    version = version or detect()
    if version == 2:
        from .v2 import CgroupV2

        return CgroupV2(container_id, trace)
    from .v1 import CgroupV1

    return CgroupV1(container_id, trace)


__all__ = ["Cgroup", "Resources", "Throttle", "THROTTLE_KINDS", "Stats", "CgroupError", "detect", "open_cgroup", "host_memory"]
