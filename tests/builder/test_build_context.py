"""Build contexts: what POST /build receives, unpacked; and the client's tar of a directory.

Unpacking goes through nbdock.image.tarsafe, which gives members their
owners: those tests need root.  Remote contexts are served by the tests
themselves on 127.0.0.1 (an HTTP server, a git daemon).
"""

import bz2
import gzip
import http.server
import io
import lzma
import os
import socket
import subprocess
import tarfile
import threading
import time

import pytest

from nbdock.builder.context import is_archive, is_git_url, open_build_context, parse_git_url, tar_context
from nbdock.errors import InvalidArgument, NotFound

DOCKERFILE = b"FROM busybox\nCOPY . /app\n"


def make_tar(files: dict, symlinks: dict = (), compress=None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(content))
        for name, target in dict(symlinks).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    data = buffer.getvalue()
    return {None: lambda d: d, "gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}[compress](data)


@pytest.fixture
def tmp_dir(tmp_path):
    path = tmp_path / "tmp"
    path.mkdir()
    yield str(path)
    assert os.listdir(path) == [], "a build context was left behind"


def read(context, path):
    with open(os.path.join(context.root, path), "rb") as file:
        return file.read()


# -- the request body ----------------------------------------------------------------


@pytest.mark.root
@pytest.mark.parametrize("compress", [None, "gzip", "bzip2", "xz"])
def test_tar_body_in_every_compression(tmp_dir, compress):
    body = make_tar({"Dockerfile": DOCKERFILE, "src/app.py": b"print(1)\n"}, compress=compress)
    with open_build_context(io.BytesIO(body), tmp_dir=tmp_dir) as context:
        assert read(context, "src/app.py") == b"print(1)\n"
        assert context.dockerfile_name == "Dockerfile"
        assert [str(c) for c in context.dockerfile.stages[0].commands] == ["COPY . /app"]
        assert context.root.startswith(tmp_dir)


def test_a_body_that_is_not_a_tar_is_the_dockerfile(tmp_dir):
    with open_build_context(io.BytesIO(DOCKERFILE), tmp_dir=tmp_dir, dockerfile_name="ignored.df") as context:
        assert os.listdir(context.root) == ["Dockerfile"]
        assert context.dockerfile_name == "Dockerfile"
        assert context.dockerfile.stages[0].from_instruction.base_name == "busybox"


def test_no_body_is_an_empty_dockerfile(tmp_dir):
    with pytest.raises(InvalidArgument, match=r"^the Dockerfile \(Dockerfile\) cannot be empty$"):
        open_build_context(None, tmp_dir=tmp_dir)


def test_an_empty_context_tar_has_no_dockerfile_as_dockerd_says(tmp_dir):
    # `nbdock build .` in an empty directory sends the tar of nothing: its end-of-archive zeros
    # must not be read as a Dockerfile ("unknown instruction: ^@^@^@...").
    with pytest.raises(InvalidArgument, match="^Cannot locate specified Dockerfile: Dockerfile$"):
        open_build_context(io.BytesIO(make_tar({})), tmp_dir=tmp_dir)


def test_is_archive():
    assert is_archive(make_tar({"a": b"x"})[:512])
    assert is_archive(b"\x1f\x8b\x08\x00")
    assert not is_archive(DOCKERFILE)
    assert not is_archive(b"\0" * 1024)  # an end-of-archive block is no tar header
    assert not is_archive(b"FROM busybox\n" + b"x" * 600)


@pytest.mark.root
def test_custom_and_lowercase_dockerfile_names(tmp_dir):
    body = make_tar({"docker/Dockerfile.dev": b"FROM busybox AS dev\n", "dockerfile": b"FROM busybox AS lower\n"})
    with open_build_context(io.BytesIO(body), tmp_dir=tmp_dir, dockerfile_name="docker/Dockerfile.dev") as context:
        assert context.dockerfile.stages[0].name == "dev"
    with open_build_context(io.BytesIO(body), tmp_dir=tmp_dir) as context:
        assert (context.dockerfile_name, context.dockerfile.stages[0].name) == ("dockerfile", "lower")
    with pytest.raises(InvalidArgument, match="^Cannot locate specified Dockerfile: nope$"):
        open_build_context(io.BytesIO(body), tmp_dir=tmp_dir, dockerfile_name="nope")


@pytest.mark.root
@pytest.mark.parametrize("target", ["/etc/hostname", "../../../../../../etc/hostname"])
def test_dockerfile_symlink_cannot_reach_the_host(tmp_dir, target):
    body = make_tar({"x": b""}, symlinks={"Dockerfile": target})
    with pytest.raises(InvalidArgument, match="^Cannot locate specified Dockerfile: Dockerfile$"):
        open_build_context(io.BytesIO(body), tmp_dir=tmp_dir)


@pytest.mark.root
def test_dockerfile_symlink_inside_the_context_is_followed(tmp_dir):
    body = make_tar({"real/Dockerfile": DOCKERFILE}, symlinks={"Dockerfile": "/real/Dockerfile"})
    with open_build_context(io.BytesIO(body), tmp_dir=tmp_dir) as context:
        assert context.dockerfile.stages[0].from_instruction.base_name == "busybox"


@pytest.mark.root
def test_excluded_build_files_are_removed_after_reading(tmp_dir):
    body = make_tar({"Dockerfile": DOCKERFILE, ".dockerignore": b"Dockerfile\n.dockerignore\n", "app": b"1"})
    with open_build_context(io.BytesIO(body), tmp_dir=tmp_dir) as context:
        assert sorted(os.listdir(context.root)) == ["app"]
    body = make_tar({"Dockerfile": DOCKERFILE, ".dockerignore": b"*.log\n", "app": b"1"})
    with open_build_context(io.BytesIO(body), tmp_dir=tmp_dir) as context:
        assert sorted(os.listdir(context.root)) == [".dockerignore", "Dockerfile", "app"]


@pytest.mark.root
def test_names_climbing_out_land_at_the_top_of_the_context(tmp_dir, tmp_path):
    """As Docker unpacks a context (in a chroot): ``../escaped`` is ``escaped`` in the context."""
    body = make_tar({"Dockerfile": DOCKERFILE, "../escaped": b"gotcha", "/abs": b"abs"})
    with open_build_context(io.BytesIO(body), tmp_dir=tmp_dir) as context:
        assert read(context, "escaped") == b"gotcha" and read(context, "abs") == b"abs"
    assert not (tmp_path / "escaped").exists() and not os.path.exists("/abs")


@pytest.mark.root
def test_a_tar_writing_through_its_own_symlink_is_refused_and_nothing_is_left(tmp_dir, tmp_path):
    (tmp_path / "host").mkdir()
    # tarfile writes the files first: build the archive in the hostile order by hand.
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("out")
        link.type, link.linkname = tarfile.SYMTYPE, str(tmp_path / "host")
        archive.addfile(link)
        for name, data in (("Dockerfile", DOCKERFILE), ("out/planted", b"gotcha")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(InvalidArgument, match="symlink"):
        open_build_context(io.BytesIO(buffer.getvalue()), tmp_dir=tmp_dir)
    assert os.listdir(tmp_path / "host") == []


@pytest.mark.root
def test_parse_error_leaves_nothing(tmp_dir):
    body = make_tar({"Dockerfile": b"FROM busybox\nFOOBAR\n"})
    with pytest.raises(InvalidArgument, match="^dockerfile parse error line 2: unknown instruction: FOOBAR$"):
        open_build_context(io.BytesIO(body), tmp_dir=tmp_dir)


def test_unrecognized_remote(tmp_dir):
    with pytest.raises(InvalidArgument, match=r"^remoteURL \(ftp://x/y\) could not be recognized as URL$"):
        open_build_context(None, tmp_dir=tmp_dir, remote="ftp://x/y")


# -- remote URLs, served on 127.0.0.1 -------------------------------------------------


@pytest.fixture
def http_server(tmp_path):
    """Serves files of a directory, or answers 404, on a loopback port."""
    served = tmp_path / "www"
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.root
def test_remote_tarball(tmp_dir, http_server):
    served, base = http_server
    (served / "context.tar.gz").write_bytes(make_tar({"Dockerfile": DOCKERFILE, "app": b"A"}, compress="gzip"))
    with open_build_context(None, tmp_dir=tmp_dir, remote=f"{base}/context.tar.gz") as context:
        assert read(context, "app") == b"A"


def test_remote_plain_dockerfile(tmp_dir, http_server):
    served, base = http_server
    (served / "Dockerfile").write_bytes(DOCKERFILE)
    with open_build_context(None, tmp_dir=tmp_dir, remote=f"{base}/Dockerfile") as context:
        assert os.listdir(context.root) == ["Dockerfile"]
        assert context.dockerfile.stages[0].from_instruction.base_name == "busybox"


def test_remote_not_found(tmp_dir, http_server):
    _, base = http_server
    with pytest.raises(NotFound) as caught:
        open_build_context(None, tmp_dir=tmp_dir, remote=f"{base}/missing.tar")
    assert caught.value.message.startswith(
        f"error downloading remote context {base}/missing.tar: failed to GET {base}/missing.tar with status 404 File not found: "
    )


def test_remote_size_limit(tmp_dir, http_server):
    served, base = http_server
    (served / "big").write_bytes(b"FROM busybox\n" + b"#" * 10_000)
    with pytest.raises(InvalidArgument, match="is larger than the limit of 1000 bytes"):
        open_build_context(None, tmp_dir=tmp_dir, remote=f"{base}/big", size_limit=1000)


def test_remote_unreachable(tmp_dir):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Exception, match="error downloading remote context .*Connection refused"):
        open_build_context(None, tmp_dir=tmp_dir, remote=f"http://127.0.0.1:{port}/x")


# -- git ---------------------------------------------------------------------------------


def git(cwd, *args):
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=master", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def git_repo(tmp_path):
    """A bare repository with a master branch (Dockerfile at the top, and in sub/) and a branch "v2"."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init")
    (work / "Dockerfile").write_bytes(b"FROM busybox AS top\n")
    (work / "sub").mkdir()
    (work / "sub" / "Dockerfile").write_bytes(b"FROM busybox AS sub\n")
    (work / "sub" / "data").write_bytes(b"data\n")
    os.symlink("/etc", work / "escape")
    git(work, "add", ".")
    git(work, "commit", "-m", "first")
    git(work, "checkout", "-b", "v2")
    (work / "Dockerfile").write_bytes(b"FROM busybox AS v2\n")
    git(work, "commit", "-am", "v2")
    bare = tmp_path / "git" / "repo.git"
    git(tmp_path, "clone", "--bare", str(work), str(bare))
    return bare


@pytest.fixture
def git_daemon(git_repo):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}", "--export-all", "--informative-errors",
         f"--base-path={git_repo.parent}", str(git_repo.parent)],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"git://127.0.0.1:{port}/repo.git"
    finally:
        daemon.terminate()
        daemon.wait()


def test_git_url_rules():
    assert is_git_url("git://host/repo") and is_git_url("git@github.com:u/r.git") and is_git_url("github.com/u/r")
    assert is_git_url("https://host/u/r.git") and is_git_url("https://host/u/r.git#main:sub")
    assert not is_git_url("https://host/context.tar") and not is_git_url("https://host/digit")
    assert parse_git_url("https://host/r.git#v1.0:docker/app") == ("https://host/r.git", "v1.0", "docker/app")
    assert parse_git_url("git@host:u/r.git#:sub") == ("git@host:u/r.git", "master", "sub")
    assert parse_git_url("github.com/u/r") == ("https://github.com/u/r", "master", "")
    with pytest.raises(InvalidArgument, match="^invalid refspec: --upload-pack=x$"):
        parse_git_url("git://host/r.git#--upload-pack=x")


def test_git_context_default_branch_ref_and_subdir(tmp_dir, git_daemon):
    with open_build_context(None, tmp_dir=tmp_dir, remote=git_daemon) as context:
        assert context.dockerfile.stages[0].name == "top"
        assert os.path.isdir(os.path.join(context.root, ".git"))  # Docker keeps it too
    with open_build_context(None, tmp_dir=tmp_dir, remote=git_daemon + "#v2") as context:
        assert context.dockerfile.stages[0].name == "v2"
    with open_build_context(None, tmp_dir=tmp_dir, remote=git_daemon + "#master:sub") as context:
        assert context.dockerfile.stages[0].name == "sub"
        assert sorted(os.listdir(context.root)) == ["Dockerfile", "data"]


def test_git_context_errors(tmp_dir, git_daemon):
    with pytest.raises(Exception, match="^error fetching: .*no-such-branch"):
        open_build_context(None, tmp_dir=tmp_dir, remote=git_daemon + "#no-such-branch")
    with pytest.raises(InvalidArgument, match="^error setting git context, missing: No such file or directory$"):
        open_build_context(None, tmp_dir=tmp_dir, remote=git_daemon + "#master:missing")
    with pytest.raises(InvalidArgument, match="^error setting git context, not a directory: sub/data$"):
        open_build_context(None, tmp_dir=tmp_dir, remote=git_daemon + "#:sub/data")
    # escape -> /etc is resolved inside the checkout, where there is no etc/
    with pytest.raises(InvalidArgument, match="^error setting git context, escape: No such file or directory$"):
        open_build_context(None, tmp_dir=tmp_dir, remote=git_daemon + "#:escape")


def test_git_context_from_a_dumb_http_server(tmp_dir, git_repo, http_server):
    # A plain web server cannot answer a shallow fetch: Docker detects that and fetches in full.
    served, base = http_server
    git(git_repo, "update-server-info")
    os.symlink(git_repo, served / "repo.git")
    with open_build_context(None, tmp_dir=tmp_dir, remote=f"{base}/repo.git#:sub") as context:
        assert context.dockerfile.stages[0].name == "sub"


# -- the client side ---------------------------------------------------------------------


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "build").mkdir()
    (root / "Dockerfile").write_bytes(DOCKERFILE)
    (root / ".dockerignore").write_text("build\n*.log\nDockerfile\n.dockerignore\n")
    (root / "src" / "main.c").write_text("int main;\n")
    os.chmod(root / "src" / "main.c", 0o640)
    (root / "build" / "main.o").write_text("obj")
    (root / "debug.log").write_text("log")
    os.symlink("/etc/passwd", root / "passwd-link")
    os.link(root / "src" / "main.c", root / "src" / "same.c")
    return root


def test_tar_context_is_what_the_docker_cli_sends(project):
    with tar_context(str(project)) as packed, tarfile.open(fileobj=packed) as archive:
        members = {member.name: member for member in archive.getmembers()}
        assert sorted(members) == [".dockerignore", "Dockerfile", "passwd-link", "src", "src/main.c", "src/same.c"]
        assert all((m.uid, m.gid, m.uname, m.gname) == (0, 0, "", "") for m in members.values())
        assert members["passwd-link"].issym() and members["passwd-link"].linkname == "/etc/passwd"
        assert members["src/main.c"].mode == 0o640
        assert members["src/same.c"].islnk() and members["src/same.c"].linkname == "src/main.c"
        assert archive.extractfile("Dockerfile").read() == DOCKERFILE


def test_tar_context_with_a_dockerfile_in_a_subdirectory(project):
    (project / "build" / "Dockerfile.ci").write_bytes(DOCKERFILE)
    with tar_context(str(project), "build/Dockerfile.ci") as packed, tarfile.open(fileobj=packed) as archive:
        assert "build/Dockerfile.ci" in archive.getnames()
        assert "build/main.o" not in archive.getnames()


@pytest.mark.root
def test_tar_context_round_trip(project, tmp_dir):
    with tar_context(str(project)) as packed:
        with open_build_context(packed, tmp_dir=tmp_dir) as context:
            # .dockerignore excludes itself and the Dockerfile: the daemon reads, then drops them
            assert sorted(os.listdir(context.root)) == ["passwd-link", "src"]
            assert os.readlink(os.path.join(context.root, "passwd-link")) == "/etc/passwd"
            assert os.stat(os.path.join(context.root, "src", "same.c")).st_ino == os.stat(
                os.path.join(context.root, "src", "main.c")
            ).st_ino


def test_tar_context_with_a_bad_dockerignore(project):
    (project / ".dockerignore").write_text("[\n")
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        tar_context(str(project))
