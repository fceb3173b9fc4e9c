"""COPY, ADD and WORKDIR: the files one build step adds, planned and written as a new layer.

Docker runs these steps on a fresh read-write layer over the image (for
WORKDIR, the layer of a container it never starts) and commits the layer's
changes.  We do the same in two phases:

1. **Plan** (:class:`LayerPlan`): decide every entry the layer gets, judging
   paths against the merged view of the image below *and* the entries
   planned so far -- so the second source of a COPY sees the first.  The
   rules are those of Docker's classic builder:

   * the destination is resolved inside the image, symlinks followed
     (``COPY x /app/`` with ``/app -> /srv`` writes ``/srv/x``);
   * a file goes *into* the destination if it ends with ``/`` or is an
     existing directory, else it *becomes* the destination;
   * a directory's *contents* are copied (never the directory itself), its
     symlinks copied as symlinks and its hard links kept;
   * missing parent directories are created with mode 0755 (owned by the
     ``--chown`` user for a single file); existing ones keep their owner and
     mode, except where a copied directory lands on one;
   * files keep their permission bits and modification time and belong to
     root, or to the ``--chown`` user; ``COPY --from`` without ``--chown``
     and ADD's unpacked archives keep the owners they had.

   Every directory of the image that gets a new child is *copied up* first
   (an entry with the image's own owner, mode and time), as overlayfs does
   when a process writes into a lower directory.

2. **Write** (:meth:`LayerPlan.write`): the plan becomes a tar stream and
   :mod:`nbdock.image.tarsafe` unpacks it into the layer's directory: the
   only code that creates files is the one hardened against hostile trees.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import posixpath
import re
import stat
import tarfile
import threading
import time
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import InvalidArgument
from ..image import tarsafe
from . import rootview
from .rootview import RootView, kind_of
from .sources import CopySource

ROOT = (0, 0)
_CHUNK = 1 << 20
_TAR_BLOCK = 512


@dataclass
class Entry:
    """One entry of the planned layer."""

    path: str  # relative to the image root
    kind: str  # "dir", "file", "symlink", "hardlink" or "fifo"
    mode: int  # permission bits, set-id and sticky bits included
    uid: int
    gid: int
    mtime: int
    content: tuple[RootView, str] | None = None  # where a file's bytes are
    linkname: str = ""  # a symlink's target; for a hard link, the path of the entry it links to


class LayerPlan:
    """The entries of a new layer over ``below`` (an image, or nothing for ``FROM scratch``)."""

    def __init__(self, below: RootView):
        self.below = below
        self.entries: dict[str, Entry] = {}  # in the order they go into the tar: parents first

    # The merged view: planned entries over the image -------------------------------------------------

    def kind(self, path: str) -> str | None:
        if not path:
            return "dir"
        parts = path.split("/")
        for depth in range(1, len(parts)):
            above = self.entries.get("/".join(parts[:depth]))
            if above is not None and above.kind != "dir":
                return None  # a planned file hides whatever the image has below that name
        if path in self.entries:
            kind = self.entries[path].kind
            return "file" if kind == "hardlink" else kind
        return self.below.kind(path)

    def readlink(self, path: str) -> str:
        if path in self.entries:
            return self.entries[path].linkname
        return self.below.readlink(path)

    def resolve(self, path: str) -> str:
        return rootview.resolve(self, path)

    # Planning ------------------------------------------------------------------------------------------

    def make_dirs(self, path: str, owner: tuple[int, int]) -> None:
        """``mkdir -p``: missing directories are created 0755 for ``owner``; existing ones stay as they are."""
        parts = path.split("/") if path else []
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            kind = self.kind(prefix)
            if kind is None:
                self.add(Entry(prefix, "dir", 0o755, *owner, int(time.time())))
            elif kind != "dir":
                raise InvalidArgument(f"mkdir /{prefix}: not a directory")

    def add(self, entry: Entry) -> None:
        """Plan ``entry``: a directory meeting a directory takes its place's metadata; anything else replaces.

        Its parent directories must exist; those of the image are copied up.
        """
        self._copy_up_parents(entry.path)
        if entry.kind == "dir" and self.kind(entry.path) == "dir":
            self.entries[entry.path] = entry  # keeps its place if it was planned already
            return
        replaced = self.entries.pop(entry.path, None)
        if replaced is not None and replaced.kind == "dir":  # what was planned inside it goes too
            for planned in [path for path in self.entries if path.startswith(entry.path + "/")]:
                del self.entries[planned]
        self.entries[entry.path] = entry  # last: after its parents, in the tar

    def _copy_up_parents(self, path: str) -> None:
        """Plan the image's directories above ``path`` with their own owner, mode and time, as overlayfs
        copies a directory up when something is created in it."""
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/".join(parts[:depth])
            if parent not in self.entries:
                st = self.below.lstat(parent)
                if st is None or not stat.S_ISDIR(st.st_mode):
                    raise InvalidArgument(f"/{parent} is not a directory")
                mode = stat.S_IMODE(st.st_mode)
                self.entries[parent] = Entry(parent, "dir", mode, st.st_uid, st.st_gid, int(st.st_mtime))

    def copy_file(self, view: RootView, source: str, dest: str, owner: tuple[int, int] | None) -> None:
        """One file (or fifo) to the path ``dest``, its parents made for ``owner`` (root when None)."""
        st = view.lstat(source)
        self.make_dirs(dest.rpartition("/")[0], owner or ROOT)
        uid, gid = owner or (st.st_uid, st.st_gid)
        if stat.S_ISFIFO(st.st_mode):
            self.add(Entry(dest, "fifo", stat.S_IMODE(st.st_mode), uid, gid, int(st.st_mtime)))
        else:
            self.add(Entry(dest, "file", stat.S_IMODE(st.st_mode), uid, gid, int(st.st_mtime), content=(view, source)))

    def copy_tree(self, view: RootView, source: str, dest: str, owner: tuple[int, int] | None) -> None:
        """The contents of directory ``source`` into directory ``dest`` (created 0755 if missing).

        With an ``owner`` everything copied belongs to it, and so does
        ``dest`` if this created it; without one, entries keep their owners.
        """
        existed = self.kind(dest) == "dir"
        self.make_dirs(dest, ROOT)
        if owner and dest and not existed:
            self.entries[dest].uid, self.entries[dest].gid = owner
        first_link: dict[tuple[int, int], str] = {}  # (device, inode) -> where that file was planned
        for path, st in view.walk(source):
            if path == source:
                continue
            target = posixpath.join(dest, path[len(source):].lstrip("/"))
            uid, gid = owner or (st.st_uid, st.st_gid)
            kind = kind_of(st.st_mode)
            common = dict(mode=stat.S_IMODE(st.st_mode), uid=uid, gid=gid, mtime=int(st.st_mtime))
            if kind == "dir":
                self.add(Entry(target, "dir", **common))
            elif kind == "symlink":
                self.add(Entry(target, "symlink", linkname=view.readlink(path), **common))
            elif kind == "file" and st.st_nlink > 1 and (st.st_dev, st.st_ino) in first_link:
                self.add(Entry(target, "hardlink", linkname=first_link[(st.st_dev, st.st_ino)], **common))
            elif kind == "file":
                first_link[(st.st_dev, st.st_ino)] = target
                self.add(Entry(target, "file", content=(view, path), **common))
            elif stat.S_ISFIFO(st.st_mode):
                self.add(Entry(target, "fifo", **common))
            # devices and sockets: a build context or image layer cannot hold them

    # Writing ---------------------------------------------------------------------------------------------

    def write(self, layer_dir: str) -> None:
        """Create the planned entries in ``layer_dir`` (an empty directory, or a container's upper one).

        A writer thread turns the plan into a tar stream; tarsafe unpacks it
        as it comes, refusing anything that would leave ``layer_dir``.
        """
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        writer_failure: list[BaseException] = []

        def produce() -> None:
            try:
                with open(write_end, "wb", buffering=_CHUNK) as out:
                    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
                        for entry in self.entries.values():
                            _add_to_tar(archive, entry)
            except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
                writer_failure.append(error)

        writer = threading.Thread(target=produce, name="layer-plan-writer")
        writer.start()
        try:
            with open(read_end, "rb", buffering=_CHUNK) as stream:
                tarsafe.extract(stream, layer_dir)
        except BaseException:
            writer.join()
            if writer_failure and not isinstance(writer_failure[0], BrokenPipeError):
                raise writer_failure[0] from None  # the real cause: the tar was cut short by it
            raise
        writer.join()
        if writer_failure:
            raise writer_failure[0]


def _add_to_tar(archive: tarfile.TarFile, entry: Entry) -> None:
    info = tarfile.TarInfo(entry.path)
    info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, entry.mtime
    if entry.kind == "file":
        view, path = entry.content
        with view.open(path) as content:
            info.size = os.fstat(content.fileno()).st_size
            archive.addfile(info, content)
        return
    info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                 "fifo": tarfile.FIFOTYPE}[entry.kind]
    info.linkname = entry.linkname
    archive.addfile(info)


# ---------------------------------------------------------------------------
# COPY and ADD


def normalize_dest(workdir: str, dest: str) -> str:
    """A relative destination is relative to WORKDIR; a trailing ``/`` (meaning "into") is kept."""
    if dest.startswith("/"):
        return dest
    joined = "/" + posixpath.normpath(posixpath.join("/", workdir, dest)).lstrip("/")
    return joined + "/" if dest.endswith("/") and joined != "/" else joined


def write_copy(layer_dir: str, image: RootView, sources: list[CopySource], dest: str, *, chown: str,
               keep_owners: bool, unpack_dir: str | None) -> None:
    """A whole COPY or ADD (``unpack_dir`` given) into the new layer ``layer_dir`` over ``image``.

    Files belong to the ``--chown`` user, else to root -- or keep their
    owners (``keep_owners``: COPY --from without --chown).
    """
    owner = parse_chown(chown, image) if chown else (None if keep_owners else ROOT)
    plan = LayerPlan(image)
    try:
        plan_sources(plan, sources, dest, owner, unpack_dir)
    except InvalidArgument as error:
        raise InvalidArgument(f"failed to copy files: {error.message}") from None
    plan.write(layer_dir)


def plan_sources(plan: LayerPlan, sources: list[CopySource], dest: str, owner: tuple[int, int] | None,
                 unpack_dir: str | None = None) -> None:
    """Plan a COPY (``unpack_dir`` None) or ADD of ``sources`` to the normalized ``dest``.

    ADD unpacks local tar archives (plain, gzip, bzip2 or xz) into the
    destination: they are first extracted by tarsafe under ``unpack_dir``,
    then copied like a directory, keeping the archive's owners.
    """
    for number, source in enumerate(sources):
        target = plan.resolve(dest)
        view = source.tree.view
        if source.is_dir:
            plan.copy_tree(view, source.resolved, target, owner)
        elif unpack_dir is not None and source.unpack and view.kind(source.resolved) == "file" \
                and is_tar_archive(view, source.resolved):
            unpacked = os.path.join(unpack_dir, f"archive-{number}")
            with view.open(source.resolved) as archive:
                tarsafe.extract_to_new_dir(archive, unpacked)
            plan.copy_tree(RootView([unpacked]), "", target, None)
        else:
            if dest.endswith("/") or plan.kind(target) == "dir":
                target = posixpath.join(target, posixpath.basename(source.path))
            plan.copy_file(view, source.resolved, target, owner)


def is_tar_archive(view: RootView, path: str) -> bool:
    """Whether ADD unpacks this file: a tar, maybe compressed, whose first header reads.

    The formats are those of Docker 20.10: gzip, bzip2, xz (not zstd).
    """
    with view.open(path) as file:
        head = file.read(6)
        file.seek(0)
        stream: BinaryIO = file
        if head.startswith(b"\x1f\x8b"):
            stream = gzip.GzipFile(fileobj=file)
        elif head.startswith(b"BZh"):
            stream = bz2.BZ2File(file)
        elif head.startswith(b"\xfd7zXZ\x00"):
            stream = lzma.LZMAFile(file)
        try:
            block = stream.read(_TAR_BLOCK)
            tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except (tarfile.HeaderError, OSError, EOFError, lzma.LZMAError):
            return False
        return True


# ---------------------------------------------------------------------------
# --chown


def parse_chown(spec: str, image: RootView) -> tuple[int, int]:
    """``--chown=user[:group]`` as numbers, names looked up in the image's /etc/passwd and /etc/group.

    Docker's rule: without a group, the *user* string is used as the group
    too (``--chown=1000`` is 1000:1000; ``--chown=nobody`` needs a group
    called nobody).
    """
    parts = spec.split(":")
    if len(parts) > 2:
        raise InvalidArgument(f"invalid chown string format: {spec}")
    user, group = parts[0], parts[-1]
    prefix = "unable to convert uid/gid chown string to host mapping: "
    try:
        uid = _lookup_id(user, image, "etc/passwd", "user")
    except InvalidArgument as error:
        raise InvalidArgument(f"{prefix}can't find uid for user {user}: {error.message}") from None
    try:
        gid = _lookup_id(group, image, "etc/group", "group")
    except InvalidArgument as error:
        raise InvalidArgument(f"{prefix}can't find gid for group {group}: {error.message}") from None
    return uid, gid


def _lookup_id(name: str, image: RootView, database: str, what: str) -> int:
    """A number as it is, or the third field of the line named ``name`` in the image's passwd/group file."""
    if re.fullmatch(r"[+-]?[0-9]+", name):
        return int(name)
    path = image.resolve(database)
    if image.kind(path) != "file":
        raise InvalidArgument(f"open /{database}: no such file or directory")
    with image.open(path) as file:
        for line in file.read().decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
                return int(fields[2])
    raise InvalidArgument(f"no such {what}: {name}")
