"""The one tar extraction routine nbdock uses, built for hostile archives.

Every tar nbdock reads -- image layers, ``docker load`` archives, ``docker
import`` root file systems, build contexts, ``ADD`` archives, ``docker cp``
uploads -- comes from someone else, and a tar can ask for anything: a member
called ``../../etc/cron.d/x`` or ``/etc/shadow``, a symlink ``evil -> /``
followed by a member ``evil/etc/passwd`` that would be written *through* the
link, a hard link to ``/etc/shadow``, a device node giving raw access to a
disk.  Python's ``tarfile.extractall`` trusted all of that for decades.

This module never resolves a path in user space.  For each member it opens
the member's parent directory with ``openat2(2)`` for
:attr:`~nbdock.kernel.saferoot.Purpose.EXTRACT` (``RESOLVE_BENEATH |
RESOLVE_NO_SYMLINKS``): the *kernel* then refuses any path
that would leave the destination or pass through a symlink, even one that
another process (a running container, during ``docker cp``) swaps in while we
work.  The member itself is created relative to that directory descriptor
with the ``*at`` calls and ``O_NOFOLLOW``, so a symlink in the archive is
created as a symlink and never followed.

Member names are read as Docker reads them, extracting in a chroot of the
destination: ``/etc/x`` and ``../../etc/x`` both land at ``etc/x`` inside it.
Refused (the whole extraction fails with :class:`InvalidArgument`): paths
through symlinks, hard links whose target is outside the destination.  Skipped with a warning: character and block
devices (except overlay whiteouts, below) and other member types nbdock has
no use for.

Layers use the *overlay* form (``whiteouts=True``), the form overlayfs reads
in a lowerdir: a ``.wh.NAME`` member becomes a 0/0 character device ``NAME``
and ``.wh..wh..opq`` becomes the ``trusted.overlay.opaque=y`` xattr on its
directory (see :mod:`nbdock.image.layers` for the opposite direction).
"""

from __future__ import annotations

import bz2
import dataclasses
import errno
import gzip
import io
import lzma
import os
import shutil
import stat
import tarfile
import zlib
from typing import BinaryIO

import zstandard

from ..errors import HostError, InvalidArgument
from ..kernel import saferoot

#: A whiteout: "NAME was deleted in this layer" (OCI image-spec, layer.md).
WHITEOUT_PREFIX = ".wh."
#: The opaque marker: "hide everything the lower layers have in this directory".
OPAQUE_MARKER = ".wh..wh..opq"
#: overlayfs marks an opaque directory with this xattr (value "y").
OPAQUE_XATTR = "trusted.overlay.opaque"

#: How much is read and written at a time.  Bigger is slower here, not faster: each read
#: makes a new bytes object, and one of a megabyte is mapped fresh from the kernel and
#: page-faulted in as it is filled (costly in a VM), while 64 KiB ones reuse malloc's heap.
#: Measured: a 20 MB build context unpacks in ~25 ms with 64 KiB, ~100 ms with 1 MiB.
_CHUNK = 1 << 16

# Magic numbers at the start of each compressed stream nbdock accepts.
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


# --- compressed input ------------------------------------------------------------------------------


class _PrefixedReader(io.RawIOBase):
    """A stream that first returns ``prefix`` (bytes already read to sniff the format), then the rest."""

    def __init__(self, prefix: bytes, rest: BinaryIO):
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def decompressed(fileobj: BinaryIO) -> tuple[BinaryIO, str | None]:
    """``fileobj`` as an uncompressed stream, and the compression found (None, gzip, bzip2, xz, zstd).

    The format is recognised by its magic number, as Docker's
    ``DecompressStream`` does: a layer's media type is a claim, the bytes are
    the truth.  Works on streams that cannot seek (an HTTP request body).
    """
    head = b""
    while len(head) < 6:
        more = fileobj.read(6 - len(head))
        if not more:
            break
        head += more
    stream = io.BufferedReader(_PrefixedReader(head, fileobj), _CHUNK)
    for magic, name in _MAGIC:
        if head.startswith(magic):
            if name == "gzip":
                return gzip.GzipFile(fileobj=stream, mode="rb"), name
            if name == "bzip2":
                return bz2.BZ2File(stream), name
            if name == "xz":
                return lzma.LZMAFile(stream), name
            return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True), name
    return stream, None


# --- member names -------------------------------------------------------------------------------------


def clean_name(name: str) -> str:
    """A name that must lie inside the destination, as a relative path without ``.`` parts.

    Raises InvalidArgument for an absolute name or a ``..`` component (used
    for hard-link targets: a link to ``../x`` can only be an attempt to reach
    a file outside).
    """
    if name.startswith("/"):
        raise InvalidArgument(f"refusing tar member {name!r}: absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"refusing tar member {name!r}: path leaves the destination ('..')")
    return "/".join(parts)


def name_in_root(name: str) -> str:
    """A member's name read as if the destination were ``/`` ("" for the root itself).

    Docker extracts in a chroot of the destination, where ``/x`` and
    ``../../x`` both mean ``x`` at the top -- ``..`` cannot climb above the
    root.  The same reading here, done on the string, gives the same files
    for the same archive; the kernel (``RESOLVE_BENEATH`` below) still
    refuses anything that would leave the destination.
    """
    parts: list[str] = []
    for part in name.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


# --- extraction -------------------------------------------------------------------------------------


@dataclasses.dataclass
class ExtractReport:
    """What an extraction did beyond writing files."""

    #: One line per member that was skipped, naming it and saying why.
    warnings: list[str] = dataclasses.field(default_factory=list)
    #: Bytes of content: regular files (a hard-linked file once) plus symlink targets.  This is what
    #: Docker reports as a layer's size.
    content_size: int = 0


def extract(
    fileobj: BinaryIO,
    dest: str | int,
    *,
    whiteouts: bool = False,
    owner: tuple[int, int] | None = None,
    no_overwrite_dir_non_dir: bool = False,
) -> ExtractReport:
    """Extract the tar stream ``fileobj`` (plain or compressed) into the existing directory ``dest``.

    ``dest`` is a path, or an open directory descriptor: ``docker cp`` into
    a container resolves the target inside the container's root first
    (``openat2`` with ``RESOLVE_IN_ROOT``) and hands over the result.

    ``whiteouts``: convert whiteout members to overlay form (for layers);
    otherwise ``.wh.`` members are ordinary files.  ``owner``: give every
    member this (uid, gid) instead of the archive's numeric ids.
    ``no_overwrite_dir_non_dir``: refuse to replace a directory with a
    non-directory or the reverse (what ``docker cp`` asks for).

    Raises InvalidArgument, naming the member, when the archive is corrupt
    or hostile.  What was written before the error stays: callers extract
    into a staging directory and remove it on failure.
    """
    stream, _ = decompressed(fileobj)
    with _Extractor(dest, whiteouts=whiteouts, owner=owner, no_overwrite_dir_non_dir=no_overwrite_dir_non_dir) as ex:
        try:
            # 64 KiB reads (tarfile's default is 10 KiB): every read goes through the decompression
            # and prefix layers below it, so not too small -- and not bigger either (see _CHUNK).
            archive = tarfile.open(fileobj=stream, mode="r|", bufsize=_CHUNK)
            for member in archive:
                ex.add(member, archive)
            ex.finish()
        except tarfile.TarError as exc:
            raise InvalidArgument(f"not a valid tar archive: {exc}") from None
        except _CORRUPT_STREAM as exc:
            raise InvalidArgument(f"corrupt or truncated archive: {exc}") from None
        except OSError as exc:
            if exc.errno is None:  # bz2 reports corrupt data as an OSError without errno
                raise InvalidArgument(f"corrupt archive: {exc}") from None
            raise HostError(f"extracting tar member {ex.current!r}: {exc}") from None
        return ex.report


#: What the decompressors raise on corrupt or truncated input.
_CORRUPT_STREAM = (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, zstandard.ZstdError)


class _Extractor:
    """Creates members one by one below a destination directory descriptor."""

    def __init__(self, dest: str | int, *, whiteouts: bool, owner, no_overwrite_dir_non_dir: bool):
        self.whiteouts = whiteouts
        self.owner = owner
        self.no_overwrite_dir_non_dir = no_overwrite_dir_non_dir
        self.report = ExtractReport()
        if isinstance(dest, int):
            self.root_fd = os.dup(dest)
        else:
            self.root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._parent: tuple[str, int] | None = None  # the last parent directory opened (a small cache)
        self._dir_times: dict[str, tuple[int, int]] = {}  # set last: adding children changes a dir's mtime
        self.current = ""  # the member being extracted, for error messages

    def __enter__(self) -> "_Extractor":
        return self

    def __exit__(self, *exc) -> None:
        self._forget_parent()
        os.close(self.root_fd)

    # Directory descriptors --------------------------------------------------------------------------

    def _open_dir(self, rel: str, flags: int = os.O_PATH) -> int:
        """Open ``rel`` below the root; the kernel refuses symlinks and escapes on the way."""
        try:
            return saferoot.open_in_root(self.root_fd, rel or ".", flags | os.O_DIRECTORY, saferoot.Purpose.EXTRACT)
        except OSError as exc:
            raise _refusal(exc, rel) from None

    def _parent_fd(self, rel_parent: str) -> int:
        if self._parent is None or self._parent[0] != rel_parent:
            self._forget_parent()
            self._make_parents(rel_parent)
            self._parent = (rel_parent, self._open_dir(rel_parent))
        return self._parent[1]

    def _forget_parent(self) -> None:
        if self._parent is not None:
            os.close(self._parent[1])
            self._parent = None

    def _make_parents(self, rel_dir: str) -> None:
        """Create missing parent directories (tars need not list them), never through a symlink."""
        try:
            saferoot.make_dirs_in_root(self.root_fd, rel_dir, saferoot.Purpose.EXTRACT)
        except OSError as exc:
            raise _refusal(exc, rel_dir) from None

    # Members ----------------------------------------------------------------------------------------

    def add(self, member: tarfile.TarInfo, archive: tarfile.TarFile) -> None:
        self.current = member.name
        rel = name_in_root(member.name)
        parent, _, name = rel.rpartition("/")
        if self.whiteouts and name.startswith(WHITEOUT_PREFIX):
            self._add_whiteout(member, parent, name)
            return
        if not rel:
            if member.isdir():  # "./": the root directory's own owner and mode
                self._set_metadata(self.root_fd, "", member, is_dir=True)
            return
        if member.ischr() or member.isblk():
            self.report.warnings.append(f"skipped device node {member.name!r}: device files are not extracted")
            return
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk() or member.isfifo()):
            self.report.warnings.append(f"skipped {member.name!r}: unsupported tar member type {member.type!r}")
            return
        dir_fd = self._parent_fd(parent)
        self._make_room(dir_fd, rel, name, member)
        if member.isdir():
            self._add_dir(dir_fd, rel, name, member)
        elif member.isreg():
            self._add_file(dir_fd, name, member, archive)
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=dir_fd)
            self._set_metadata(dir_fd, name, member, is_dir=False)
            self.report.content_size += len(os.fsencode(member.linkname))
        elif member.islnk():
            self._add_hardlink(dir_fd, rel, name, member)
        else:
            os.mkfifo(name, 0o600, dir_fd=dir_fd)
            self._set_metadata(dir_fd, name, member, is_dir=False)

    def _make_room(self, dir_fd: int, rel: str, name: str, member: tarfile.TarInfo) -> None:
        """Remove what is in the way of a member; a directory meeting a directory is merged into."""
        try:
            existing = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        existing_is_dir = stat.S_ISDIR(existing.st_mode)
        if existing_is_dir and member.isdir():
            return
        if self.no_overwrite_dir_non_dir and existing_is_dir != member.isdir():
            what = "directory" if existing_is_dir else "non-directory"
            raise InvalidArgument(f"cannot overwrite {what} {rel!r} with {'a directory' if member.isdir() else 'a non-directory'}")
        if existing_is_dir:
            # rmtree with dir_fd works on descriptors and never follows a symlink out of the tree.
            self._forget_parent_if_inside(rel)
            shutil.rmtree(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)

    def _forget_parent_if_inside(self, rel: str) -> None:
        if self._parent is not None and (self._parent[0] + "/").startswith(rel + "/"):
            self._forget_parent()

    def _add_dir(self, dir_fd: int, rel: str, name: str, member: tarfile.TarInfo) -> None:
        try:
            os.mkdir(name, 0o700, dir_fd=dir_fd)
        except FileExistsError:
            pass
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            self._set_metadata(fd, "", member, is_dir=True)
        finally:
            os.close(fd)
        self._dir_times[rel] = (int(member.mtime), int(member.mtime))

    def _add_file(self, dir_fd: int, name: str, member: tarfile.TarInfo, archive: tarfile.TarFile) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        try:
            source = archive.extractfile(member)
            remaining = member.size
            while remaining:
                chunk = source.read(min(_CHUNK, remaining))
                if not chunk:
                    raise InvalidArgument(f"tar member {member.name!r} is truncated")
                os.write(fd, chunk)
                remaining -= len(chunk)
            self._set_metadata(fd, "", member, is_dir=False)
        finally:
            os.close(fd)
        self.report.content_size += member.size

    def _add_hardlink(self, dir_fd: int, rel: str, name: str, member: tarfile.TarInfo) -> None:
        try:
            target = clean_name(member.linkname)
        except InvalidArgument:
            raise InvalidArgument(f"refusing hard link {member.name!r} -> {member.linkname!r}: target outside the destination") from None
        target_parent, _, target_name = target.rpartition("/")
        if not target_name:
            raise InvalidArgument(f"refusing hard link {member.name!r} to the destination directory itself")
        target_fd = self._open_dir(target_parent)
        try:
            os.link(target_name, name, src_dir_fd=target_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise InvalidArgument(f"hard link {member.name!r} points to {member.linkname!r}, which is not in the archive") from None
        except PermissionError:
            # The kernel refuses hard links to directories (EPERM).
            raise InvalidArgument(f"refusing hard link {member.name!r} -> {member.linkname!r}: not a regular file") from None
        finally:
            os.close(target_fd)

    def _add_whiteout(self, member: tarfile.TarInfo, parent: str, name: str) -> None:
        """``.wh.NAME`` -> 0/0 character device NAME; ``.wh..wh..opq`` -> the opaque xattr on the directory."""
        if name == OPAQUE_MARKER:
            self._make_parents(parent)
            fd = self._open_dir(parent, os.O_RDONLY)
            try:
                os.setxattr(fd, OPAQUE_XATTR, b"y")
            finally:
                os.close(fd)
            return
        if name.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # other aufs metadata (.wh..wh.plnk, ...): means nothing to overlayfs
        hidden = name[len(WHITEOUT_PREFIX):]
        if hidden in ("", ".", ".."):
            raise InvalidArgument(f"refusing whiteout {member.name!r}: it names no file")
        dir_fd = self._parent_fd(parent)
        try:
            os.unlink(hidden, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            shutil.rmtree(hidden, dir_fd=dir_fd)
        os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dir_fd)
        uid, gid = self.owner or (member.uid, member.gid)
        os.chown(hidden, uid, gid, dir_fd=dir_fd, follow_symlinks=False)

    def _set_metadata(self, fd: int, name: str, member: tarfile.TarInfo, *, is_dir: bool) -> None:
        """Owner, then mode (chown clears set-uid bits), then times.  ``name`` "" means ``fd`` itself."""
        uid, gid = self.owner or (member.uid, member.gid)
        if name:  # a symlink or fifo, relative to its directory
            os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
            if not member.issym():
                os.chmod(name, member.mode & 0o7777, dir_fd=fd)
            os.utime(name, (int(member.mtime), int(member.mtime)), dir_fd=fd, follow_symlinks=False)
            return
        os.fchown(fd, uid, gid)
        os.fchmod(fd, member.mode & 0o7777)
        if not is_dir:
            os.utime(fd, (int(member.mtime), int(member.mtime)))

    def finish(self) -> None:
        """Set directory times last, deepest first, now that nothing will be added to them."""
        self._forget_parent()
        for rel in sorted(self._dir_times, key=lambda r: r.count("/"), reverse=True):
            try:
                fd = self._open_dir(rel, os.O_RDONLY)
            except (InvalidArgument, FileNotFoundError):
                continue  # replaced by a later member
            try:
                os.utime(fd, self._dir_times[rel])
            finally:
                os.close(fd)


def _refusal(exc: OSError, rel: str) -> Exception:
    """What a failure to open (or make) directory ``rel`` below the destination means for the archive."""
    if saferoot.is_refused(exc):
        return InvalidArgument(f"refusing tar member below {rel!r}: the path passes through a symlink")
    if exc.errno == errno.ENOTDIR:
        return InvalidArgument(f"refusing tar member below {rel!r}: {rel!r} is not a directory")
    if exc.errno == errno.ENOENT:
        return FileNotFoundError(errno.ENOENT, "no such directory", rel)
    return exc


def extract_to_new_dir(fileobj: BinaryIO, dest: str, **options) -> ExtractReport:
    """Extract into ``dest``, which must not exist yet; on any failure ``dest`` is removed again."""
    os.mkdir(dest, 0o755)
    try:
        return extract(fileobj, dest, **options)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


__all__ = [
    "extract",
    "extract_to_new_dir",
    "decompressed",
    "clean_name",
    "name_in_root",
    "ExtractReport",
    "WHITEOUT_PREFIX",
    "OPAQUE_MARKER",
    "OPAQUE_XATTR",
]
