"""Reading and writing a container's files from inside its own root (``docker cp``, export, COPY).

A container's file tree is hostile territory for the host: an image may
contain ``/data -> /etc`` or ``../../`` tricks, and a running container can
swap a directory for a symlink at any moment.  Any path the daemon resolved
*on the host* -- even through /proc/<pid>/root -- could be bent to the
host's own files.  So, like Docker (its "chrootarchive" re-executes a helper
inside the container's root), nbdock never resolves container paths itself:
the spawner forks a short-lived helper that

* for a running container, joins its mount namespace (``setns``), which makes
  the container's root the helper's root; or
* for a stopped one, makes a mount namespace of its own, mounts the
  container's overlay (and volumes) there and ``pivot_root``\\ s into it;

and only then touches paths.  An absolute symlink now points inside the
container, ``..`` stops at its root, and every mount the helper made
vanishes with it.

The helper reports results on its "data" pipe (a JSON stat, or a tar
stream) and failures on its "errors" pipe, then exits.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tarfile
from dataclasses import asdict, dataclass, field

# Imported here, not where they are used: once the helper has entered the container's
# root, the host's Python library is out of sight and nothing more can be imported.
from ..image import layers, tarsafe
from ..kernel import libc
from . import namespaces, rootfs, users, userns
from .kernel import LINUX
from .spec import Mount, Rootfs

# Go's os.FileMode type bits, which the Docker API uses in the stat of `docker cp`.
GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27
GO_MODE_DEVICE = 1 << 26
GO_MODE_NAMED_PIPE = 1 << 25
GO_MODE_SOCKET = 1 << 24
GO_MODE_SETUID = 1 << 23
GO_MODE_SETGID = 1 << 22
GO_MODE_CHAR_DEVICE = 1 << 21
GO_MODE_STICKY = 1 << 20


@dataclass
class FsRequest:
    """What the helper should do, and in which root."""

    action: str  # "stat", "get", "put" or "export"
    path: str = "/"
    #: Enter the running container's mount namespace (through the pidfd of its PID 1 that
    #: comes as the "target" channel)...
    in_running_container: bool = False
    #: The container's user namespace (--userns-remap; its spec's ``user_namespace``): a running
    #: container's is entered too, a stopped one's is made for the helper (the spawner writes its
    #: maps and mounts the root, as for a container): files are made and read with the container's ids
    user_namespace: dict = field(default_factory=dict)
    #: ...or mount this root (with these mounts) in a namespace of our own.
    rootfs: Rootfs | None = None
    mounts: list[Mount] = field(default_factory=list)
    #: put: "user[:group]" owning the new files, resolved in the container; "" keeps the archive's ids
    owner: str = ""
    no_overwrite_dir_non_dir: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FsRequest":
        data = dict(data)
        if data.get("rootfs"):
            data["rootfs"] = Rootfs(**data["rootfs"])
        data["mounts"] = [Mount(**m) for m in data.get("mounts", [])]
        return cls(**data)


class FsError(Exception):
    """A failure to report to the daemon.  For kind "not_found" the message is the missing path
    (the daemon words the error: it knows which container the user named)."""

    def __init__(self, message: str, kind: str = "invalid"):
        super().__init__(message)
        self.kind = kind  # "not_found" or "invalid"


def run(request: FsRequest, channels: dict[str, int], ready: int) -> None:
    """The helper's whole life (in a process forked by the spawner; never returns)."""
    try:
        _enter_root(request, channels, ready)
        os.write(ready, b"ready")
        os.close(ready)
        ready = -1
        data = channels["data"]
        if request.action == "stat":
            os.write(data, json.dumps(stat_path(request.path)).encode())
        elif request.action == "get":
            with os.fdopen(data, "wb", closefd=False) as out:
                write_path_tar(request.path, out)
        elif request.action == "export":
            with os.fdopen(data, "wb", closefd=False) as out:
                layers.write_tar("/", out)
        elif request.action == "put":
            with os.fdopen(data, "rb", closefd=False) as source:
                extract_into(request.path, source, request.owner, request.no_overwrite_dir_non_dir)
        else:
            raise FsError(f"unknown file action {request.action!r}")
        os._exit(0)
    except BaseException as e:  # noqa: BLE001 - reported, then _exit
        kind = e.kind if isinstance(e, FsError) else "invalid"
        message = str(e) if isinstance(e, FsError) else f"{type(e).__name__}: {e}"
        target = ready if ready >= 0 else channels.get("errors")
        if target is not None:
            try:
                os.write(target, json.dumps({"message": message, "kind": kind}).encode())
            except OSError:
                pass
        os._exit(1)


def _enter_root(request: FsRequest, channels: dict[str, int], ready: int) -> None:
    if request.in_running_container:
        namespaces.enter(channels["target"], ["user", "mnt"] if request.user_namespace else ["mnt"])
        os.close(channels.pop("target"))
        if request.user_namespace:
            LINUX.setresuid(0, 0, [])  # root of the container (the host's 0 is not mapped in there)
        LINUX.chdir("/")  # entering a mount namespace puts us at its root, the container's
        return
    if request.user_namespace:
        LINUX.unshare(libc.CLONE_NEWUSER | libc.CLONE_NEWNS)  # the user namespace first: it owns the other
        os.write(ready, userns.USERNS)  # -> the spawner writes our maps and makes our mounts
        attached = userns.receive_mounts(channels.pop("control"))
        userns.become_root_inside()
        rootfs.pivot(rootfs.attach_prepared(request.rootfs.mountpoint, request.mounts, attached))
        return
    LINUX.unshare(libc.CLONE_NEWNS)
    rootfs.make_mounts_private()
    rootfs.mount_overlay(request.rootfs)
    for mount in request.mounts:
        rootfs.bind_mount(request.rootfs.mountpoint, mount)
    rootfs.pivot(request.rootfs.mountpoint)


# ---------------------------------------------------------------------------
# The actions, run with the container's root as "/"


def go_file_mode(st: os.stat_result) -> int:
    """A stat result as Go's os.FileMode: permission bits plus Go's own type bits."""
    mode = stat.S_IMODE(st.st_mode) & 0o777
    kind = stat.S_IFMT(st.st_mode)
    mode |= {stat.S_IFDIR: GO_MODE_DIR, stat.S_IFLNK: GO_MODE_SYMLINK, stat.S_IFIFO: GO_MODE_NAMED_PIPE,
             stat.S_IFSOCK: GO_MODE_SOCKET, stat.S_IFBLK: GO_MODE_DEVICE,
             stat.S_IFCHR: GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE}.get(kind, 0)
    if st.st_mode & stat.S_ISUID:
        mode |= GO_MODE_SETUID
    if st.st_mode & stat.S_ISGID:
        mode |= GO_MODE_SETGID
    if st.st_mode & stat.S_ISVTX:
        mode |= GO_MODE_STICKY
    return mode


def stat_path(path: str) -> dict:
    """The X-Docker-Container-Path-Stat of ``docker cp``: name, size, mode, mtime (Unix time), linkTarget."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise FsError(path, "not_found") from None
    except NotADirectoryError:
        raise FsError(path, "not_found") from None
    link_target = ""
    if stat.S_ISLNK(st.st_mode):
        link_target = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
    name = os.path.basename(path.rstrip("/")) or "/"
    return {"name": name, "size": st.st_size, "mode": go_file_mode(st), "mtime": st.st_mtime, "linkTarget": link_target}


def write_path_tar(path: str, out) -> None:
    """A tar of ``path`` (recursively; symlinks as symlinks) whose top member is its base name.

    ``/dir/.`` names the directory's *content*: its members are "./x" (the
    docker CLI uses this for ``docker cp c:/dir/. dest``).
    """
    if not os.path.lexists(path):
        raise FsError(path, "not_found")
    arcname = "." if path.endswith("/.") else os.path.basename(os.path.normpath(path)) or "."
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        archive.add(path, arcname=arcname, recursive=True)


def extract_into(path: str, source, owner: str, no_overwrite_dir_non_dir: bool) -> None:
    """Unpack a tar stream into the existing directory ``path`` (``docker cp`` into a container, COPY)."""
    if not os.path.isdir(path):
        if not os.path.exists(path):
            raise FsError(path, "not_found")
        raise FsError("extraction point is not a directory")
    ids = None
    if owner:
        try:
            user = users.resolve(owner)
        except users.UserLookupError as e:
            raise FsError(str(e)) from None
        ids = (user.uid, user.gid)
    try:
        tarsafe.extract(source, path, owner=ids, no_overwrite_dir_non_dir=no_overwrite_dir_non_dir)
    except OSError as e:
        if e.errno == errno.EROFS:
            raise FsError("container rootfs is marked read-only") from None
        raise

