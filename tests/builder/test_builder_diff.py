"""Differential tests: the same builds, through the same docker CLI, on Docker 20.10 and on nbdock.

What a user sees must be the same: the build's output (IDs aside), its exit status, ``docker history``
(checksums included), the image's Config and ContainerConfig, and the files in the image."""

import difflib
import json
import os
import re
import subprocess

import pytest

from nbdock.image import busybox

pytestmark = [pytest.mark.root, pytest.mark.docker]

IDS = re.compile(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b")
#: Lines the CLI prints for either engine that say nothing about the build.
CLI_NOISE = ("DEPRECATED", "Sending build context", "BuildKit is currently disabled", "environment-variable")


def docker_cli(host: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DOCKER_HOST=host, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def engines(ref_docker_host, nbdock_host):
    """Both engines, each with a busybox:latest."""
    if docker_cli(nbdock_host, "image", "inspect", "busybox").returncode != 0:
        env = dict(os.environ, DOCKER_HOST=nbdock_host)
        subprocess.run(["docker", "import", "--change", 'CMD ["sh"]', "-", "busybox:latest"], env=env, check=True,
                       capture_output=True, input=busybox.rootfs_tar(busybox.find_host_busybox()))
    return {"docker": ref_docker_host, "nbdock": nbdock_host}


class Built:
    """One build on one engine: what the user saw, and what they can inspect."""

    def __init__(self, host: str, done: subprocess.CompletedProcess):
        self.host = host
        self.returncode = done.returncode
        lines = (done.stdout + done.stderr).splitlines()
        self.output = "\n".join(IDS.sub("<id>", line) for line in lines if not line.lstrip().startswith(CLI_NOISE))
        built = re.search(r"Successfully built (\w+)", done.stdout)
        self.image = built.group(1) if built else None
        self.made = re.findall(r"^ ---> ([0-9a-f]{12})$", done.stdout, re.M)  # in the order they were made

    def history(self) -> list[str]:
        listed = docker_cli(self.host, "history", "--no-trunc", "--format", "{{.CreatedBy}} | {{.Size}}", self.image)
        return listed.stdout.splitlines()[:-1]  # the base image's own entry differs between the engines

    def configs(self) -> dict:
        (image,) = json.loads(docker_cli(self.host, "inspect", self.image).stdout)
        for config in (image["Config"], image["ContainerConfig"]):
            config["Image"] = IDS.sub("<id>", config["Image"])
            config.pop("Hostname")
        return {key: image[key] for key in ("Config", "ContainerConfig", "Author", "Os", "Architecture")}

    def files(self, *paths: str) -> str:
        """``ls -lnR`` of ``paths`` in the image, without times (new directories are made at build time)."""
        listing = docker_cli(self.host, "run", "--rm", "--entrypoint", "", self.image, "ls", "-lndR", *paths)
        return re.sub(r" [A-Z][a-z]{2} +\d+ +[\d:]+ ", " ", listing.stdout + listing.stderr)


@pytest.fixture
def build_both(engines):
    """Build a context on both engines; everything the builds made is removed afterwards."""
    made: list[tuple[str, str]] = []
    before = {host: set(docker_cli(host, "images", "-aq").stdout.split()) for host in engines.values()}

    def build(context, *flags: str) -> dict[str, Built]:
        results = {}
        for engine, host in engines.items():
            results[engine] = Built(host, docker_cli(host, "build", "--rm", "--force-rm", *flags, str(context)))
            made.extend((host, image) for image in results[engine].made if image not in before[host])
        return results

    yield build
    for host, image in reversed(made):  # children first: a parent cannot go while a child is there
        docker_cli(host, "rmi", "-f", image)


def write(directory, files: dict[str, str]) -> None:
    for path, content in files.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(content)


def assert_same(results: dict[str, Built], *paths: str) -> None:
    docker, nbdock = results["docker"], results["nbdock"]
    assert nbdock.returncode == docker.returncode, nbdock.output
    assert nbdock.output == docker.output, differences(docker.output, nbdock.output)
    if docker.image:
        assert nbdock.history() == docker.history()
        assert nbdock.configs() == docker.configs()
        if paths:
            assert nbdock.files(*paths) == docker.files(*paths)


def differences(docker: str, nbdock: str) -> str:
    return "\n".join(difflib.unified_diff(docker.splitlines(), nbdock.splitlines(), "docker", "nbdock", lineterm=""))


EVERY_INSTRUCTION = """\
ARG BASE=busybox
FROM $BASE AS build
ARG V=1
RUN echo $V > /v && echo to-stderr >&2
ONBUILD RUN echo trigger > /triggered
ONBUILD COPY a.txt /trig
FROM build AS second
FROM busybox
COPY --from=build /v /v
COPY --from=0 /v /v0
COPY --from=second /triggered /trig /
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-ec"]
RUN echo shell
STOPSIGNAL SIGTERM
EXPOSE 80 53/udp 8000-8001
VOLUME /data
USER nobody
MAINTAINER me
LABEL a=b "c d"=e
WORKDIR rel/dir
ENV PATH=/opt:$PATH X="a b"
ENTRYPOINT ["echo"]
CMD ["from", "cmd"]
"""


def test_every_instruction(build_both, tmp_path):
    write(tmp_path, {"a.txt": "a\n", "Dockerfile": EVERY_INSTRUCTION})
    results = build_both(tmp_path, "--build-arg", "V=2", "--build-arg", "UNUSED=3", "--label", "lab=1")
    assert results["docker"].returncode == 0, results["docker"].output
    assert_same(results, "/v", "/v0", "/triggered", "/trig", "/rel")


COPY_CASES = """\
FROM busybox
RUN mkdir -p /srv/real && ln -s /srv/real /linkdir && ln -s /srv/real/file /linkfile
COPY f.txt /linkdir/
COPY f.txt /linkfile
COPY --chown=7:8 f.txt /new/deep/
COPY --chown=7:8 dd /dd/
COPY dd /tmp
COPY tmp /
COPY *.md /docs/
COPY [ab].md ./rel/
COPY flink /flink-copied
COPY src /src
COPY --chown=nobody:nogroup src /src2
COPY ["with space.txt", "/spaced dir/"]
ADD pkg.tar.gz /opt/
ADD notreally.txt /nr/
WORKDIR /w/x
COPY f.txt .
COPY f.txt rel2
"""


def test_copy_and_add(build_both, tmp_path):
    write(tmp_path, {"f.txt": "f\n", "dd/e/y": "y\n", "a.md": "a\n", "b.md": "b\n", "tmp/t": "t\n",
                     "src/sub/s": "s\n", "with space.txt": "spaced\n", "pkg/file.txt": "inside\n",
                     "Dockerfile": COPY_CASES})
    os.chmod(tmp_path / "f.txt", 0o640)
    os.chmod(tmp_path / "dd", 0o700)
    os.symlink("f.txt", tmp_path / "flink")
    os.symlink("sub", tmp_path / "src" / "sublink")
    os.link(tmp_path / "src" / "sub" / "s", tmp_path / "src" / "hard")
    subprocess.run(["tar", "-C", str(tmp_path), "-czf", str(tmp_path / "pkg.tar.gz"), "pkg"], check=True)
    (tmp_path / "notreally.txt").write_bytes((tmp_path / "pkg.tar.gz").read_bytes())
    results = build_both(tmp_path)
    assert results["docker"].returncode == 0, results["docker"].output
    assert_same(results, "/srv", "/new", "/dd", "/tmp", "/docs", "/w", "/flink-copied", "/src", "/src2",
                "/spaced dir", "/opt", "/nr")


@pytest.mark.parametrize("dockerfile", [
    "FROM busybox\nRUN echo before\nRUN exit 42\nRUN echo never\n",
    "FROM busybox\nCOPY ../x /x\n",
    "FROM busybox\nCOPY missing /x\n",
    "FROM busybox\nCOPY out /x\n",
    "FROM busybox\nCOPY a.txt in /x\n",
    "FROM busybox\nCOPY *.nomatch /x/\n",
    "FROM busybox\nCOPY --chown=nobody a.txt /x\n",
    "FROM busybox\nCOPY --chmod=644 a.txt /x\n",
    "FROM busybox\nRUN --mount=type=cache,target=/x true\n",
    "FROM busybox\nCOPY --from=3 /x /x\n",
    "FROM busybox\nCOPY --from=0 /x /x\n",
    "FROM busybox\nCOPY --from=busybox /nonexist /x\n",
    "FROM busybox\nCOPY http://127.0.0.1:9/x /x\n",
    "FROM busybox\nADD http://127.0.0.1:9/x /x\n",
    "FROM busybox AS a\nFROM busybox AS a\n",
    "FROM busybox\nSTOPSIGNAL FOO\n",
    "FROM busybox\nEXPOSE 80/foo\n",
    "FROM busybox\nUSER ${U:?must be given}\n",
    "FROM busybox\nFOO bar\n",
    "FROM scratch\n",
    "FROM scratch\nCOPY a.txt /\nCMD [\"/a.txt\"]\n",
])
def test_failures_and_odd_cases(build_both, tmp_path, dockerfile):
    write(tmp_path, {"a.txt": "a\n", "Dockerfile": dockerfile})
    os.symlink("/etc/passwd", tmp_path / "out")
    assert_same(build_both(tmp_path))


@pytest.mark.parametrize("entrypoint", ["", 'ENTRYPOINT ["echo", "ep"]', "ENTRYPOINT echo ep", "ENTRYPOINT []"])
@pytest.mark.parametrize("cmd", ["", 'CMD ["cmd"]', "CMD echo cmd", "CMD", "CMD []"])
def test_entrypoint_and_cmd(build_both, tmp_path, entrypoint, cmd):
    write(tmp_path, {"Dockerfile": f"FROM busybox\n{entrypoint}\n{cmd}\n"})
    assert_same(build_both(tmp_path))


def test_the_second_build_uses_the_cache_like_docker(build_both, tmp_path):
    write(tmp_path, {"a.txt": "a\n", "Dockerfile": EVERY_INSTRUCTION})
    build_both(tmp_path, "--build-arg", "V=2")
    assert_same(build_both(tmp_path, "--build-arg", "V=2"))
    (tmp_path / "a.txt").write_text("changed\n")
    assert_same(build_both(tmp_path, "--build-arg", "V=2"))
