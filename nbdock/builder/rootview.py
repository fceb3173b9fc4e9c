"""A root file system read from the host, the way a container would see it.

COPY and ADD read files from a build context or from an image (``COPY
--from``), and write into an image.  Both are directory trees full of
symlinks that someone else made: ``/app -> /etc`` in an image, ``data ->
../../..`` in a context.  Following such a link *on the host* would read or
write the host's own files.  So nbdock never lets the host's kernel follow
them: a :class:`RootView` looks entries up with ``lstat``, reads link
targets with ``readlink``, and resolves a path itself, the way Docker's
``FollowSymlinkInScope`` does -- an absolute target starts again at the
view's root, and ``..`` never climbs above it.  Files are then opened for
:attr:`nbdock.kernel.saferoot.Purpose.RESOLVED` (``openat2`` with
``RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS``), so even a path that resolution
got wrong could not leave the view.

An image is a stack of layer directories; the view merges them the way
overlayfs does (the merge itself is :class:`nbdock.image.layers.LowerView`).
A build context is a view with a single layer.

Paths in a view are relative and slash-separated: ``""`` is the root,
``"etc/passwd"`` a file in it.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from typing import BinaryIO, Protocol

from ..errors import InvalidArgument
from ..image.layers import LowerView, is_whiteout
from ..kernel import saferoot

#: How many symlinks one resolution may follow (Docker's limit too).
MAX_SYMLINKS = 255


class _MergedLayers(LowerView):
    """The overlayfs merge of :class:`LowerView`, plus which layer an entry comes from."""

    def holder(self, path: str) -> str | None:
        """The layer directory whose entry at ``path`` shows in the merged view (None: nothing there)."""
        parent = path.rpartition("/")[0]
        for layer in self._dir_layers(parent):
            try:
                st = os.lstat(os.path.join(layer, path))
            except (FileNotFoundError, NotADirectoryError):
                continue
            return None if is_whiteout(st) else layer
        return None


class TreeView(Protocol):
    """What path resolution needs to know about a tree."""

    def kind(self, path: str) -> str | None:
        """The kind of entry at ``path``: "dir", "file", "symlink" or "other"; None if nothing is there."""

    def readlink(self, path: str) -> str:
        """The target of the symlink at ``path``."""


def clean(path: str) -> str:
    """``path`` made relative to the root and cleaned: ``/a/./b//c/`` -> ``a/b/c``; ``..`` stops at the root."""
    return posixpath.normpath("/" + path).lstrip("/") if path.strip("/") else ""


def escapes_root(path: str) -> bool:
    """Whether a relative path climbs out of its root (``../x``, ``a/../../x``) before any link is read."""
    depth = 0
    for part in path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def resolve(view: TreeView, path: str) -> str:
    """``path`` with every symlink in it followed, without leaving the view's root.

    Components that do not exist are kept as they are (a COPY may create
    them).  The last component is followed too, if it is a link.
    """
    resolved: list[str] = []
    pending = clean(path).split("/") if clean(path) else []
    links = 0
    while pending:
        name = pending.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = "/".join(resolved + [name])
        if view.kind(candidate) != "symlink":
            resolved.append(name)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise InvalidArgument(f"too many links in /{clean(path)}")
        target = view.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending = target.split("/") + pending
    return "/".join(resolved)


def kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


class RootView:
    """A directory tree on the host (one directory, or image layers merged), read without following links."""

    def __init__(self, layer_dirs: list[str]):
        """``layer_dirs``: top-most first, as overlayfs lists lowerdirs.  Empty for ``FROM scratch``."""
        self.layers = _MergedLayers(layer_dirs)

    # Looking entries up ------------------------------------------------------------------------------

    def lstat(self, path: str) -> os.stat_result | None:
        path = clean(path)
        if not path:
            return os.lstat(self.layers.lowerdirs[0]) if self.layers.lowerdirs else None
        return self.layers.lookup(path)

    def kind(self, path: str) -> str | None:
        if not clean(path):
            return "dir"  # the root is a directory, even in an empty image
        st = self.lstat(path)
        return None if st is None else kind_of(st.st_mode)

    def readlink(self, path: str) -> str:
        layer = self._layer_holding(clean(path))
        return os.readlink(os.path.join(layer, clean(path)))

    def children(self, path: str) -> list[str]:
        """The names in directory ``path``, sorted by their bytes as Go's filepath.Walk sorts them."""
        return self.layers.children(clean(path))

    def walk(self, path: str):
        """``path`` and everything below it, parents first, as (relative path, lstat); links are not followed."""
        path = clean(path)
        st = self.lstat(path)
        if st is None:
            return
        yield path, st
        if stat.S_ISDIR(st.st_mode):
            for name in self.children(path):
                yield from self.walk(posixpath.join(path, name))

    # Reading files ---------------------------------------------------------------------------------------

    def open(self, path: str) -> BinaryIO:
        """The regular file at ``path``, opened for reading; the kernel refuses any symlink on the way."""
        path = clean(path)
        layer = self._layer_holding(path)
        try:
            # The view resolved the path already: a symlink the kernel meets now is refused, not followed.
            fd = saferoot.open_in_root(layer, path, os.O_RDONLY | os.O_NOCTTY, saferoot.Purpose.RESOLVED)
        except OSError as err:
            if saferoot.is_refused(err):
                raise InvalidArgument(f"refusing to read /{path}: the path passes through a symlink") from None
            raise
        return os.fdopen(fd, "rb")

    def _layer_holding(self, path: str) -> str:
        layer = self.layers.holder(path)
        if layer is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", "/" + path)
        return layer

    # Resolving paths -------------------------------------------------------------------------------------

    def resolve(self, path: str) -> str:
        return resolve(self, path)
