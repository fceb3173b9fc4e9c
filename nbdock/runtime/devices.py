"""The device nodes a container's /dev holds, and the cgroup rules that guard them.

A container does not get the host's /dev (that would hand it every disk).
It gets a fresh tmpfs with six character devices made by mknod(2) -- the
same (major, minor) numbers the host uses, since the numbers, not the
names, select the kernel driver -- plus symlinks into /proc/self/fd.

Being able to *create* a node is not the same as being able to *open* it.
A container that keeps CAP_MKNOD (Docker's default does) can make a node
for /dev/sda's numbers, so the kernel must be told which numbers it may
actually open.  That is the allow-list below, one list for both cgroup
versions, enforced differently by each:

* cgroup v1: the ``devices`` controller; the rules are written, one line
  each, to ``devices.allow`` after ``devices.deny`` "a" (cgroups/v1.py).
* cgroup v2 has no devices controller.  The same rules are compiled into an
  eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE and attached to the
  container's cgroup (cgroups/devicefilter.py); the kernel runs it on every
  mknod and open of a device node by a process in the cgroup.

Either way, anything the list does not allow fails with EPERM.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..kernel import libc

if TYPE_CHECKING:
    from .kernel import Kernel


@dataclass(frozen=True)
class Device:
    name: str
    major: int
    minor: int
    mode: int = 0o666


#: Documentation/admin-guide/devices.txt: major 1 is "memory devices", major 5 the tty family.
DEFAULT_DEVICES = (
    Device("null", 1, 3),
    Device("zero", 1, 5),
    Device("full", 1, 7),
    Device("random", 1, 8),
    Device("urandom", 1, 9),
    Device("tty", 5, 0),
)

#: (link name in /dev, target) -- the per-process views live in /proc/self.
DEFAULT_SYMLINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),  # the pty multiplexer of the container's own devpts instance
)

#: The device allow-list Docker uses, in cgroup v1's ``devices.allow`` syntax
#: ("<type> <major>:<minor> <access>"; type c(har), b(lock) or a(ll); "*" for any number;
#: access r(ead), w(rite), m(knod)): the nodes above, the pty devices, and mknod of any
#: char/block node (making is harmless, opening is what the list guards).
CGROUP_ALLOW_RULES = (
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",  # /dev/tty
    "c 5:1 rwm",  # /dev/console
    "c 5:2 rwm",  # /dev/ptmx
    "c 136:* rwm",  # /dev/pts/*
    "c 10:200 rwm",  # /dev/net/tun
)

#: Largest major and minor number: the kernel's dev_t is 32 bits, 12 for the major
#: and 20 for the minor (include/linux/kdev_t.h: MINORBITS 20).
MAX_MAJOR = (1 << 12) - 1
MAX_MINOR = (1 << 20) - 1


@dataclass(frozen=True)
class DeviceRule:
    """One allow rule: which device nodes (by type and numbers) may be used, and how.

    ``major`` or ``minor`` None stands for "*" (any number).  ``str(rule)``
    gives the rule back in the ``devices.allow`` syntax it was parsed from.
    """

    type: str  # "c" character, "b" block, "a" both
    major: int | None
    minor: int | None
    access: str  # a subset of "rwm", in that order

    def __str__(self) -> str:
        if self.type == "a" and self.major is None and self.minor is None and self.access == "rwm":
            return "a"
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"


def parse_rule(text: str) -> DeviceRule:
    """Parse one ``devices.allow`` line ("c 1:3 rwm", "b *:* m", "a") into a :class:`DeviceRule`.

    Raises ValueError naming the rule if it is malformed, so a typo in the
    list fails loudly instead of silently allowing or denying a device.
    """
    fields = text.split()
    if fields == ["a"]:
        return DeviceRule("a", None, None, "rwm")  # v1's shorthand for "a *:* rwm"
    if len(fields) != 3 or fields[0] not in ("a", "b", "c"):
        raise ValueError(f"device rule {text!r}: expected '<a|b|c> <major>:<minor> <rwm>'")
    dev_type, numbers, access = fields
    major_text, colon, minor_text = numbers.partition(":")
    if not colon:
        raise ValueError(f"device rule {text!r}: expected <major>:<minor>, got {numbers!r}")
    major = _parse_number(text, major_text, MAX_MAJOR)
    minor = _parse_number(text, minor_text, MAX_MINOR)
    if not access or set(access) - set("rwm") or len(set(access)) != len(access):
        raise ValueError(f"device rule {text!r}: access must be some of r, w, m, got {access!r}")
    return DeviceRule(dev_type, major, minor, "".join(c for c in "rwm" if c in access))


def _parse_number(rule: str, text: str, largest: int) -> int | None:
    if text == "*":
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > largest:
        raise ValueError(f"device rule {rule!r}: {text!r} is not '*' or a number from 0 to {largest}")
    return int(text)


#: CGROUP_ALLOW_RULES parsed once; both cgroup backends enforce exactly these.
ALLOW_RULES = tuple(parse_rule(rule) for rule in CGROUP_ALLOW_RULES)


def allow_rules(extra: tuple[str, ...] = ()) -> tuple[DeviceRule, ...]:
    """Docker's list plus a container's own rules (``--device-cgroup-rule "c 7:128 rwm"``).

    The extra rules only ever allow more: with the list's default of "deny",
    a rule is a door opened for one device (or, with "*", for a family of
    them), which is what a container that is handed, say, a loop device needs.
    """
    return ALLOW_RULES + tuple(parse_rule(rule) for rule in extra)


def make_device_node(dev_dir: str, device: Device, kernel: Kernel) -> None:
    """mknod one character device in ``dev_dir`` with exact permissions (umask would narrow them)."""
    kernel.mknod(os.path.join(dev_dir, device.name), stat.S_IFCHR | device.mode, os.makedev(device.major, device.minor),
                 shown_path=f"/dev/{device.name}")


def bind_device_node(dev_dir: str, device: Device, kernel: Kernel) -> None:
    """Bind the host's /dev/<name> onto an empty file in ``dev_dir`` (a user namespace may not mknod).

    The bind mount is of the host's own node, on the host's devtmpfs, so it
    opens even though the tmpfs around it is "nodev"; the cgroup's device
    rules still decide whether it may be opened.
    """
    path = os.path.join(dev_dir, device.name)
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o666))
    kernel.mount(f"/dev/{device.name}", path, None, libc.MS_BIND, shown_target=f"/dev/{device.name}")
