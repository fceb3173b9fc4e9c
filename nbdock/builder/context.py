"""Build contexts: the files a build can COPY, and the Dockerfile among them.

``docker build DIR`` does not give the daemon a directory name: the daemon
may be on another machine.  The client packs the directory into a tar
(:func:`tar_context`, minus what .dockerignore excludes) and sends it as the
body of ``POST /build``; the daemon unpacks it into a directory of its own
(:func:`open_build_context`).  The request can also name the context
instead of carrying it (``remote=``): a git repository, or a URL of a
tarball or of a lone Dockerfile, which the daemon fetches itself.

Everything that arrives this way is untrusted: tars are unpacked by
:mod:`nbdock.image.tarsafe`, and the Dockerfile and .dockerignore are opened
inside the context's root (:mod:`nbdock.kernel.saferoot`), so that a context whose ``Dockerfile`` is
a symlink to ``/etc/shadow`` finds nothing rather than the host's file.
"""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import BinaryIO

from nbdock.builder.parser import Dockerfile, parse_dockerfile
from nbdock.builder.dockerignore import DockerIgnore, iter_context_files, parse_dockerignore
from nbdock.errors import Forbidden, HostError, InvalidArgument, NbdockError, NotFound, Unauthorized
from nbdock.image import tarsafe
from nbdock.kernel import saferoot

DEFAULT_DOCKERFILE = "Dockerfile"

#: The most a ``remote=`` URL may send.  Docker sets no limit; a daemon that
#: downloads whatever it is pointed at should.
REMOTE_SIZE_LIMIT = 512 * 1024 * 1024

# Magic numbers of the compressed formats a context tar may come in.
_COMPRESSION_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")  # gzip bzip2 xz zstd
_TAR_BLOCK = 512


class BuildContext:
    """A context unpacked on disk, and its parsed Dockerfile.  Close it to delete the files."""

    def __init__(self, workdir: str, root: str, dockerfile_name: str, dockerfile: Dockerfile):
        self.workdir = workdir  # the temporary directory everything lives in
        self.root = root  # the context's root: COPY sources are relative to it
        self.dockerfile_name = dockerfile_name
        self.dockerfile = dockerfile

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> BuildContext:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_build_context(
    body: BinaryIO | None,
    *,
    tmp_dir: str,
    remote: str = "",
    dockerfile_name: str = "",
    size_limit: int = REMOTE_SIZE_LIMIT,
) -> BuildContext:
    """Turn what ``POST /build`` received into a :class:`BuildContext` under ``tmp_dir``.

    * no ``remote``: ``body`` is a tar (plain, gzip, bzip2, xz or zstd, told
      apart by their first bytes), or else it is the Dockerfile itself;
    * ``remote`` a git URL (``git://``, ``git@``, ``github.com/``, or
      ``http(s)://...git``, with an optional ``#ref:subdir``): cloned;
    * ``remote`` another ``http(s)://`` URL: downloaded (at most
      ``size_limit`` bytes), then a tar or a Dockerfile, as for ``body``.

    ``dockerfile_name`` is the ``dockerfile=`` parameter: a path inside the
    context.  On any error nothing is left in ``tmp_dir``.
    """
    workdir = tempfile.mkdtemp(prefix="build-context-", dir=tmp_dir)
    dockerfile_name = dockerfile_name or DEFAULT_DOCKERFILE
    try:
        if not remote:
            root, lone_dockerfile = _unpack_body(body if body is not None else io.BytesIO(), workdir, None, "build context")
        elif is_git_url(remote):
            root, lone_dockerfile = _clone_git_context(remote, workdir), False
        elif is_http_url(remote):
            root, lone_dockerfile = _download_context(remote, workdir, size_limit)
        else:
            raise InvalidArgument(f"remoteURL ({remote}) could not be recognized as URL")
        if lone_dockerfile:
            dockerfile_name = DEFAULT_DOCKERFILE  # whatever the request called it, it is this file
        return _with_dockerfile(workdir, root, dockerfile_name)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------
# A tar, or a Dockerfile alone


class _Prefixed:
    """Reads ``head`` (bytes already taken to look at the format), then the rest of ``stream``.

    With a ``limit``, reading past that many bytes in total is an error.
    """

    def __init__(self, head: bytes, stream: BinaryIO, limit: int | None, what: str):
        self.head = head
        self.stream = stream
        self.limit = limit
        self.what = what
        self.total = len(head)

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data = self.head if size < 0 else self.head[:size]
            self.head = self.head[len(data) :]
            return data
        data = self.stream.read(size)
        self.total += len(data)
        if self.limit is not None and self.total > self.limit:
            raise InvalidArgument(f"{self.what} is larger than the limit of {self.limit} bytes")
        return data


def _read_head(stream: BinaryIO, size: int) -> bytes:
    head = b""
    while len(head) < size:
        more = stream.read(size - len(head))
        if not more:
            break
        head += more
    return head


def is_archive(head: bytes) -> bool:
    """Whether the first bytes of a body are a (possibly compressed) tar.

    The docker CLI decides the same way whether ``docker build - < FILE`` got
    a context or a Dockerfile: a known compression magic number, or a first
    512-byte block that is a valid tar header (its checksum adds up).
    """
    if head.startswith(_COMPRESSION_MAGIC):
        return True
    try:
        tarfile.TarInfo.frombuf(head[:_TAR_BLOCK], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _unpack_body(body: BinaryIO, workdir: str, size_limit: int | None, what: str) -> tuple[str, bool]:
    """Unpack a context tar, or store a lone Dockerfile, in ``workdir/context``.

    Returns the context's root and whether the body was a lone Dockerfile.
    """
    root = os.path.join(workdir, "context")
    os.mkdir(root, 0o755)
    head = _read_head(body, _TAR_BLOCK)
    reader = _Prefixed(head, body, size_limit, what)
    if is_archive(head) or _is_end_of_archive(head):
        tarsafe.extract(reader, root)
        return root, False
    # Not a tar: the body IS the Dockerfile.  It becomes a context holding
    # just that file, as the docker CLI makes for `docker build - < Dockerfile`.
    with open(os.path.join(root, DEFAULT_DOCKERFILE), "xb") as dockerfile:
        while chunk := reader.read(1 << 16):
            dockerfile.write(chunk)
    return root, True


def _is_end_of_archive(head: bytes) -> bool:
    """A first block of zeros: a tar's end marker, so the archive of an empty directory.

    The docker CLI's rule (:func:`is_archive`) would take it for a Dockerfile (it has no tar
    header), and it would fail as ``unknown instruction: ^@^@^@...``.  dockerd never guesses: a
    body is a tar, so ``docker build .`` in an empty directory gets "Cannot locate specified
    Dockerfile: Dockerfile".  nbdock answers the same.
    """
    return len(head) == _TAR_BLOCK and not head.strip(b"\0")


# ---------------------------------------------------------------------------
# The Dockerfile inside the context


def _with_dockerfile(workdir: str, root: str, name: str) -> BuildContext:
    """Find, read and parse the Dockerfile, then drop the files .dockerignore excludes."""
    text = _read_in_context(root, name)
    if text is None and name == DEFAULT_DOCKERFILE:
        text = _read_in_context(root, name.lower())  # Docker also accepts "dockerfile"
        if text is not None:
            name = name.lower()
    if text is None:
        raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")
    dockerfile = parse_dockerfile(text, name)
    _remove_ignored_build_files(root, name)
    return BuildContext(workdir, root, name, dockerfile)


def _read_in_context(root: str, path: str) -> bytes | None:
    """The content of ``path`` inside the context, or None when there is no such file.

    The kernel resolves ``path`` -- symlinks and ``..`` included -- as if
    ``root`` were ``/`` (``saferoot.Purpose.READ``): nothing outside it can be reached.
    """
    try:
        fd = saferoot.open_in_root(root, path, os.O_RDONLY, saferoot.Purpose.READ)
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise InvalidArgument(f"cannot open {path} in the build context: {os.strerror(err.errno)}") from None
    try:
        with os.fdopen(fd, "rb") as file:
            return file.read()
    except IsADirectoryError:
        raise InvalidArgument(f"{path} in the build context is a directory, not a file") from None


def _remove_ignored_build_files(root: str, dockerfile_name: str) -> None:
    """Delete .dockerignore and the Dockerfile from the context if .dockerignore excludes them.

    The CLI had to send both (the daemon needs them), but a COPY must not
    see files the user excluded.
    """
    ignore_file = _read_in_context(root, ".dockerignore")
    if ignore_file is None:
        return
    ignore = DockerIgnore(parse_dockerignore(ignore_file.decode("utf-8", "surrogateescape")))
    for path in (".dockerignore", dockerfile_name):
        if ignore.matches(path):
            _remove_in_context(root, path)


def _remove_in_context(root: str, path: str) -> None:
    parent_fd, name = saferoot.open_parent_in_root(root, path, saferoot.Purpose.READ)
    try:
        os.unlink(name, dir_fd=parent_fd)
    finally:
        os.close(parent_fd)


# ---------------------------------------------------------------------------
# Remote contexts


def is_http_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def is_git_url(url: str) -> bool:
    """Docker's rule: a git transport prefix, or an http(s) URL whose path ends in ``.git``."""
    if url.startswith(("git://", "github.com/", "git@")):
        return True
    return is_http_url(url) and re.search(r"\.git(#.+)?$", url) is not None


def parse_git_url(url: str) -> tuple[str, str, str]:
    """``(remote, ref, subdir)`` of a git context URL: ``URL#ref:subdir``, ref defaulting to master."""
    if not url.startswith(("git@", "git://", "http://", "https://", "ssh://")):
        url = "https://" + url  # github.com/user/repo
    if url.startswith("git@"):  # scp-like syntax, not a URL
        remote, _, fragment = url.partition("#")
    else:
        parts = urllib.parse.urlsplit(url)
        remote, fragment = urllib.parse.urlunsplit(parts._replace(fragment="")), parts.fragment
    ref, _, subdir = fragment.partition(":")
    ref = ref or "master"
    if ref.startswith("-"):
        raise InvalidArgument(f"invalid refspec: {ref}")  # it would be taken as an option of git
    return remote, ref, subdir


def _clone_git_context(url: str, workdir: str) -> str:
    """Fetch one commit of the repository into ``workdir/git``, as Docker does; return the context root."""
    remote, ref, subdir = parse_git_url(url)
    checkout = os.path.join(workdir, "git")
    os.mkdir(checkout, 0o755)
    _git(checkout, "init", error="failed to init repo at " + checkout)
    _git(checkout, "remote", "add", "origin", remote, error="failed add origin repo at " + remote)
    depth = ["--depth", "1"] if _supports_shallow_fetch(remote) else []
    _git(checkout, "fetch", *depth, "origin", "--", ref, error="error fetching")
    try:
        _git(checkout, "checkout", ref, error=f"error checking out {ref}")
    except HostError as by_name:
        # A commit id is not a name `checkout` knows; what was fetched is FETCH_HEAD.
        try:
            _git(checkout, "checkout", "FETCH_HEAD", error="")
        except HostError:
            raise by_name from None
    _git(checkout, "submodule", "update", "--init", "--recursive", "--depth=1", error="error initializing submodules")
    if not subdir:
        return checkout
    return _directory_in_checkout(checkout, subdir)


def _git(directory: str, *args: str, error: str) -> None:
    """Run git, reading neither the host's nor root's git configuration.

    ``protocol.file.allow=never`` stops a hostile repository from pulling
    files of the daemon's machine in as submodules (``file:///etc``).
    """
    env = dict(
        os.environ,
        GIT_PROTOCOL_FROM_USER="0",
        GIT_CONFIG_NOSYSTEM="1",
        HOME="/dev/null",
        GIT_TERMINAL_PROMPT="0",  # fail rather than wait for a password nobody will type
    )
    result = subprocess.run(
        ["git", "-c", "protocol.file.allow=never", *args],
        cwd=directory,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    if result.returncode != 0:
        output = result.stdout.decode("utf-8", "replace").strip()
        raise HostError(f"{error}: {output}")


def _supports_shallow_fetch(remote: str) -> bool:
    """Whether ``git fetch --depth 1`` can work: always, except with a "dumb" HTTP server.

    A dumb server serves the repository's files as they are and cannot cut a
    history short; a smart one answers the ``git-upload-pack`` service query.
    """
    if not is_http_url(remote):
        return True
    query = remote + "/info/refs?service=git-upload-pack"
    for method in ("HEAD", "GET"):
        try:
            with urllib.request.urlopen(urllib.request.Request(query, method=method)) as response:
                return response.headers.get("Content-Type") == "application/x-git-upload-pack-advertisement"
        except (urllib.error.URLError, OSError):
            continue
    return False


def _directory_in_checkout(checkout: str, subdir: str) -> str:
    """The real path of ``subdir`` resolved inside the checkout (its symlinks cannot leave it)."""
    try:
        fd = saferoot.open_in_root(checkout, subdir, os.O_PATH, saferoot.Purpose.READ)
    except OSError as err:
        raise InvalidArgument(f"error setting git context, {subdir}: {os.strerror(err.errno)}") from None
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")  # where the kernel's resolution ended
        if not os.path.isdir(path):
            raise InvalidArgument(f"error setting git context, not a directory: {subdir}")
        return path
    finally:
        os.close(fd)


def _download_context(url: str, workdir: str, size_limit: int) -> tuple[str, bool]:
    """Download ``url``; a tar is unpacked, anything else is taken as the Dockerfile."""
    try:
        response = urllib.request.urlopen(url)
    except urllib.error.HTTPError as err:
        with err:
            body = err.read(1024).decode("utf-8", "replace").strip()
        message = f"error downloading remote context {url}: failed to GET {url} with status {err.code} {err.reason}: {body}"
        error_class = {400: InvalidArgument, 401: Unauthorized, 403: Forbidden, 404: NotFound}.get(err.code, NbdockError)
        raise error_class(message) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise HostError(f"error downloading remote context {url}: {reason}") from None
    with response:
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > size_limit:
            raise InvalidArgument(f"remote context {url} is larger than the limit of {size_limit} bytes")
        return _unpack_body(response, workdir, size_limit, what=f"remote context {url}")


# ---------------------------------------------------------------------------
# The client side: a directory -> the tar POST /build sends


def tar_context(directory: str, dockerfile_name: str = DEFAULT_DOCKERFILE) -> BinaryIO:
    """Pack ``directory`` as the docker CLI does, into a temporary file opened at its start.

    .dockerignore applies, except to .dockerignore and the Dockerfile
    (``dockerfile_name``, relative to ``directory``), which the daemon needs.
    Entries belong to 0:0, symlinks are stored as symlinks and files linked
    together as hard links.
    """
    ignore = DockerIgnore.from_context(directory).keeping(".dockerignore", dockerfile_name)
    packed = tempfile.TemporaryFile()
    try:
        with tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for path in iter_context_files(directory, ignore):
                _add_to_tar(archive, os.path.join(directory, path), path)
    except OSError as err:
        packed.close()
        raise InvalidArgument(f"error checking context: {err}") from None
    packed.seek(0)
    return packed


def _add_to_tar(archive: tarfile.TarFile, path: str, name: str) -> None:
    info = archive.gettarinfo(path, arcname=name)
    if info is None:
        return  # a socket: tar has no way to store one
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.isreg():
        with open(path, "rb") as content:
            archive.addfile(info, content)
    else:
        archive.addfile(info)
