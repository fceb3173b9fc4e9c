"""Layers: a directory tree turned into a tar, and a container's changes read from its upper directory.

A container's writes land in its overlay *upper* directory.  overlayfs
records there, in its own way, what the container did:

* a new or modified file is simply a file in the upper directory;
* a deleted file is a **character device 0/0** with the deleted file's name
  (a "whiteout"): it hides the lower file;
* a directory that was deleted and created again carries the xattr
  **trusted.overlay.opaque = "y"**: it hides everything the lower layers had
  below it.

Image layers (OCI image-spec ``layer.md``) say the same thing with plain tar
members, so that any tool on any file system can carry them: a whiteout is
an empty file ``.wh.NAME``, an opaque directory gets an extra empty member
``.wh..wh..opq``.  :func:`write_layer_tar` translates upper -> tar, and
:mod:`nbdock.image.tarsafe` translates tar -> overlay form when a layer is
unpacked.

Tars are written deterministically, so that the same tree always gives the
same bytes and therefore the same DiffID: entries in byte order of their
names (parents first), PAX format, numeric uid/gid without user names,
modification times in whole seconds, no access or change times.
"""

from __future__ import annotations

import os
import stat
import tarfile
from typing import BinaryIO, Iterator

from .tarsafe import OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX

_BLOCK = 512
_CHUNK = 1 << 20
#: A tar ends with two empty 512-byte blocks.  (Python's tarfile would pad further, to a 10 KiB
#: record; Go's archive/tar, which Docker uses, does not -- and an empty layer must hash to
#: Docker's empty-layer DiffID, the sha256 of exactly these 1024 zero bytes.)
END_OF_ARCHIVE = b"\0" * (2 * _BLOCK)


def is_whiteout(st: os.stat_result) -> bool:
    """overlayfs's mark of a deleted file: a character device with device number 0/0."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    """Whether the directory ``path`` hides everything below it in lower layers."""
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


# --- writing tars ---------------------------------------------------------------------------------


def ustar_header(info: tarfile.TarInfo) -> bytes | None:
    """The 512-byte header tarfile would write for ``info``, or None when it would need a PAX extension.

    A commit writes thousands of headers; building the common case here is
    several times faster than ``TarInfo.tobuf``, and the bytes are the same
    (a test holds them equal), so the DiffID does not depend on which path ran.
    """
    name = info.name + "/" if info.type == tarfile.DIRTYPE and not info.name.endswith("/") else info.name
    fields = (info.uid, info.gid, info.size, info.mtime)
    if not (name.isascii() and info.linkname.isascii() and len(name) <= 100 and len(info.linkname) <= 100):
        return None
    if not (0 <= info.uid < 8**7 and 0 <= info.gid < 8**7 and 0 <= info.size < 8**11 and 0 <= info.mtime < 8**11):
        return None
    if any(isinstance(value, float) for value in fields):
        return None
    devices = b"\0" * 16
    if info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        if not (0 <= info.devmajor < 8**7 and 0 <= info.devminor < 8**7):
            return None
        devices = b"%07o\0%07o\0" % (info.devmajor, info.devminor)
    header = bytearray(
        name.encode().ljust(100, b"\0")
        + b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (info.mode & 0o7777, info.uid, info.gid, info.size, info.mtime)
        + b"        "  # the checksum, counted as spaces while it is computed
        + info.type
        + info.linkname.encode().ljust(100, b"\0")
        + tarfile.POSIX_MAGIC
        + b"\0" * 64  # user and group names: none, ids are numeric
        + devices
    ).ljust(tarfile.BLOCKSIZE, b"\0")
    header[148:155] = b"%06o\0" % sum(header)
    return bytes(header)


class _TarWriter:
    """Writes members to a stream: header blocks from tarfile, file contents copied by us."""

    def __init__(self, out: BinaryIO, ids=None):
        self.out = out
        #: (uid, gid) on disk -> (uid, gid) in the tar; None keeps them (see write_layer_tar)
        self.ids = ids
        self.content_size = 0  # regular files (each inode once) + symlink targets: Docker's layer size
        self._first_name_of_inode: dict[tuple[int, int], str] = {}
        self._buffer = bytearray(_CHUNK)
        self._view = memoryview(self._buffer)
        self._small = bytearray()  # headers and padding not yet written

    def add(self, path: str, name: str, st: os.stat_result) -> None:
        """Add the file at ``path`` (already lstat-ed as ``st``) as member ``name``."""
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.mtime = int(st.st_mtime)
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(path)
            self.content_size += len(os.fsencode(info.linkname))
        elif stat.S_ISREG(st.st_mode):
            inode = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and inode in self._first_name_of_inode:
                info.type = tarfile.LNKTYPE
                info.linkname = self._first_name_of_inode[inode]
            else:
                if st.st_nlink > 1:
                    self._first_name_of_inode[inode] = name
                info.size = st.st_size
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
        else:
            return  # sockets live only as long as their process: Docker leaves them out too
        self.add_info(info)
        if info.size:
            self._copy_contents(path, info.size)
            self.content_size += info.size

    def add_info(self, info: tarfile.TarInfo) -> None:
        info.uname = info.gname = ""
        if self.ids is not None:
            info.uid, info.gid = self.ids(info.uid, info.gid)
        self._small += ustar_header(info) or info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")

    def _write(self, data) -> None:
        """Write, after the small pieces (headers, padding) gathered so far: one call instead of three."""
        if self._small:
            self.out.write(bytes(self._small))
            self._small.clear()
        self.out.write(data)

    def _copy_contents(self, path: str, size: int) -> None:
        """Exactly ``size`` bytes: a file that grows or shrinks meanwhile must not corrupt the tar.

        One buffer is reused for every read: allocating a fresh megabyte per
        read costs the kernel a page fault per 4 KiB, more than the copy itself.
        """
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            remaining = size
            while remaining:
                want = min(len(self._buffer), remaining)
                got = os.readv(fd, [self._view[:want]])
                if not got:  # the file shrank: pad with zeros to the size the header promised
                    self._view[:want] = bytes(want)
                    got = want
                self._write(self._view[:got])
                remaining -= got
        finally:
            os.close(fd)
        self._small += bytes(-size % _BLOCK)

    def close(self) -> None:
        self._write(END_OF_ARCHIVE)


def walk_tree(root: str, rel: str = "") -> Iterator[tuple[str, str, os.stat_result]]:
    """(path, member name, lstat) for everything below ``root``, parents first, in byte order of names."""
    directory = os.path.join(root, rel) if rel else root
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: os.fsencode(e.name))
    for entry in entries:
        name = f"{rel}/{entry.name}" if rel else entry.name
        st = entry.stat(follow_symlinks=False)
        yield entry.path, name, st
        if stat.S_ISDIR(st.st_mode):
            yield from walk_tree(root, name)


def write_tar(root_dir: str, fileobj: BinaryIO) -> int:
    """Write the tree below ``root_dir`` as a tar (``docker export`` of a merged root).  Returns its content size."""
    writer = _TarWriter(fileobj)
    for path, name, st in walk_tree(root_dir):
        writer.add(path, name, st)
    writer.close()
    return writer.content_size


def write_layer_tar(upper_dir: str, fileobj: BinaryIO, ids=None) -> int:
    """Write an overlay upper directory as an image layer tar, whiteouts as ``.wh.`` members.

    ``ids(uid, gid) -> (uid, gid)`` translates owners from disk to the tar:
    a container of a ``--userns-remap`` daemon wrote its files as 100000...,
    and its image must say 0... as it saw them.
    Returns the layer's content size (what ``docker history`` shows).
    """
    writer = _TarWriter(fileobj, ids)
    for path, name, st in walk_tree(upper_dir):
        if is_whiteout(st):
            head, _, base = name.rpartition("/")
            info = tarfile.TarInfo(f"{head}/{WHITEOUT_PREFIX}{base}" if head else WHITEOUT_PREFIX + base)
            info.mode, info.uid, info.gid, info.mtime = 0o600, st.st_uid, st.st_gid, int(st.st_mtime)
            writer.add_info(info)
            continue
        writer.add(path, name, st)
        if stat.S_ISDIR(st.st_mode) and is_opaque(path):
            marker = tarfile.TarInfo(f"{name}/{OPAQUE_MARKER}")
            marker.mode, marker.uid, marker.gid, marker.mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, 0
            writer.add_info(marker)
    writer.close()
    return writer.content_size


def content_size(layer_dir: str) -> int:
    """A layer's size as Docker counts it: regular files (each inode once) plus symlink targets."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for path, _, st in walk_tree(layer_dir):
        if stat.S_ISLNK(st.st_mode):
            total += len(os.fsencode(os.readlink(path)))
        elif stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


# --- reading changes ------------------------------------------------------------------------------


class LowerView:
    """The merged view of read-only layers (top-most first), computed the way overlayfs merges them.

    A name in a layer hides the same name in the layers below, unless both
    are directories (their contents merge); a whiteout hides it without
    showing anything; an opaque directory stops the merge below it.
    """

    def __init__(self, lowerdirs: list[str]):
        self.lowerdirs = list(lowerdirs)
        self._layers_of_dir: dict[str, list[str]] = {"": self.lowerdirs}

    def _dir_layers(self, rel_dir: str) -> list[str]:
        """The layers whose copy of directory ``rel_dir`` shows through in the merge, top-most first."""
        if rel_dir not in self._layers_of_dir:
            parent, _, name = rel_dir.rpartition("/")
            found: list[str] = []
            for layer in self._dir_layers(parent):
                path = os.path.join(layer, rel_dir)
                try:
                    st = os.lstat(path)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    break  # a whiteout or a file hides this name in every layer below
                found.append(layer)
                if is_opaque(path):
                    break
            self._layers_of_dir[rel_dir] = found
        return self._layers_of_dir[rel_dir]

    def lookup(self, rel: str) -> os.stat_result | None:
        """The lstat of ``rel`` as the merged lower layers show it, or None if it is not there."""
        parent, _, _ = rel.rpartition("/")
        for layer in self._dir_layers(parent):
            try:
                st = os.lstat(os.path.join(layer, rel))
            except (FileNotFoundError, NotADirectoryError):
                continue
            return None if is_whiteout(st) else st
        return None

    def children(self, rel_dir: str) -> list[str]:
        """Names visible in directory ``rel_dir`` of the merged lower layers, sorted."""
        names: dict[str, bool] = {}  # name -> visible (the top-most occurrence decides)
        for layer in self._dir_layers(rel_dir):
            with os.scandir(os.path.join(layer, rel_dir)) as it:
                for entry in it:
                    if entry.name not in names:
                        names[entry.name] = not is_whiteout(entry.stat(follow_symlinks=False))
        return sorted((n for n, visible in names.items() if visible), key=os.fsencode)


def _differs(old: os.stat_result, new: os.stat_result) -> bool:
    """Docker's test of "changed": mode, owner, device; for non-directories also size and mtime.

    A directory's size and mtime change whenever an entry is added or
    removed, which says nothing about the directory itself (moby issue 9874).
    """
    if (old.st_mode, old.st_uid, old.st_gid, old.st_rdev) != (new.st_mode, new.st_uid, new.st_gid, new.st_rdev):
        return True
    if stat.S_ISDIR(new.st_mode):
        return False
    return old.st_size != new.st_size or old.st_mtime_ns != new.st_mtime_ns


def changes_from_upper(upper_dir: str, lowerdirs: list[str]) -> list[tuple[str, str]]:
    """A container's changes, as ``docker diff`` shows them: [("/path", "A"|"C"|"D"), ...].

    ``lowerdirs`` are the image's layer directories, top-most first.  A file
    is Added if the lower layers do not have it, Changed if they do and it
    differs, Deleted for a whiteout, and for each lower entry an opaque
    directory hides.  A directory that holds changes shows as Changed,
    before its entries (Docker records the parent so that save and restore
    keep its permissions).  Order: depth first, names in byte order.
    """
    return _changes(upper_dir, LowerView(lowerdirs), "")


def _changes(upper_dir: str, lower: LowerView, rel_dir: str) -> list[tuple[str, str]]:
    changes: list[tuple[str, str]] = []
    directory = os.path.join(upper_dir, rel_dir)
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: os.fsencode(e.name))
    for entry in entries:
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        st = entry.stat(follow_symlinks=False)
        below = lower.lookup(rel)
        if is_whiteout(st):
            if below is not None:
                changes.append(("/" + rel, "D"))
            continue
        if below is None:
            changes.append(("/" + rel, "A"))
            if stat.S_ISDIR(st.st_mode):
                changes.extend(_changes(upper_dir, lower, rel))
            continue
        if not stat.S_ISDIR(st.st_mode):
            if _differs(below, st):
                changes.append(("/" + rel, "C"))
            continue
        inner = _changes(upper_dir, lower, rel)
        if stat.S_ISDIR(below.st_mode) and is_opaque(entry.path):
            present = set(os.listdir(entry.path))
            inner += [(f"/{rel}/{name}", "D") for name in lower.children(rel) if name not in present]
        if inner or _differs(below, st):
            changes.append(("/" + rel, "C"))
        changes.extend(inner)
    return changes


__all__ = [
    "END_OF_ARCHIVE",
    "LowerView",
    "changes_from_upper",
    "content_size",
    "is_opaque",
    "is_whiteout",
    "write_layer_tar",
    "walk_tree",
    "write_tar",
]
