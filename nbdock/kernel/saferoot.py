"""Paths inside a root someone else made: the one place nbdock opens, makes or resolves them.

An image layer, a container's file tree, a build context, a ``docker load``
archive: each is a directory tree full of names chosen by someone else,
and every one of them may hold ``etc -> /``, ``data -> ../../..`` or a
link to ``/proc/self/root``.  Resolving such a path *on the host* --
``open(root + "/" + path)`` -- lets the tree send the host's kernel to the
host's own files.  ``os.path.realpath`` first does not help either: a
running container can swap a directory for a symlink between our check and
our use.

So nbdock never hands the host a whole path into such a tree.  It holds a
descriptor of the tree's root and asks the kernel, with ``openat2(2)``, to
resolve the rest under rules the kernel itself enforces at every step of
the walk.  The rules are the ``RESOLVE_*`` flags, and which ones are right
depends on what the path is for -- so every caller names its
:class:`Purpose`, and the mask comes from here, never from the caller:

======================  ==============================================  ============================
purpose                 mask                                            what a link or ``..`` does
======================  ==============================================  ============================
``Purpose.READ``        ``IN_ROOT | NO_MAGICLINKS``                     followed, kept inside
``Purpose.RESOLVED``    ``IN_ROOT | NO_SYMLINKS | NO_MAGICLINKS``       a link: refused (ELOOP)
``Purpose.EXTRACT``     ``BENEATH | NO_SYMLINKS | NO_MAGICLINKS``       refused (ELOOP, EXDEV)
======================  ==============================================  ============================

The kernel's rules, from openat2(2):

* ``RESOLVE_IN_ROOT`` treats the descriptor as ``/`` for this one lookup,
  as ``chroot`` would: ``..`` at the top stays at the top and an absolute
  symlink starts again at the descriptor.  Nothing outside can be named,
  and a path means what it means to the tree's own processes.
* ``RESOLVE_BENEATH`` *refuses* (EXDEV) where ``IN_ROOT`` clamps: a path
  that climbs above the descriptor, or an absolute link, is an error.
* ``RESOLVE_NO_SYMLINKS`` refuses (ELOOP) every symlink met on the way,
  the last component included.
* ``RESOLVE_NO_MAGICLINKS`` refuses the "magic links" of procfs
  (``/proc/<pid>/fd/N``, ``/proc/<pid>/root``, ``/proc/<pid>/exe``):
  following one jumps straight to the object it names, past any root and
  any mount boundary, so a tree that holds a procfs (a running
  container's) could use one to reach the host.  ``IN_ROOT`` and
  ``BENEATH`` refuse them today too, but the manual warns that "this may
  change in the future" and asks for the flag explicitly: every purpose
  here carries it.

Every function takes the root as an open directory descriptor, or as the
host path of that directory (opened ``O_PATH`` for the one call: the path
of the root itself is the daemon's own, trusted).  Failures are the
kernel's ``OSError``\\ s; :func:`is_refused` tells a refusal by the rules
from a plain "no such file".
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import stat
from typing import Iterator

from . import libc
from .libc import RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS


class Purpose(enum.Enum):
    """What a path inside an untrusted root is for; its value is the resolve mask that purpose needs."""

    #: Reading a tree the way its own processes would see it: symlinks and ``..`` are followed,
    #: inside the root.  For the files of a ``docker load`` archive, a build context's Dockerfile,
    #: .dockerignore and git sub-directory, a file of a layer shown in the layer explorer.
    READ = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS

    #: Opening a path that was resolved already, in user space: by :func:`resolve_in_root` (mount
    #: targets in a container's root) or by a layered view's own resolution (the files COPY reads).
    #: Every link on it has been expanded, so a link the kernel meets now was swapped in since --
    #: a running container racing us -- and is refused rather than followed.
    RESOLVED = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS

    #: Writing where an archive says (tar extraction: layers, ``docker cp``, ADD, build contexts).
    #: The tree's links were made by the archive itself (``evil -> /`` then ``evil/etc/passwd``),
    #: so none may be followed at all; and a path that climbs out is an attack, not a mistake:
    #: refused rather than clamped.
    EXTRACT = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS


def open_in_root(root: int | str, path: str, flags: int, purpose: Purpose, mode: int = 0) -> int:
    """A new descriptor (close-on-exec) of ``path`` inside ``root``, resolved by ``purpose``'s rules.

    ``path`` is relative to the root (a leading ``/`` means the root too with
    ``READ`` and ``RESOLVED``; ``EXTRACT`` refuses it); ``"."`` is the root
    itself and ``""`` names nothing (ENOENT), as for ``openat``.  ``flags``
    and ``mode`` are ``open(2)``'s.
    """
    with _root_descriptor(root) as root_fd:
        return libc.openat2(root_fd, path, flags | os.O_CLOEXEC, mode, resolve=purpose.value)


def open_parent_in_root(root: int | str, path: str, purpose: Purpose) -> tuple[int, str]:
    """An ``O_PATH`` descriptor of the directory holding ``path``'s last component, and that component.

    For the ``*at`` calls that must not follow the last component
    (``lstat``, ``readlink``, ``unlink``, ``open(O_NOFOLLOW)``) relative to
    the returned descriptor.  The name is ``""`` when ``path`` is the root
    itself (``os.stat(name or ".", dir_fd=...)``).  A last component ``..``
    is refused (EINVAL): relative to the parent, the ``*at`` call would
    climb out of the kernel's checked walk.
    """
    parent, _, name = path.strip("/").rpartition("/")
    if name == "..":
        raise OSError(errno.EINVAL, "the last component of a path inside a root may not be '..'", path)
    return open_in_root(root, parent or ".", os.O_PATH | os.O_DIRECTORY, purpose), name


def make_dirs_in_root(root_fd: int, path: str, purpose: Purpose, mode: int = 0o755) -> None:
    """``mkdir -p path`` inside the root: every missing directory, each made relative to its parent's descriptor.

    Each parent is opened by ``purpose``'s rules before anything is made in
    it, so with ``RESOLVED`` or ``EXTRACT`` nothing is ever created through a
    symlink.  Directories that exist are kept as they are.  The walk goes
    upwards only as far as something is missing: a deep directory that
    exists costs one ``openat2`` (extraction calls this for every member).
    """
    if not path:
        return
    head, _, name = path.rpartition("/")
    try:
        parent_fd = open_in_root(root_fd, head or ".", os.O_PATH | os.O_DIRECTORY, purpose)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
        make_dirs_in_root(root_fd, head, purpose, mode)
        parent_fd = open_in_root(root_fd, head or ".", os.O_PATH | os.O_DIRECTORY, purpose)
    try:
        os.mkdir(name, mode, dir_fd=parent_fd)
    except FileExistsError:
        pass
    finally:
        os.close(parent_fd)


def resolve_in_root(root_fd: int, path: str, max_links: int = 40) -> str:
    """``path`` with every symlink expanded as if ``root_fd`` were "/": the result is relative to it.

    The same reading as :attr:`Purpose.READ`, done in user space, for the
    one case the kernel cannot serve: a path whose end does not exist yet and
    is to be *made* along the resolved path (a mount target such as
    ``/etc/hosts -> /../../host/etc/passwd`` becomes ``host/etc/passwd``
    inside the root).  Components that do not exist are kept as they are.
    Only ``*at()`` calls relative to ``root_fd`` are used, never a host path.
    The answer is only as true as the tree is still: open it with
    :attr:`Purpose.RESOLVED`, which refuses a link swapped in since.
    """
    pending = [c for c in path.split("/") if c not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while pending:
        component = pending.pop(0)
        if component == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = "/".join(resolved + [component])
        try:
            st = os.stat(candidate, dir_fd=root_fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(component)
            resolved.extend(c for c in pending if c not in ("", "."))
            return os.path.normpath("/".join(resolved)) if resolved else ""
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > max_links:
                raise OSError(errno.ELOOP, f"too many symlinks resolving {path} in the container")
            target = os.readlink(candidate, dir_fd=root_fd)
            if target.startswith("/"):
                resolved = []  # an absolute symlink starts again at the root
            pending = [c for c in target.split("/") if c not in ("", ".")] + pending
            continue
        resolved.append(component)
    return "/".join(resolved)


def is_refused(exc: OSError) -> bool:
    """Whether the kernel refused a path by a purpose's rules: a link met (ELOOP) or a climb out (EXDEV)."""
    return exc.errno in (errno.ELOOP, errno.EXDEV)


@contextlib.contextmanager
def _root_descriptor(root: int | str) -> Iterator[int]:
    if isinstance(root, int):
        yield root
        return
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)
