"""The device nodes a container's /dev holds, and the cgroup rules that guard them.

A container does not get the host's /dev (that would hand it every disk).
It gets a fresh tmpfs with six character devices made by mknod(2) -- the
same (major, minor) numbers the host uses, since the numbers, not the
names, select the kernel driver -- plus symlinks into /proc/self/fd.

Being able to *create* a node is not the same as being able to *open* it:
on cgroup v1 the ``devices`` controller holds an allow-list, so a container
that keeps CAP_MKNOD (Docker's default does) still cannot read /dev/sda
even after making the node.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass


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

#: The cgroup v1 ``devices.allow`` lines Docker writes (after denying everything):
#: the nodes above, the pty devices, and mknod of any char/block node (making is harmless,
#: opening is what the list guards).
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


def make_device_node(dev_dir: str, device: Device) -> None:
    """mknod one character device in ``dev_dir`` with exact permissions (umask would narrow them)."""
    path = os.path.join(dev_dir, device.name)
    os.mknod(path, stat.S_IFCHR | device.mode, os.makedev(device.major, device.minor))
    os.chmod(path, device.mode)
