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
user    CLONE_NEWUSER   user and group ids, and what capabilities are worth (userns.py)
======  ==============  ===============================================

The user namespace is the one that owns the others: each namespace records
the user namespace its creator was in, and a capability counts only over
namespaces owned by the holder's user namespace (or one below it).  So a
container that has its own user namespace creates the others *with* it, in
one unshare(2) -- the kernel makes the user namespace first, then the others
owned by it -- and its root can set its hostname or mount its /proc, while
the host's network or clock stay out of reach.

Every namespace of a process is a file under /proc/<pid>/ns/; two processes
share a namespace exactly when those files have the same inode number.
That is how the notebook's namespace explorer tells isolated from shared.
"""

from __future__ import annotations

import os

from ..kernel import libc
from .kernel import LINUX, Kernel

FLAGS = {
    "mnt": libc.CLONE_NEWNS,
    "uts": libc.CLONE_NEWUTS,
    "ipc": libc.CLONE_NEWIPC,
    "net": libc.CLONE_NEWNET,
    "pid": libc.CLONE_NEWPID,
    "cgroup": libc.CLONE_NEWCGROUP,
    "user": libc.CLONE_NEWUSER,
}


def unshare_flags(namespaces: dict[str, str]) -> int:
    """The CLONE_NEW* flags for every namespace the spec wants new."""
    flags = 0
    for kind, mode in namespaces.items():
        if mode == "new":
            flags |= FLAGS[kind]
    return flags


def create(namespaces: dict[str, str], kernel: Kernel = LINUX) -> None:
    """Join the namespaces given as paths, then unshare the ones wanted new.

    Joining first matters for ``--network container:X``: the new namespaces
    are created around a process already inside X's network namespace.  It
    matters twice with a new user namespace: setns(2) needs CAP_SYS_ADMIN
    over the namespace joined, which we have as root of the host and lose
    once inside a user namespace of our own.
    """
    for kind, mode in sorted(namespaces.items(), key=lambda item: item[0] != "user"):
        if mode not in ("new", "host"):
            join(kind, mode, kernel)  # a user namespace first: it gives the rights over the others
    flags = unshare_flags(namespaces)
    if flags:
        kernel.unshare(flags)  # the trace names the user namespace first: the kernel makes it first


def join(kind: str, path: str, kernel: Kernel = LINUX) -> None:
    fd = kernel.open(path, os.O_RDONLY)
    try:
        kernel.setns(fd, FLAGS[kind], shown_path=path)
    finally:
        kernel.close(fd)


def enter(pidfd: int, kinds, kernel: Kernel = LINUX) -> None:
    """Enter the namespaces ``kinds`` of the process that ``pidfd`` refers to (for ``docker exec``).

    One setns(2) on a pidfd (Linux 5.8) moves us into all of them at once,
    or into none if any cannot be entered.  Every kind asked for is entered,
    even one the container shares with the host: deciding "already there,
    skip it" would mean comparing namespace files found through a pid, and a
    pid is not a name for a process once PID namespaces are involved.  (An
    earlier version compared ``/proc/<os.getpid()>/ns/*`` with the target's:
    inside the container's PID namespace ``os.getpid()`` is the *container's*
    number for us, and ``/proc`` is still the host's, so it named some
    unrelated host process -- and when that happened to be one of the
    container's own, every namespace looked joined and the exec ran on the
    host.)  A pidfd names exactly one process and cannot be reused.

    With "user" among the kinds the kernel enters the user namespace first
    (whatever the order of the flags), so the others -- owned by it -- are
    entered with the capabilities the new one gives.  Our ids are still the
    host's then (root's 0 is not mapped inside: it shows as 65534); the
    process becomes a user of the container at its setuid().
    """
    flags = 0
    for kind in kinds:
        flags |= FLAGS[kind]
    if not flags:
        return
    kernel.setns(pidfd, flags)


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
        row = {"namespace": kind, "container_inode": mine, "host_inode": hosts, "isolated": mine != hosts}
        if kind == "user":
            row.update(id_maps(pid))
        rows.append(row)
    return rows


def id_maps(pid: int | str) -> dict[str, list[list[int]]]:
    """The uid and gid maps of ``pid``'s user namespace, as [inside, outside, count] rows.

    Read from outside they are written in the reader's terms: the host's user
    namespace sees ``0 4294967295`` ids mapped onto themselves (nothing
    translated); a remapped container shows ``0 100000 65536``.
    """
    maps = {}
    for name in ("uid_map", "gid_map"):
        try:
            with open(f"/proc/{pid}/{name}") as f:
                maps[name] = [[int(n) for n in line.split()] for line in f if line.strip()]
        except FileNotFoundError:
            maps[name] = []
    return maps
