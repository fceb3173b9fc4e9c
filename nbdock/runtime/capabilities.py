"""Linux capabilities: the pieces of root's power a container keeps.

Since Linux 2.2 "root" is not one privilege but ~41 separate capabilities
(capabilities(7)).  A container's root keeps only the 14 Docker grants by
default: enough to chown files, bind low ports or switch users, but not to
mount file systems (CAP_SYS_ADMIN), load kernel modules (CAP_SYS_MODULE),
change the clock (CAP_SYS_TIME) or reconfigure the network (CAP_NET_ADMIN).

Two sets matter here:

* the **bounding set** is a ceiling: no execve can ever give the process (or
  its descendants) a capability outside it.  We drop everything else from it
  with prctl(PR_CAPBSET_DROP), which needs CAP_SETPCAP -- so it is done
  while we still have everything.
* the **permitted/effective sets** after execve follow the bounding set for
  uid 0 (the kernel treats root's executables as if they had every file
  capability), and are emptied when a non-root user runs a program.  That is
  why ``docker run -u 1000`` shows CapEff 0 but the same CapBnd.
"""

from __future__ import annotations

from typing import Protocol

from ..kernel import libc


class CapabilityKernel(Protocol):
    """The three calls of kernel.Kernel that the capability steps make.

    Named here rather than imported: kernel.py reads CAPABILITY_NAMES from
    this module (to print bits by name), so the seam stands above it.
    """

    def capbset_drop(self, bits: list[int]) -> None: ...

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int: ...

    def capset(self, effective: int, permitted: int, inheritable: int) -> None: ...

# include/uapi/linux/capability.h, in bit order.
CAPABILITY_NAMES = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
]  # fmt: skip

#: What Docker grants a container by default (moby's oci/caps/defaults.go).
DOCKER_DEFAULT = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)  # fmt: skip


def last_capability() -> int:
    """The highest capability number this kernel knows."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def to_mask(names) -> int:
    """A set of capability names (with or without the CAP_ prefix) as a bit mask."""
    mask = 0
    for name in names:
        short = name.upper().removeprefix("CAP_")
        try:
            mask |= 1 << CAPABILITY_NAMES.index(short)
        except ValueError:
            raise ValueError(f"unknown capability: {name!r}") from None
    return mask


def from_mask(mask: int) -> list[str]:
    return [name for bit, name in enumerate(CAPABILITY_NAMES) if mask & (1 << bit)]


def normalize(names) -> list[str]:
    """Capability names as Docker spells them ("CAP_NET_ADMIN", or "ALL"), refusing unknown ones.

    Docker checks --cap-add/--cap-drop when the container is created, with
    this message, so a typo is a 400 from ``docker create`` rather than a
    failure at start.
    """
    normalized = []
    for name in names:
        upper = name.upper()
        if upper != "ALL" and not upper.startswith("CAP_"):
            upper = "CAP_" + upper
        if upper != "ALL" and upper.removeprefix("CAP_") not in CAPABILITY_NAMES:
            raise ValueError(f'unknown capability: "{upper}"')
        normalized.append(upper)
    return normalized


def container_set(cap_add=(), cap_drop=(), privileged: bool = False) -> int:
    """The capability mask for a container, from Docker's default plus --cap-add/--cap-drop.

    Docker's rule (moby's TweakCapabilities): --cap-add ALL means everything
    but what --cap-drop names; --cap-drop ALL means exactly what --cap-add
    names; otherwise the default, minus the drops, plus the adds.
    """
    everything = (1 << (last_capability() + 1)) - 1
    if privileged:
        return everything
    adds, drops = set(normalize(cap_add)), set(normalize(cap_drop))
    if "ALL" in adds:
        return everything & ~to_mask(drops - {"ALL"})
    if "ALL" in drops:
        return to_mask(adds) & everything
    return (to_mask(DOCKER_DEFAULT) & ~to_mask(drops) | to_mask(adds)) & everything


def limit_bounding_set(keep: int, kernel: CapabilityKernel) -> list[str]:
    """Drop every capability not in ``keep`` from the bounding set; return the names dropped.

    Must run before the process gives up CAP_SETPCAP (i.e. before setuid to
    a non-root user, and before execve).
    """
    bits = [bit for bit in range(last_capability() + 1) if not keep & (1 << bit)]
    kernel.capbset_drop(bits)
    return [CAPABILITY_NAMES[bit] if bit < len(CAPABILITY_NAMES) else str(bit) for bit in bits]


def set_process_capabilities(keep: int, kernel: CapabilityKernel) -> None:
    """Make effective and permitted exactly ``keep`` and inheritable empty (as Docker since 20.10.14).

    An empty inheritable set matters: a capability left there could be
    regained by a program carrying file capabilities, outside Docker's default.
    """
    kernel.prctl(libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_CLEAR_ALL)
    kernel.capset(effective=keep, permitted=keep, inheritable=0)
