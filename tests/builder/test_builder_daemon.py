"""Real builds through the daemon (POST /build), driven by the docker CLI (DOCKER_BUILDKIT=0) and docker-py.

Every RUN here is a real container on the runtime; every image lands in the daemon's store.  Each test
removes the images and containers it made."""

import functools
import http.server
import io
import json
import os
import re
import subprocess
import tarfile
import threading
import time
import uuid

import docker
import pytest

from nbdock.image import busybox

pytestmark = pytest.mark.root


def docker_cli(host: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, DOCKER_HOST=host, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, input=input, timeout=300)


class Builds:
    """Builds on one daemon, remembering every image and container they made, to remove them after."""

    def __init__(self, host: str):
        self.host = host
        self.images: list[str] = []
        self.containers: list[str] = []

    def __call__(self, context, *flags: str, input: str | None = None) -> subprocess.CompletedProcess:
        done = docker_cli(self.host, "build", *flags, str(context), input=input)
        self.images += re.findall(r"^ ---> ([0-9a-f]{12})$", done.stdout, re.M)
        self.images += re.findall(r"^(sha256:[0-9a-f]{64})$", done.stdout, re.M)
        return done

    def run(self, image: str, *command: str) -> str:
        done = docker_cli(self.host, "run", "--rm", image, *command)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def cleanup(self) -> None:
        for container in self.containers:
            docker_cli(self.host, "rm", "-f", container)
        for image in reversed(self.images):  # children before their parents
            if image not in self.base_images():
                docker_cli(self.host, "rmi", "-f", image)

    @functools.cache
    def base_images(self) -> tuple[str, ...]:
        listed = docker_cli(self.host, "images", "-q", "--no-trunc", "busybox").stdout.split()
        return tuple(listed) + tuple(image[7:19] for image in listed)


@pytest.fixture(scope="module")
def host(nbdock_host):
    """The test daemon, with a busybox:latest (the host's busybox imported, as `docker import` does it)."""
    if docker_cli(nbdock_host, "image", "inspect", "busybox").returncode != 0:
        rootfs = busybox.rootfs_tar(busybox.find_host_busybox())
        env = dict(os.environ, DOCKER_HOST=nbdock_host)
        subprocess.run(["docker", "import", "--change", 'CMD ["sh"]', "-", "busybox:latest"], input=rootfs, env=env,
                       check=True, capture_output=True)
    return nbdock_host


@pytest.fixture
def build(host):
    builds = Builds(host)
    yield builds
    builds.cleanup()


@pytest.fixture
def name():
    return "nbbuild-" + uuid.uuid4().hex[:8]


def write(directory, files: dict[str, str]) -> None:
    for path, content in files.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(content)


def steps(output: str) -> list[str]:
    return re.findall(r"^Step \d+/\d+ : (.*)$", output, re.M)


def intermediate_containers(output: str) -> list[str]:
    return re.findall(r"^ ---> Running in ([0-9a-f]{12})$", output, re.M)


def exists(host: str, container: str) -> bool:
    return docker_cli(host, "container", "inspect", container).returncode == 0


# -- what a build does ------------------------------------------------------------------------------------


def test_a_build_runs_each_instruction_and_the_image_works(build, tmp_path, name):
    write(tmp_path, {"hello.txt": "hello-file\n", "Dockerfile": (
        "FROM busybox\nENV GREETING=hi\nWORKDIR /app\nCOPY hello.txt /app/\n"
        'RUN echo "built $GREETING" > built.txt && echo to-stderr >&2\n'
        'CMD ["sh", "-c", "cat hello.txt built.txt; pwd"]\n')})
    done = build(tmp_path, "-t", name)
    assert done.returncode == 0, done.stderr
    assert steps(done.stdout) == ["FROM busybox", "ENV GREETING=hi", "WORKDIR /app", "COPY hello.txt /app/",
                                  'RUN echo "built $GREETING" > built.txt && echo to-stderr >&2',
                                  'CMD ["sh", "-c", "cat hello.txt built.txt; pwd"]']
    assert "\x1b[91mto-stderr\n\x1b[0m" in done.stdout  # RUN's stderr, in red as Docker sends it
    containers = intermediate_containers(done.stdout)
    assert len(containers) == 4  # ENV, WORKDIR, RUN, CMD: not COPY
    assert re.findall(r"Removing intermediate container ([0-9a-f]{12})$", done.stdout, re.M) == containers
    assert f"Successfully tagged {name}:latest" in done.stdout
    assert build.run(name) == "hello-file\nbuilt hi\n/app\n"
    history = docker_cli(build.host, "history", "--no-trunc", "--format", "{{.CreatedBy}}", name).stdout.splitlines()
    assert history[0] == '/bin/sh -c #(nop)  CMD ["sh" "-c" "cat hello.txt built.txt; pwd"]'
    assert re.fullmatch(r"/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in /app/ ", history[2])
    assert history[4] == "/bin/sh -c #(nop)  ENV GREETING=hi"
    assert not any(exists(build.host, container) for container in containers)


def test_a_failing_run_stops_the_build_with_its_exit_code(build, tmp_path, name):
    write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo before\nRUN exit 42\nRUN echo never\n"})
    done = build(tmp_path, "-t", name)
    assert done.returncode == 42
    assert "The command '/bin/sh -c exit 42' returned a non-zero code: 42" in done.stderr
    assert "RUN echo never" not in done.stdout
    assert docker_cli(build.host, "images", "-q", name).stdout == ""
    # Docker keeps the failed step's container (to look into) unless --force-rm...
    failed = intermediate_containers(done.stdout)[-1]
    build.containers.append(failed)
    assert docker_cli(build.host, "inspect", "-f", "{{.State.ExitCode}}", failed).stdout == "42\n"
    # ... which removes it too.
    forced = build(tmp_path, "--force-rm")
    assert forced.returncode == 42
    assert not exists(build.host, intermediate_containers(forced.stdout)[-1])


def test_rm_false_keeps_the_intermediate_containers(build, tmp_path):
    write(tmp_path, {"Dockerfile": "FROM busybox\nENV A=1\nRUN touch /made\n"})
    done = build(tmp_path, "--rm=false", "--no-cache")
    kept = intermediate_containers(done.stdout)
    build.containers += kept
    assert done.returncode == 0 and "Removing intermediate container" not in done.stdout
    assert len(kept) == 2 and all(exists(build.host, container) for container in kept)
    assert "A /made" in docker_cli(build.host, "diff", kept[1]).stdout


def test_a_client_that_hangs_up_stops_the_build(build, tmp_path):
    """Ctrl-C on `docker build` during a long RUN: its container is killed and removed, as Docker does."""
    write(tmp_path, {"Dockerfile": "FROM busybox\nRUN sleep 600\n"})
    env = dict(os.environ, DOCKER_HOST=build.host, DOCKER_BUILDKIT="0")
    client = subprocess.Popen(["docker", "build", "--no-cache", str(tmp_path)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        for line in client.stdout:
            if line.startswith(" ---> Running in "):
                container = line.split()[-1]
                break
        running = lambda: docker_cli(build.host, "inspect", "-f", "{{.State.Running}}", container).stdout  # noqa: E731
        deadline = time.monotonic() + 10
        while running() != "true\n" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert running() == "true\n"
    finally:
        client.kill()
        client.wait()
    deadline = time.monotonic() + 10
    while exists(build.host, container) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not exists(build.host, container)


def test_quiet_prints_only_the_image_id(build, tmp_path, name):
    write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo noisy\n"})
    done = build(tmp_path, "-q", "-t", name)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", done.stdout), done.stdout
    inspected = docker_cli(build.host, "inspect", "-f", "{{.Id}}", name).stdout
    assert inspected == done.stdout


def test_the_cache_reuses_steps_until_a_copied_file_changes(build, tmp_path):
    write(tmp_path, {"a.txt": "v1\n", "b.txt": "b\n",
                     "Dockerfile": "FROM busybox\nRUN echo one > /one\nCOPY b.txt /\nCOPY a.txt /\nRUN cat /a.txt > /copy\n"})
    first = build(tmp_path)
    again = build(tmp_path)
    assert again.stdout.count(" ---> Using cache") == 4
    assert re.findall(r"Successfully built (\w+)", again.stdout) == re.findall(r"Successfully built (\w+)", first.stdout)
    os.utime(tmp_path / "a.txt", (1, 1))  # the time of a file is not in its checksum
    assert build(tmp_path).stdout.count(" ---> Using cache") == 4
    (tmp_path / "a.txt").write_text("v2\n")
    changed = build(tmp_path)
    assert changed.stdout.count(" ---> Using cache") == 2  # RUN and COPY b.txt; then everything runs
    image = re.search(r"Successfully built (\w+)", changed.stdout).group(1)
    assert build.run(image, "cat", "/copy") == "v2\n"
    assert build(tmp_path, "--no-cache").stdout.count("Using cache") == 0


def test_concurrent_builds_of_the_same_dockerfile_both_succeed(build, tmp_path):
    write(tmp_path, {"f": "x" * 100000, "Dockerfile": "FROM busybox\nCOPY f /f\nRUN wc -c /f > /size\nENV DONE=1\n"})
    results = [None, None]

    def one(index):
        results[index] = build(tmp_path, "--no-cache")

    threads = [threading.Thread(target=one, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for done in results:
        assert done.returncode == 0, done.stderr
        image = re.search(r"Successfully built (\w+)", done.stdout).group(1)
        assert build.run(image, "cat", "/size") == "100000 /f\n"


def test_multi_stage_builds_copy_from_stages_and_images(build, tmp_path, name):
    write(tmp_path, {"Dockerfile": (
        "ARG BASE=busybox\nFROM $BASE AS compile\nARG V=1\nRUN echo compiled-$V > /artifact\n"
        "FROM busybox AS unused\nRUN exit 1\n"
        "FROM busybox\nCOPY --from=compile /artifact /from-name\nCOPY --from=0 /artifact /from-index\n"
        "COPY --from=busybox /bin/busybox /from-image\n")})
    done = build(tmp_path, "--build-arg", "V=2", "--target", "compile", "-t", name)
    assert done.returncode == 0 and steps(done.stdout)[-1] == "RUN echo compiled-$V > /artifact"
    bad = build(tmp_path, "-t", name)
    assert bad.returncode == 1  # the unused stage still runs, and fails, in the classic builder
    write(tmp_path, {"Dockerfile": (tmp_path / "Dockerfile").read_text().replace("RUN exit 1", "RUN true")})
    done = build(tmp_path, "--build-arg", "V=2", "-t", name)
    assert done.returncode == 0, done.stderr
    assert build.run(name, "cat", "/from-name", "/from-index") == "compiled-2\ncompiled-2\n"
    assert build.run(name, "sh", "-c", "cmp /from-image /bin/busybox && echo same") == "same\n"
    wrong = build(tmp_path, "--target", "nope")
    assert "failed to reach build target nope in Dockerfile" in wrong.stderr


def test_onbuild_triggers_run_in_the_child_build_only(build, tmp_path, name):
    (tmp_path / "parent").mkdir()
    (tmp_path / "child").mkdir()
    write(tmp_path / "parent", {"Dockerfile": "FROM busybox\nONBUILD RUN echo triggered > /trigger\n"})
    assert build(tmp_path / "parent", "-t", name).returncode == 0
    write(tmp_path / "child", {"Dockerfile": f"FROM {name}\n"})
    done = build(tmp_path / "child", "-t", name + "-child")
    assert "# Executing 1 build trigger\n" in done.stdout
    assert build.run(name + "-child", "cat", "/trigger") == "triggered\n"
    inherited = docker_cli(build.host, "inspect", "-f", "{{json .Config.OnBuild}}", name + "-child").stdout
    assert inherited == "null\n"
    for tag in (name, name + "-child"):
        docker_cli(build.host, "rmi", tag)


def test_from_scratch(build, tmp_path, name):
    write(tmp_path, {"hello": "hi\n", "Dockerfile": 'FROM scratch\nENV A=1\nWORKDIR /w\nCOPY hello .\nCMD ["/w/hello"]\n'})
    done = build(tmp_path, "-t", name)
    assert done.returncode == 0, done.stderr
    inspected = json.loads(docker_cli(build.host, "image", "inspect", name).stdout)[0]
    assert inspected["Config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1"]
    assert (inspected["Config"]["WorkingDir"], inspected["Config"]["Cmd"], inspected["Parent"] != "") == ("/w", ["/w/hello"], True)
    assert len(inspected["RootFS"]["Layers"]) == 2  # WORKDIR's directory, COPY's file
    container = docker_cli(build.host, "create", name).stdout.strip()
    build.containers.append(container)
    copied = docker_cli(build.host, "cp", f"{container}:/w/hello", "-").stdout
    assert "hi\n" in copied
    write(tmp_path, {"Dockerfile": "FROM scratch\nRUN true\n"})
    assert "cannot RUN in an empty image (FROM scratch): it has no /bin/sh" in build(tmp_path).stderr


def test_copy_semantics(build, tmp_path, name):
    write(tmp_path, {"f.txt": "f\n", "dir/sub/x": "x\n", "a.md": "a\n", "b.md": "b\n", "Dockerfile": (
        "FROM busybox\nRUN mkdir -p /srv/real && ln -s /srv/real /linkdir\n"
        "COPY f.txt /linkdir/\nCOPY --chown=7:8 f.txt /new/deep/\nCOPY dir /copied\nCOPY *.md /docs/\n"
        'COPY ["f.txt", "/with space/"]\nWORKDIR /w\nCOPY f.txt relative\n')})
    os.symlink("sub", tmp_path / "dir" / "link")
    done = build(tmp_path, "-t", name)
    assert done.returncode == 0, done.stderr
    listing = build.run(name, "sh", "-c", "ls -ln /srv/real /new /new/deep /copied /docs '/with space' /w | "
                                          "sed 's/ [A-Z][a-z][a-z] .* [0-9:]* / /'")
    assert re.search(r"-rw-r--r-- +1 0 +0 +2 f.txt", listing)  # into the symlink's target
    assert re.search(r"drwxr-xr-x +2 7 +8 .* deep", listing)  # a new parent belongs to the --chown user
    assert re.search(r"lrwxrwxrwx +1 0 +0 .* link -> sub", listing)  # a context symlink stays a symlink
    assert re.search(r"a.md\n.*b.md", listing) and "relative" in listing


def test_add_unpacks_local_archives_and_downloads_urls(build, tmp_path, name):
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as archive:
        info = tarfile.TarInfo("pkg/file.txt")
        info.size, info.uid, info.gid = 7, 1234, 5678
        archive.addfile(info, io.BytesIO(b"inside\n"))
    (tmp_path / "pkg.tar.gz").write_bytes(payload.getvalue())
    served = tmp_path / "served"
    served.mkdir()
    (served / "remote.txt").write_text("from the web\n")
    (served / "remote.tar.gz").write_bytes(payload.getvalue())
    with serve(served) as url:
        write(tmp_path, {"Dockerfile": f"FROM busybox\nADD pkg.tar.gz /opt/\nADD {url}/remote.txt {url}/remote.tar.gz /dl/\n"})
        done = build(tmp_path, "-t", name)
    assert done.returncode == 0, done.stderr
    assert build.run(name, "sh", "-c", "cat /opt/pkg/file.txt; stat -c '%u:%g' /opt/pkg/file.txt") == "inside\n1234:5678\n"
    assert build.run(name, "sh", "-c", "cat /dl/remote.txt; stat -c %a /dl/remote.txt; ls /dl") == \
        "from the web\n600\nremote.tar.gz\nremote.txt\n"  # a download stays as it is, even a tar


def test_a_context_cannot_reach_outside_itself(build, tmp_path):
    write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY out /stolen\n"})
    os.symlink("/etc/hostname", tmp_path / "out")
    done = build(tmp_path)
    assert "file not found in build context or excluded by .dockerignore: stat out: file does not exist" in done.stderr
    write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY ../etc/hostname /stolen\n"})
    assert "forbidden path outside the build context: ../etc/hostname ()" in build(tmp_path).stderr


def test_a_context_tar_climbing_out_stays_inside_the_context(host, name):
    """``../../escaped`` in a context tar lands at the context's top, as Docker reads it (in a chroot)."""
    dockerfile = b"FROM busybox\nCOPY escaped /escaped\n"
    body = io.BytesIO()
    with tarfile.open(fileobj=body, mode="w") as archive:
        for member, data in (("Dockerfile", dockerfile), ("../../escaped", b"x")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    client = docker.APIClient(base_url=host, version="1.41")
    try:
        messages = list(client.build(fileobj=io.BytesIO(body.getvalue()), custom_context=True, tag=name, decode=True))
        assert not [m for m in messages if "error" in m], messages
        container = client.create_container(name, ["cat", "/escaped"])
        client.start(container)
        client.wait(container)
        assert client.logs(container) == b"x"
        client.remove_container(container)
    finally:
        client.remove_image(name, force=True)


def test_a_dockerfile_alone_on_stdin(build, name):
    done = build("-", "-t", name, input="FROM busybox\nRUN echo dockerfile-only > /x\n")
    assert done.returncode == 0, done.stderr
    assert build.run(name, "cat", "/x") == "dockerfile-only\n"


def test_a_remote_context(build, tmp_path, name):
    context = tmp_path / "context"
    context.mkdir()
    write(context, {"Dockerfile": "FROM busybox\nCOPY file /file\n", "file": "remote context\n"})
    subprocess.run(["tar", "-C", str(context), "-czf", str(tmp_path / "context.tar.gz"), "."], check=True)
    with serve(tmp_path) as url:
        done = build(f"{url}/context.tar.gz", "-t", name)
    assert done.returncode == 0, done.stderr
    assert build.run(name, "cat", "/file") == "remote context\n"


# -- docker-py -----------------------------------------------------------------------------------------------


def test_docker_py_builds_with_build_args_and_labels(host, tmp_path, name):
    write(tmp_path, {"Dockerfile": "FROM busybox\nARG WHO=nobody\nRUN echo hello $WHO > /greeting\n"})
    client = docker.DockerClient(base_url=host)
    try:
        image, logs = client.images.build(path=str(tmp_path), tag=name, buildargs={"WHO": "py", "UNUSED": "1"},
                                          labels={"made.by": "test"}, rm=True)
        assert image.labels == {"made.by": "test"}
        assert any("[Warning] One or more build-args [UNUSED] were not consumed" in line.get("stream", "")
                   for line in logs)
        assert client.containers.run(image.id, "cat /greeting", remove=True) == b"hello py\n"
        history = client.api.history(image.id)
        assert history[1]["CreatedBy"] == "|1 WHO=py /bin/sh -c echo hello $WHO > /greeting"
        write(tmp_path, {"Dockerfile": "FROM busybox\nRUN exit 3\n"})
        with pytest.raises(docker.errors.BuildError, match="returned a non-zero code: 3"):
            client.images.build(path=str(tmp_path), forcerm=True)
        write(tmp_path, {"Dockerfile": "FROM busybox\nFOO bar\n"})
        with pytest.raises(docker.errors.APIError) as refused:
            client.images.build(path=str(tmp_path))
        assert refused.value.status_code == 400
        assert refused.value.explanation == "dockerfile parse error line 2: unknown instruction: FOO"
    finally:
        client.images.remove(name)
        client.close()


def test_the_stream_carries_docker_s_messages(host, tmp_path):
    """The raw JSON messages: steps and their newlines apart, the image ID in aux, errors with a code."""
    client = docker.APIClient(base_url=host, version="1.41")
    dockerfile = io.BytesIO(b"FROM busybox\nRUN exit 5\n")
    messages = list(client.build(fileobj=dockerfile, decode=True, forcerm=True))
    assert messages[:2] == [{"stream": "Step 1/2 : FROM busybox"}, {"stream": "\n"}]
    assert messages[-1] == {"errorDetail": {"code": 5, "message": "The command '/bin/sh -c exit 5' returned a non-zero code: 5"},
                            "error": "The command '/bin/sh -c exit 5' returned a non-zero code: 5"}
    messages = list(client.build(fileobj=io.BytesIO(b"FROM busybox\nENV A=1\n"), decode=True, rm=True))
    (aux,) = [message["aux"] for message in messages if "aux" in message]
    built = client.inspect_image(aux["ID"])
    assert {"stream": f"Successfully built {aux['ID'][7:19]}\n"} in messages
    assert built["Config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1"]
    client.remove_image(aux["ID"])
    client.close()


# -- helpers ---------------------------------------------------------------------------------------------------


class serve:
    """A plain HTTP server on 127.0.0.1 for one directory, in a thread, for the ``with`` block."""

    def __init__(self, directory):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

