"""User namespaces: root inside a container, an ordinary user outside (``--userns-remap``).

A user namespace has its own numbering of users and groups.  Two files of
the process that creates it, written once by a process privileged *outside*
it, translate between the two numberings (user_namespaces(7))::

    /proc/PID/uid_map     0 100000 65536     inside 0..65535 is outside 100000..165535
    /proc/PID/gid_map     0 100000 65536

So a container's root (uid 0 inside) is uid 100000 to the host: when it
opens a host file, the kernel checks the permission bits against 100000, an
ordinary user.  Root inside still holds every capability -- but only over
what its namespace *owns*: the namespaces created with it (its mounts,
hostname, network...) and the files whose owners are mapped into it.  It
cannot load kernel modules, mount a host disk, change the host's clock or
write a host-owned file, whatever its capabilities say.

Where the ranges come from: /etc/subuid and /etc/subgid give each user
ranges of ids they may use ("dockremap:100000:65536").  ``--userns-remap
default`` creates the ``dockremap`` user and gives it the first free block
of 65536 ids, as Docker does.

Files: the image's layers are owned by 0 on disk, which is *not* mapped in
the container's namespace (only 100000... are), so inside they would show as
"nobody" and root could not read a 0600 file.  Two fixes, chosen at run time:

* idmapped mounts (Linux 5.12): a detached copy of each layer directory's
  mount is told to show owners through the container's maps
  (:func:`idmapped_tree`); on disk nothing changes, and one unpacked layer
  serves every container, remapped or not;
* where the kernel cannot, a copy of the layers with every owner shifted,
  kept per remapped root under ``<data-root>/<uid>.<gid>/`` (Docker's layout,
  :func:`shifted_copy`).

The root daemon prepares all of a container's mounts with its host
privileges *outside* the namespace -- the overlay (through the new mount
API: fsopen, fsconfig, fsmount, so that nothing is ever attached to the
host's tree) and a detached bind mount of every volume and bind -- and
hands them to the container's first process as file descriptors; the
process attaches them with move_mount in its own mount namespace.  Its paths
under the data root need not even be reachable by uid 100000.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass

from ..kernel import libc
from .kernel import LINUX, Kernel

#: The first id Docker hands out for subordinate ranges, and the size of a block.
RANGE_START = 100000
RANGE_SIZE = 65536
DEFAULT_USER = "dockremap"

#: What a child writes on its "ready" pipe once it has unshared CLONE_NEWUSER: "write my maps".
USERNS = b"userns"

#: How the layers are shown with the right owners (``docker info`` says which).
IDMAPPED = "idmapped mounts"
CHOWNED_COPY = "chowned copy"


class RemapError(Exception):
    """``--userns-remap`` cannot be honoured (an unknown user, no subordinate ranges...)."""


@dataclass(frozen=True)
class IdRange:
    """One line of uid_map/gid_map: ``count`` ids from ``inside`` in the namespace are ``outside``... on the host."""

    inside: int
    outside: int
    count: int

    def line(self) -> str:
        return f"{self.inside} {self.outside} {self.count}"


def map_text(ranges: list[IdRange]) -> str:
    """The text written to /proc/PID/uid_map: one range per line, in one write() (the kernel takes only one)."""
    return "".join(r.line() + "\n" for r in ranges)


def to_host(ranges: list[IdRange], inside: int) -> int | None:
    """The host id of ``inside``, or None if it is not mapped (it shows as 65534, "nobody", then)."""
    for r in ranges:
        if r.inside <= inside < r.inside + r.count:
            return r.outside + inside - r.inside
    return None


def to_inside(ranges: list[IdRange], outside: int) -> int | None:
    for r in ranges:
        if r.outside <= outside < r.outside + r.count:
            return r.inside + outside - r.outside
    return None


@dataclass(frozen=True)
class RemappedRoot:
    """The user (and group) whose subordinate ids a daemon's containers run as."""

    user: str
    group: str
    uid_map: tuple[IdRange, ...]
    gid_map: tuple[IdRange, ...]

    @property
    def uid(self) -> int:
        """The host uid of root inside (the first id of the first range)."""
        return self.uid_map[0].outside

    @property
    def gid(self) -> int:
        return self.gid_map[0].outside

    @property
    def directory_name(self) -> str:
        """Docker's per-remapped-root directory under the data root: "100000.100000"."""
        return f"{self.uid}.{self.gid}"

    def option(self) -> str:
        """How ``docker info`` names the option ("name=userns")."""
        return "name=userns"

    def spec(self, layers: str) -> dict:
        """The part of a container spec that asks for a user namespace (plain JSON for the spawner)."""
        return {"uid_map": [[r.inside, r.outside, r.count] for r in self.uid_map],
                "gid_map": [[r.inside, r.outside, r.count] for r in self.gid_map],
                "idmapped_layers": layers == IDMAPPED}

    # The two uses the image store makes of a remapped root (commit, the chowned copy): as methods, so
    # that the store is handed the root by the engine and never imports the runtime.

    def ids_inside(self, uid: int, gid: int) -> tuple[int, int]:
        """The container's view of a host owner; an id outside the maps shows as 65534 ("nobody")."""
        uid_in, gid_in = to_inside(list(self.uid_map), uid), to_inside(list(self.gid_map), gid)
        return (65534 if uid_in is None else uid_in), (65534 if gid_in is None else gid_in)

    def shifted_copy(self, source: str, target: str) -> None:
        """:func:`shifted_copy` of ``source`` into this root's ids."""
        shifted_copy(source, target, list(self.uid_map), list(self.gid_map))


def ranges_from_spec(rows) -> list[IdRange]:
    return [IdRange(*row) for row in rows]


# ---------------------------------------------------------------------------
# /etc/subuid and /etc/subgid


def subordinate_ranges(path: str, name: str, number: int | None) -> list[tuple[int, int]]:
    """(start, count) of every line of ``path`` for the user or group ``name`` (or its number), in file order."""
    ranges = []
    keys = {name} | ({str(number)} if number is not None else set())
    try:
        with open(path) as f:
            for line in f:
                fields = line.strip().split(":")
                if len(fields) != 3 or line.lstrip().startswith("#"):
                    continue
                if fields[0] in keys and fields[1].isdigit() and fields[2].isdigit():
                    ranges.append((int(fields[1]), int(fields[2])))
    except FileNotFoundError:
        pass
    return ranges


def _as_map(ranges: list[tuple[int, int]]) -> tuple[IdRange, ...]:
    """Docker's mapping: the ranges one after another inside, from 0 (root is the first id of the first range)."""
    result, inside = [], 0
    for start, count in ranges:
        result.append(IdRange(inside, start, count))
        inside += count
    return tuple(result)


def remapped_root(option: str, subuid: str = "/etc/subuid", subgid: str = "/etc/subgid") -> RemappedRoot:
    """What ``--userns-remap OPTION`` means: "default" (dockremap, created if missing) or USER[:GROUP]."""
    import grp
    import pwd

    if option == "default":
        ensure_default_user(subuid, subgid)
        option = DEFAULT_USER
    user, _, group = option.partition(":")
    if not user:
        raise RemapError(f"--userns-remap {option!r}: expected default, USER or USER:GROUP")
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise RemapError(f'--userns-remap: no such user "{user}" in /etc/passwd') from None
    group = group or entry.pw_name
    try:
        gentry = grp.getgrgid(int(group)) if group.isdigit() else grp.getgrnam(group)
    except KeyError:
        raise RemapError(f'--userns-remap: no such group "{group}" in /etc/group') from None
    uids = subordinate_ranges(subuid, entry.pw_name, entry.pw_uid)
    gids = subordinate_ranges(subgid, gentry.gr_name, gentry.gr_gid)
    if not uids:
        raise RemapError(f'Can\'t create ID mappings: no subuid ranges found for user "{entry.pw_name}" in {subuid}')
    if not gids:
        raise RemapError(f'Can\'t create ID mappings: no subgid ranges found for group "{gentry.gr_name}" in {subgid}')
    return RemappedRoot(entry.pw_name, gentry.gr_name, _as_map(uids), _as_map(gids))


def next_free_range(path: str) -> int:
    """The start of the first block of RANGE_SIZE ids from RANGE_START that no line of ``path`` overlaps (Docker's rule)."""
    taken = []
    with contextlib.suppress(FileNotFoundError), open(path) as f:
        for line in f:
            fields = line.strip().split(":")
            if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                taken.append((int(fields[1]), int(fields[2])))
    start = RANGE_START
    for first, count in sorted(taken):
        if first < start + RANGE_SIZE and start < first + count:
            start = first + count
    return start


def ensure_default_user(subuid: str = "/etc/subuid", subgid: str = "/etc/subgid") -> None:
    """Create the dockremap user and group (system accounts, no login) and their ranges, if missing."""
    import grp
    import pwd

    try:
        grp.getgrnam(DEFAULT_USER)
    except KeyError:
        _run(["groupadd", "--system", DEFAULT_USER])
    try:
        pwd.getpwnam(DEFAULT_USER)
    except KeyError:
        _run(["useradd", "--system", "--no-create-home", "--shell", "/bin/false", "--gid", DEFAULT_USER, DEFAULT_USER])
    for path in (subuid, subgid):
        if not subordinate_ranges(path, DEFAULT_USER, None):
            start = next_free_range(path)
            with open(path, "a") as f:
                f.write(f"{DEFAULT_USER}:{start}:{RANGE_SIZE}\n")


def _run(argv: list[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise RemapError(f"--userns-remap default: {argv[0]} is not installed (package passwd)") from None
    except subprocess.CalledProcessError as e:
        raise RemapError(f"--userns-remap default: {' '.join(argv)} failed: {e.stderr.strip()}") from None


# ---------------------------------------------------------------------------
# The parent's side: writing the maps (the spawner, root on the host)


def write_id_maps(pid: int, userns: dict, kernel: Kernel = LINUX) -> None:
    """Give the new user namespace of ``pid`` its uid and gid maps.

    The kernel's rules for these files (user_namespaces(7)): each is written
    once, in one write; the writer must be in the parent namespace (or the
    new one) and hold CAP_SETUID (CAP_SETGID) over the parent; every mapped
    outside id must be one the writer may use.  An unprivileged writer must
    first write "deny" to /proc/PID/setgroups before gid_map, so that a
    process cannot drop a group it was *excluded* by (a file mode such as
    0604 root:students denies students).  We are root outside, so setgroups
    stays "allow": the container's root may set its supplementary groups
    (``-u`` and ``--group-add`` need that), which it does at once to drop
    the host's groups it inherited.
    """
    kernel.read_setgroups(pid)  # left as is ("allow"): the trace shows it
    for name in ("uid_map", "gid_map"):
        kernel.write_id_map(pid, name, map_text(ranges_from_spec(userns[name])))


def open_user_namespace(pid: int) -> int:
    return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)


# ---------------------------------------------------------------------------
# The child's side


def receive_mounts(control: int) -> dict[str, int]:
    """The spawner's detached mounts, by name (:func:`prepare_mounts`), from the ``control`` socket."""
    with socket.socket(fileno=control) as sock:
        message, fds, _, _ = socket.recv_fds(sock, 65536, 64)
    if not message:
        raise RuntimeError("the engine gave up preparing the container's mounts")
    return dict(zip(json.loads(message), fds))


def become_root_inside(kernel: Kernel = LINUX) -> None:
    """Take the ids 0 of our new user namespace (the remapped root: 100000 outside).

    Until now we kept the host's ids, which the maps do not cover (they show
    as 65534 inside).  Our capabilities survive: the kernel clears them only
    when a process leaves uid 0, and we are entering it.  setgroups([]) drops
    the host's supplementary groups we inherited -- still real groups when a
    file's owner group is one of them, even if no map names them.
    """
    kernel.setresuid(0, 0, [])
    # Changing ids made us "non-dumpable": our /proc/self files now belong to the host's root, which
    # root inside cannot write (/proc/self/oom_score_adj...).  Dumpable again, they are ours (runc's fix).
    kernel.prctl(libc.PR_SET_DUMPABLE, 1)


# ---------------------------------------------------------------------------
# Detached mounts made outside, attached inside


def idmapped_tree(path: str, userns_fd: int, kernel: Kernel = LINUX, *, recursive: bool = False) -> int:
    """A detached bind mount of ``path`` that shows its owners through ``userns_fd``'s maps."""
    fd = kernel.open_tree(-100, path, libc.OPEN_TREE_CLONE | (libc.AT_RECURSIVE if recursive else 0))
    try:
        kernel.mount_setattr(fd, libc.MOUNT_ATTR_IDMAP, userns_fd=userns_fd, shown_path=path)
    except BaseException:
        kernel.close(fd)
        raise
    return fd


def detached_bind(path: str, readonly: bool, kernel: Kernel = LINUX, *, userns_fd: int | None = None) -> int:
    """A detached (recursive) bind mount of ``path``, read-only if asked, idmapped with ``userns_fd``.

    Made read-only here, outside: inside, a remount would have to repeat
    every flag the host mount was locked with (nosuid, nodev...).
    """
    fd = kernel.open_tree(-100, path, libc.OPEN_TREE_CLONE | libc.AT_RECURSIVE)
    try:
        attrs = (libc.MOUNT_ATTR_RDONLY if readonly else 0) | (libc.MOUNT_ATTR_IDMAP if userns_fd is not None else 0)
        if attrs:
            kernel.mount_setattr(fd, attrs, userns_fd=userns_fd or 0, shown_path=path,
                                 flags=libc.AT_EMPTY_PATH | (0 if userns_fd is not None else libc.AT_RECURSIVE))
    except BaseException:
        kernel.close(fd)
        raise
    return fd


def detached_overlay(lowerdirs: list[str], upperdir: str, workdir: str, userns_fd: int | None,
                     kernel: Kernel = LINUX, *, plain: int = 0) -> int:
    """The container's root as a detached overlay mount, made with the host's privileges.

    Made outside because overlayfs mounted *inside* a user namespace cannot
    read the trusted.overlay.* attributes of the layers (opaque directories)
    and would need every layer reachable by the remapped root.  With
    ``userns_fd`` each layer is first an idmapped detached mount, named to
    overlayfs as /proc/self/fd/N ("lowerdir+" takes one layer per call,
    top-most first: a long list no longer has to fit in one option).
    """
    opened = []
    try:
        layers = lowerdirs
        if userns_fd is not None:
            layers = list(lowerdirs[:plain])  # the first ``plain`` ones as they are
            for lower in lowerdirs[plain:]:
                opened.append(idmapped_tree(lower, userns_fd, kernel))
                layers.append(f"/proc/self/fd/{opened[-1]}")
        context = kernel.fsopen("overlay")
        opened.append(context)
        try:
            for layer in layers:
                kernel.fsconfig(context, libc.FSCONFIG_SET_STRING, "lowerdir+", layer)
        except libc.SyscallError:  # a kernel before 6.8: one colon-separated option
            kernel.fsconfig(context, libc.FSCONFIG_SET_STRING, "lowerdir", ":".join(layers))
        if upperdir:
            kernel.fsconfig(context, libc.FSCONFIG_SET_STRING, "upperdir", upperdir)
            kernel.fsconfig(context, libc.FSCONFIG_SET_STRING, "workdir", workdir)
        kernel.fsconfig(context, libc.FSCONFIG_CMD_CREATE)
        return kernel.fsmount(context, what="the overlay, detached: attached by the container inside")
    finally:
        for fd in opened:
            kernel.close(fd)  # the overlay holds its own references to its layers


def prepare_mounts(pid: int, spec, kernel: Kernel = LINUX) -> dict[str, int]:
    """Every mount of the container that needs the host's privileges, as detached mounts (the spawner's part).

    Returns descriptors by name: "rootfs" (the overlay), "mountpoint" (where
    to attach it: an O_PATH descriptor, since uid 100000 may not be able to
    walk the data root), "etc:/etc/hosts"..., and "mount:N" for the N-th of
    ``spec.mounts`` that is a bind.  The child attaches them (rootfs.py).
    """
    fds: dict[str, int] = {}
    ns = kernel.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
    try:
        rootfs = spec.rootfs
        idmapped = bool(spec.user_namespace.get("idmapped_layers"))
        # "plain_lowerdirs": how many of the top lowerdirs are the container's own (its upper/,
        # read-only, for ``docker cp`` out of a stopped container): they hold its ids already.
        plain = spec.user_namespace.get("plain_lowerdirs", 0)
        fds["rootfs"] = detached_overlay(rootfs.lowerdirs, rootfs.upperdir, rootfs.workdir, ns if idmapped else None,
                                         kernel, plain=plain)
        # Opened through /proc/PID/root: the child's mount namespace's copy of the directory (a
        # mount can only be attached in the caller's namespace), found with our right to walk there.
        fds["mountpoint"] = kernel.open(f"/proc/{pid}/root{rootfs.mountpoint}", os.O_PATH | os.O_DIRECTORY)
        for destination, source in getattr(spec, "etc_files", {}).items():
            fds[f"etc:{destination}"] = detached_bind(source, rootfs.readonly, kernel)
        for index, mount in enumerate(spec.mounts):
            if mount.type == "bind":
                fds[f"mount:{index}"] = detached_bind(mount.source, mount.readonly, kernel,
                                                      userns_fd=ns if mount.idmap else None)
    except BaseException:
        for fd in fds.values():
            kernel.close(fd)
        raise
    finally:
        kernel.close(ns)
    return fds


# ---------------------------------------------------------------------------
# Does this kernel do idmapped mounts?  (asked once, at daemon start)


def probe_idmapped_mounts(directory: str) -> bool:
    """Whether an idmapped mount of ``directory`` can be made (kernel and file system both must support it).

    A user namespace needs a process to create it: a short-lived helper
    (``python -m nbdock.runtime.userns hold``) unshares one and waits; we
    map it, try, and let it go.  A subprocess, not a fork: the daemon is
    multi-threaded.
    """
    helper = subprocess.Popen([sys.executable, "-m", "nbdock.runtime.userns", "hold"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        if helper.stdout.readline() != b"ready\n":
            return False
        rows = [[0, RANGE_START, RANGE_SIZE]]
        with contextlib.suppress(OSError):
            write_id_maps(helper.pid, {"uid_map": rows, "gid_map": rows})
            ns = open_user_namespace(helper.pid)
            try:
                os.close(idmapped_tree(directory, ns))
                return True
            finally:
                os.close(ns)
        return False
    finally:
        helper.stdin.close()
        helper.wait()


def _hold() -> None:
    LINUX.unshare(libc.CLONE_NEWUSER)
    sys.stdout.buffer.write(b"ready\n")
    sys.stdout.flush()
    sys.stdin.buffer.read()


# ---------------------------------------------------------------------------
# The fallback: a copy of a layer with every owner shifted


def shifted_copy(source: str, target: str, uid_map: list[IdRange], gid_map: list[IdRange]) -> None:
    """Copy the tree ``source`` to ``target`` (which must not exist) with owners moved into the maps.

    Everything is kept: device nodes (overlay's whiteouts are 0/0 character
    devices), hard links, xattrs (trusted.overlay.opaque), times and modes --
    the mode is set again after chown, which clears setuid and setgid bits.
    An id the maps do not cover becomes the overflow id 65534 outside too.
    """
    subprocess.run(["cp", "-a", "--", source, target], check=True, capture_output=True)

    def shift(path: str, st: os.stat_result) -> None:
        uid = to_host(uid_map, st.st_uid)
        gid = to_host(gid_map, st.st_gid)
        os.chown(path, 65534 if uid is None else uid, 65534 if gid is None else gid, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(path, stat.S_IMODE(st.st_mode))
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    seen: set[int] = set()
    for directory, dirs, files in os.walk(target, topdown=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(directory, d))]:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            if st.st_ino in seen:
                continue  # another name of a hard link already shifted
            if st.st_nlink > 1:
                seen.add(st.st_ino)
            shift(path, st)
        shift(directory, os.lstat(directory))


def chown_tree(path: str, uid: int, gid: int) -> None:
    """Give a container's own directory (upper, work, init layer) to the remapped root, recursively."""
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            entry = os.path.join(directory, name)
            st = os.lstat(entry)
            os.chown(entry, uid, gid, follow_symlinks=False)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(entry, stat.S_IMODE(st.st_mode))
    os.chown(path, uid, gid)


if __name__ == "__main__":
    if sys.argv[1:] == ["hold"]:
        _hold()
