"""Namespaces: what a container can see.

A namespace wraps one global resource so that the processes inside get
their own copy (namespaces(7)):

======  ==============  ===============================================
kind    flag            isolates
======  ==============  ===============================================
mnt     CLONE_NEWNS     the mount table: the container's own root, /proc, /dev
uts     CLONE_NEWUTS    the hostname
ipc     CLONE_NEWIPC    System V IPC and POSIX message queues
net     CLONE_NEWNET    network devices, addresses, routes, ports, firewall
pid     CLONE_NEWPID    process ids: the container's first process is PID 1
cgroup  CLONE_NEWCGROUP the view of /proc/self/cgroup and the cgroup file system
======  ==============  ===============================================

Every namespace of a process is a file under /proc/<pid>/ns/; two processes
share a namespace exactly when those files have the same inode number.
That is how the notebook's namespace explorer tells isolated from shared.
"""

from __future__ import annotations

import os

from . import libc
from .trace import NO_TRACE, Trace

FLAGS = {
    "mnt": libc.CLONE_NEWNS,
    "uts": libc.CLONE_NEWUTS,
    "ipc": libc.CLONE_NEWIPC,
    "net": libc.CLONE_NEWNET,
    "pid": libc.CLONE_NEWPID,
    "cgroup": libc.CLONE_NEWCGROUP,
}

#: The order in which an exec'd process joins a container's namespaces.  The
#: mount namespace comes last: entering it changes what /proc/<pid>/ns/...
#: paths mean, and the files are opened before any is entered anyway.
JOIN_ORDER = ("ipc", "uts", "net", "pid", "cgroup", "mnt")


def unshare_flags(namespaces: dict[str, str]) -> int:
    """The CLONE_NEW* flags for every namespace the spec wants new."""
    flags = 0
    for kind, mode in namespaces.items():
        if mode == "new":
            flags |= FLAGS[kind]
    return flags


def create(namespaces: dict[str, str], trace: Trace = NO_TRACE) -> None:
    """Join the namespaces given as paths, then unshare the ones wanted new.

    Joining first matters for ``--network container:X``: the new namespaces
    are created around a process already inside X's network namespace.
    """
    for kind, mode in namespaces.items():
        if mode not in ("new", "host"):
            join(kind, mode, trace)
    flags = unshare_flags(namespaces)
    if flags:
        names = [kind for kind, mode in namespaces.items() if mode == "new"]
        trace.emit("namespace", "unshare", flags=" | ".join(f"CLONE_NEW{k.upper()}" for k in names))
        libc.unshare(flags)


def join(kind: str, path: str, trace: Trace = NO_TRACE) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        trace.emit("namespace", "setns", path=path, nstype=f"CLONE_NEW{kind.upper()}")
        libc.setns(fd, FLAGS[kind])
    finally:
        os.close(fd)


def join_all(pid: int, kinds, trace: Trace = NO_TRACE) -> None:
    """Enter the namespaces ``kinds`` of process ``pid`` (for ``docker exec``)."""
    fds = {}
    try:
        # Open every namespace file before entering any: once in the container's
        # mount namespace, /proc is the container's and host pids mean nothing.
        for kind in kinds:
            if inode(pid, kind) != inode(os.getpid(), kind):
                fds[kind] = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        for kind in JOIN_ORDER:
            if kind in fds:
                trace.emit("namespace", "setns", path=f"/proc/{pid}/ns/{kind}", nstype=f"CLONE_NEW{kind.upper()}")
                libc.setns(fds[kind], FLAGS[kind])
    finally:
        for fd in fds.values():
            os.close(fd)


def inode(pid: int | str, kind: str) -> int | None:
    """The inode number identifying process ``pid``'s namespace of ``kind`` (None if gone)."""
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except FileNotFoundError:
        return None


def compare_with_host(pid: int) -> list[dict]:
    """One row per namespace kind: the container's inode, the host's, and whether it is isolated.

    "The host" is where the engine itself runs: its own namespaces are the
    ones a container either shares or does not.
    """
    rows = []
    for kind in ("mnt", "uts", "ipc", "net", "pid", "cgroup", "user", "time"):
        mine, hosts = inode(pid, kind), inode("self", kind)
        if mine is None:
            continue
        rows.append({"namespace": kind, "container_inode": mine, "host_inode": hosts, "isolated": mine != hosts})
    return rows
