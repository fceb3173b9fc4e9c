"""What the runtime needs to know to make a container: a plain description, no images or names.

The engine turns ``docker run`` arguments plus the image's config into a
:class:`ContainerSpec` (as dockerd turns them into an OCI ``config.json`` for
runc).  The spec crosses a process boundary -- the daemon sends it to the
spawner as JSON -- so it holds only strings, numbers and lists.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .capabilities import DOCKER_DEFAULT, to_mask

#: The paths Docker hides from containers (bind-mounting /dev/null over files,
#: an empty read-only tmpfs over directories): kernel memory, timers and keys
#: that leak information about the host or let a container disturb it.
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)

#: The paths Docker leaves visible but read-only: writing to them would change the host.
READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

#: The PATH Docker sets when the image does not.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Mount:
    """A mount inside the container (beyond the standard ones every container gets)."""

    destination: str  # path inside the container
    type: str = "bind"  # "bind" or "tmpfs"
    source: str = ""  # host path for "bind"
    readonly: bool = False
    data: str = ""  # tmpfs options, e.g. "size=64m,mode=1777,exec"
    #: A new, empty volume takes a copy of what the image has at the destination (Docker's VOLUME semantics).
    copy_up: bool = False
    #: In a user namespace: show the source's owners through the container's id maps (volumes; never a
    #: host bind, whose host-owned files must stay out of the container root's reach; see userns.py)
    idmap: bool = False


@dataclass
class Process:
    """The process to run: the ``process`` part of an OCI spec."""

    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    user: str = ""  # "name", "uid", "uid:gid", "name:group"; resolved inside the container
    additional_groups: list[str] = field(default_factory=list)  # --group-add: names or gids, resolved inside too
    #: --ulimit: [name, soft, hard] with name as in ``ulimit`` ("nofile", "nproc", "core"...); -1 is unlimited
    rlimits: list[list] = field(default_factory=list)
    no_new_privileges: bool = False  # --security-opt no-new-privileges: execve can never gain privileges
    oom_score_adj: int = 0  # --oom-score-adj: how much more (or less) the OOM killer picks this process
    tty: bool = False
    #: [rows, columns] of the terminal with a tty; [0, 0] leaves the kernel's default until a resize
    console_size: list[int] = field(default_factory=lambda: [0, 0])
    capabilities: int = to_mask(DOCKER_DEFAULT)
    #: The seccomp filter (seccomp.py): "default" (Docker's profile, resolved against ``capabilities``),
    #: "unconfined" (none), or the JSON text of a profile in Docker's format (--security-opt seccomp=...)
    seccomp: str = "default"


@dataclass
class Rootfs:
    """The overlay that becomes the container's root."""

    lowerdirs: list[str]  # image layers, top-most first
    upperdir: str  # the container's own writable layer
    workdir: str  # overlay's scratch directory (same file system as upperdir)
    mountpoint: str  # where to mount it before pivot_root
    readonly: bool = False  # --read-only


@dataclass
class ContainerSpec:
    id: str
    rootfs: Rootfs
    process: Process
    hostname: str
    #: namespace kind ("mnt", "uts", "ipc", "net", "pid", "cgroup") -> "new", "host",
    #: or the path of a namespace to join (e.g. /proc/123/ns/net for --network container:X)
    namespaces: dict[str, str]
    cgroup_version: int = 1
    #: (host cgroup directory, name under /sys/fs/cgroup) to bind-mount on v1
    cgroup_view: list[tuple[str, str]] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    #: container path -> host file bind-mounted there (/etc/hosts, /etc/hostname, /etc/resolv.conf)
    etc_files: dict[str, str] = field(default_factory=dict)
    masked_paths: list[str] = field(default_factory=lambda: list(MASKED_PATHS))
    readonly_paths: list[str] = field(default_factory=lambda: list(READONLY_PATHS))
    shm_size: int = 64 * 1024 * 1024
    domainname: str = ""  # the UTS namespace's domain name; "" leaves the kernel's "(none)"
    #: kernel settings of the container's own namespaces ("net.ipv4.ip_unprivileged_port_start": "0")
    sysctls: dict[str, str] = field(default_factory=dict)
    #: A user namespace (``--userns-remap``): {"uid_map": [[inside, outside, count]...], "gid_map": [...],
    #: "idmapped_layers": bool, and "path": /proc/PID/ns/user to join another container's}; empty: the host's
    user_namespace: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ContainerSpec":
        data = dict(data)
        data["rootfs"] = Rootfs(**data["rootfs"])
        data["process"] = Process(**data["process"])
        data["mounts"] = [Mount(**m) for m in data.get("mounts", [])]
        data["cgroup_view"] = [tuple(pair) for pair in data.get("cgroup_view", [])]
        return cls(**data)


@dataclass
class ExecSpec:
    """A new process inside a running container (``docker exec``)."""

    container_id: str
    target_pid: int  # host pid of the container's PID 1, for reading; its namespaces are entered through its pidfd
    process: Process
    namespaces: list[str]  # kinds to join, e.g. ["ipc", "uts", "net", "pid", "mnt"]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ExecSpec":
        data = dict(data)
        data["process"] = Process(**data["process"])
        return cls(**data)
