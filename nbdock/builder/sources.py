"""What COPY and ADD copy: their sources, found the way Docker finds them, and their checksums.

A source is a path in a *source tree*: the build context, another image or
build stage (``COPY --from``), or a file ADD downloaded.  Finding it follows
Docker's classic builder (moby's ``builder/dockerfile/copy.go``):

* a leading ``/`` or ``./`` is dropped: sources are always relative to the tree;
* ``..`` may not climb out of the tree ("forbidden path outside the build
  context"); symlinks are followed, but only *inside* the tree (a link to
  ``/etc/passwd`` in a context means the context's own ``etc/passwd``);
* ``*``, ``?`` and ``[...]`` make a pattern, matched (like Go's
  ``filepath.Match``) against every path of the tree.

Each source gets a checksum, and the build cache compares those: Docker
records ``COPY file:<sha256> in /dest`` (or ``dir:``, or ``multi:`` for
several sources) in the image, so a changed file changes the key and
misses the cache.  The checksum of a file covers its content and the
fields of its tar header -- name, mode, owner, size, type, link target, but
*not* its modification time, so touching a file does not invalidate the
cache.  A directory's checksum combines those of everything in it.

We compute these exactly as Docker does, so ``docker history`` shows the
same checksums for the same context.  Docker takes a context's header
fields from the tar the client sent (tarsum), and an image's from ``lstat``
(which adds the file-type bits to the mode and the owner's names); the two
tree kinds below reproduce the two.
"""

from __future__ import annotations

import email.utils
import grp
import hashlib
import os
import posixpath
import pwd
import re
import socket
import stat
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable

from ..errors import HostError, InvalidArgument, NbdockError
from .rootview import RootView, escapes_root

_CHUNK = 1 << 20

#: Go's archive/tar type flags.
_TYPE_FLAGS = {stat.S_IFREG: "0", stat.S_IFLNK: "2", stat.S_IFCHR: "3", stat.S_IFBLK: "4", stat.S_IFDIR: "5",
               stat.S_IFIFO: "6"}


@dataclass
class CopySource:
    """One file or directory a COPY or ADD copies."""

    tree: SourceTree
    path: str  # as named or matched, relative to the tree (its base name names a copied file)
    resolved: str  # the same with its symlinks followed: what is actually copied
    is_dir: bool
    checksum: str  # "file:<sha256>", "dir:<sha256>", or a bare path for a dangling link
    unpack: bool = True  # ADD may unpack it when it is an archive (never a download)


class SourceTree:
    """A tree COPY and ADD read from.

    ``headers_from_client_tar``: the tree was unpacked from a tar the client
    sent (the build context), so checksums use the header fields the docker
    CLI writes -- permission bits only, no owner names; otherwise (an
    image, a download) they use what ``lstat`` says, as Docker does.
    """

    def __init__(self, view: RootView, *, is_context: bool, headers_from_client_tar: bool):
        self.view = view
        self.is_context = is_context
        self.headers_from_client_tar = headers_from_client_tar
        self._checksums: dict[str, str] = {}
        self._first_links: dict[tuple[int, int], str] | None = None  # (device, inode) -> its first path

    # Finding sources -------------------------------------------------------------------------------------

    def find(self, pattern: str) -> list[CopySource]:
        """The sources one COPY argument names: a path, or every path a wildcard pattern matches."""
        pattern = pattern.removeprefix("/").removeprefix("./")
        if not has_wildcards(pattern):
            return [self.source(pattern)]
        matcher = _compile_go_pattern(pattern)
        return [self.source(path) for path, _ in self.view.walk("") if path and matcher(path)]

    def source(self, path: str) -> CopySource:
        """The source at ``path`` (no pattern), its symlinks followed inside the tree."""
        if escapes_root(path):
            raise InvalidArgument(f"forbidden path outside the build context: {path} ()")
        resolved = self.view.resolve(path)
        kind = self.view.kind(resolved)
        if kind is None:
            missing = f"stat {path}: file does not exist"
            if self.is_context:
                raise InvalidArgument(f"file not found in build context or excluded by .dockerignore: {missing}")
            raise InvalidArgument(missing)
        if kind == "dir":
            return CopySource(self, path, resolved, True, self._directory_checksum(resolved))
        return CopySource(self, path, resolved, False, "file:" + self.checksum(path))

    # Checksums -------------------------------------------------------------------------------------------

    def checksum(self, path: str) -> str:
        """Docker's checksum of one path: of what it resolves to, or the path itself if that is missing."""
        resolved = self.view.resolve(path)
        st = self.view.lstat(resolved) if resolved else None
        if st is None:
            return path if self.headers_from_client_tar else resolved
        if resolved not in self._checksums:
            self._checksums[resolved] = self._entry_checksum(resolved, st)
        return self._checksums[resolved]

    def _directory_checksum(self, directory: str) -> str:
        """``dir:`` + the hash of the sorted checksums of everything in the directory (itself included,
        unless it is the root)."""
        sums = sorted(self.checksum(path) for path, _ in self.view.walk(directory) if path)
        return "dir:" + hashlib.sha256(",".join(sums).encode()).hexdigest()

    def _entry_checksum(self, path: str, st) -> str:
        """sha256 of the entry's tar header fields (tarsum v1 order, no mtime), then of its content."""
        is_dir = stat.S_ISDIR(st.st_mode)
        mode = stat.S_IMODE(st.st_mode)
        owner_names = ("", "")
        if not self.headers_from_client_tar:
            mode |= stat.S_IFMT(st.st_mode)
            owner_names = (_user_name(st.st_uid), _group_name(st.st_gid))
        is_device = stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
        size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        type_flag = _TYPE_FLAGS.get(stat.S_IFMT(st.st_mode), "0")
        link = self.view.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
        hard_link_to = self._sent_as_hard_link(path, st)
        if hard_link_to:
            size, type_flag, link = 0, "1", hard_link_to
        fields = [
            ("name", path + "/" if is_dir else path),
            ("mode", str(mode)),
            ("uid", str(st.st_uid)),
            ("gid", str(st.st_gid)),
            ("size", str(size)),
            ("typeflag", type_flag),
            ("linkname", link),
            ("uname", owner_names[0]),
            ("gname", owner_names[1]),
            ("devmajor", str(os.major(st.st_rdev) if is_device else 0)),
            ("devminor", str(os.minor(st.st_rdev) if is_device else 0)),
        ]
        digest = hashlib.sha256("".join(name + value for name, value in fields).encode("utf-8", "surrogateescape"))
        if size:
            with self.view.open(path) as content:
                while chunk := content.read(_CHUNK):
                    digest.update(chunk)
        return digest.hexdigest()


    def _sent_as_hard_link(self, path: str, st) -> str:
        """The path a client's tar made ``path`` a hard link to, or "" if it sent the file itself.

        The docker CLI sends a file with several links once, under the first
        of its names it meets walking the context in order, and the others as
        hard links to that name; their headers, so checksums, differ.
        """
        if not (self.headers_from_client_tar and stat.S_ISREG(st.st_mode) and st.st_nlink > 1):
            return ""
        if self._first_links is None:
            self._first_links = {}
            for walked, walked_st in self.view.walk(""):
                if stat.S_ISREG(walked_st.st_mode) and walked_st.st_nlink > 1:
                    self._first_links.setdefault((walked_st.st_dev, walked_st.st_ino), walked)
        first = self._first_links.get((st.st_dev, st.st_ino), path)
        return "" if first == path else first


def combined_checksum(sources: list[CopySource]) -> str:
    """The cache key of a whole COPY: one source's checksum, or ``multi:`` over all of them."""
    if len(sources) == 1:
        return sources[0].checksum
    return "multi:" + hashlib.sha256(",".join(source.checksum for source in sources).encode()).hexdigest()


# ---------------------------------------------------------------------------
# ADD's downloads


#: The name a download gets when its URL names no file (Docker's name for it).
UNNAMED_DOWNLOAD = "__unnamed__"


def is_url(source: str) -> bool:
    """Whether an ADD source is downloaded rather than read from the context."""
    return source.startswith(("http://", "https://"))


def download(url: str, directory: str, progress: Callable[[int, int | None], None], size_limit: int) -> str:
    """Fetch ``url`` into ``directory`` as ADD does; return the file's name ("" if the URL gives none).

    The name comes from the URL's path, else from a Content-Disposition
    header.  The file is private (0600) and dated by the Last-Modified
    header, or 1970 without one -- so its checksum, hence the cache, depends
    on its content only.  ``progress(bytes so far, total or None)`` is
    called as the data arrives.
    """
    try:
        response = urllib.request.urlopen(url)
    except urllib.error.HTTPError as error:
        with error:
            body = error.read(1024).decode("utf-8", "replace").strip()
        raise NbdockError(f"failed to GET {url} with status {error.code} {error.reason}: {body}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise HostError(f'Get "{url}": {_connection_error(url, getattr(error, "reason", error))}') from None
    with response:
        path = urllib.parse.urlsplit(url).path
        name = posixpath.basename(path) if path and not path.endswith("/") else ""
        name = name or posixpath.basename(response.headers.get_filename() or "")
        target = os.path.join(directory, name or UNNAMED_DOWNLOAD)
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        received = 0
        with open(target, "xb") as file:
            os.fchmod(file.fileno(), 0o600)
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if received > size_limit:
                    raise InvalidArgument(f"{url} is larger than the limit of {size_limit} bytes")
                file.write(chunk)
                progress(received, total)
        modified = response.headers.get("Last-Modified")
    mtime = 0.0
    if modified:
        try:
            mtime = max(email.utils.parsedate_to_datetime(modified).timestamp(), 0.0)
        except (TypeError, ValueError):
            pass
    os.utime(target, (mtime, mtime))
    return name


def _connection_error(url: str, reason: object) -> str:
    """Why a download could not start, worded as Go's HTTP client words it (users compare the two)."""
    parts = urllib.parse.urlsplit(url)
    if isinstance(reason, socket.gaierror):
        return f"dial tcp: lookup {parts.hostname}: no such host"
    if isinstance(reason, OSError) and reason.strerror:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"dial tcp {parts.hostname}:{port}: connect: {reason.strerror.lower()}"
    return str(reason)


def _user_name(uid: int) -> str:
    """The name Go's archive/tar looks up for a uid (on the daemon's host, as Docker does)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


# ---------------------------------------------------------------------------
# Wildcards, as Go's filepath.Match


def has_wildcards(path: str) -> bool:
    """Whether a COPY source is a pattern: it has ``*``, ``?`` or ``[`` that no backslash escapes."""
    position = 0
    while position < len(path):
        if path[position] == "\\":
            position += 2
            continue
        if path[position] in "*?[":
            return True
        position += 1
    return False


def _compile_go_pattern(pattern: str):
    """A matcher for Go's ``filepath.Match`` syntax: ``*`` and ``?`` never match ``/``;
    ``[a-z]``, ``[^a-z]`` and backslash escapes as in Go.

    A malformed pattern matches nothing (Docker ignores Match's error).
    """
    regex = []
    position = 0
    try:
        while position < len(pattern):
            char = pattern[position]
            position += 1
            if char == "*":
                regex.append("[^/]*")
            elif char == "?":
                regex.append("[^/]")
            elif char == "\\":
                regex.append(re.escape(pattern[position]))  # IndexError: a trailing backslash
                position += 1
            elif char == "[":
                char_class, position = _go_class(pattern, position)
                regex.append(char_class)
            else:
                regex.append(re.escape(char))
        compiled = re.compile("".join(regex), re.DOTALL)
    except (ValueError, IndexError, re.error):
        return lambda path: False
    return lambda path: compiled.fullmatch(path) is not None


def _go_class(pattern: str, position: int) -> tuple[str, int]:
    """The ``[...]`` class whose ``[`` is just before ``position``, and the position after its ``]``."""
    negate = pattern.startswith("^", position)
    position += negate
    ranges = []
    while not (pattern[position] == "]" and ranges):  # IndexError: the class is never closed
        low, position = _class_char(pattern, position)
        high = low
        if pattern[position] == "-":
            high, position = _class_char(pattern, position + 1)
        ranges.append(re.escape(low) + "-" + re.escape(high))
    return "[" + ("^" if negate else "") + "".join(ranges) + "]", position + 1


def _class_char(pattern: str, position: int) -> tuple[str, int]:
    """One character of a class, maybe escaped; an unescaped ``-`` or ``]`` here is a bad pattern."""
    char = pattern[position]
    if char in "-]":
        raise ValueError(f"bad character class in {pattern!r}")
    if char == "\\":
        position += 1
        char = pattern[position]
    return char, position + 1
