"""The nbdock CLI end to end, against the daemon of the nbdock_host fixture."""

import json
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.root


def test_run_prints_the_output_and_exits_with_the_containers_code(nbdock_cli):
    done = nbdock_cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


@pytest.mark.parametrize("command, code", [("nosuchcommand", 127), ("/etc", 126)])
def test_start_failures_exit_like_docker(nbdock_cli, command, code):
    done = nbdock_cli("run", "--rm", "busybox", command)
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith("Error response from daemon:")


def test_stdin_is_piped_to_the_container(nbdock_cli):
    done = nbdock_cli("run", "-i", "--rm", "busybox", "cat", input="through stdin\n")
    assert done.returncode == 0 and done.stdout == "through stdin\n"


def test_detached_container_lifecycle(nbdock_cli, names):
    name = names("container")
    started = nbdock_cli("run", "-d", "--name", name, "busybox", "sh", "-c", "echo logged; sleep 60")
    assert started.returncode == 0 and len(started.stdout.strip()) == 64
    assert nbdock_cli("ps", "--format", "{{.Names}} {{.State}}").stdout.splitlines().count(f"{name} running") == 1
    assert nbdock_cli("ps", "-q", "--no-trunc").stdout.split().count(started.stdout.strip()) == 1
    assert nbdock_cli("exec", name, "sh", "-c", "exit 4").returncode == 4
    assert nbdock_cli("logs", name).stdout == "logged\n"
    assert nbdock_cli("inspect", "-f", "{{.State.Running}} {{.Name}}", name).stdout == f"true /{name}\n"
    assert nbdock_cli("stop", "-t", "1", name).stdout == f"{name}\n"
    assert nbdock_cli("rm", name).stdout == f"{name}\n"
    missing = nbdock_cli("rm", name)
    assert missing.returncode == 1 and f"No such container: {name}" in missing.stderr


def test_create_then_start_attached_and_wait(nbdock_cli, names):
    name = names("container")
    assert nbdock_cli("create", "--name", name, "busybox", "sh", "-c", "echo hi; exit 2").returncode == 0
    done = nbdock_cli("start", "-a", name)
    assert (done.returncode, done.stdout) == (2, "hi\n")
    assert nbdock_cli("wait", name).stdout == "2\n"


def test_build_honours_dockerignore_and_tags(nbdock_cli, names, tmp_path):
    first, second = names("image"), names("image")
    (tmp_path / "kept.txt").write_text("kept\n")
    (tmp_path / "secret.txt").write_text("never sent\n")
    (tmp_path / ".dockerignore").write_text("secret.txt\n")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx/\nCMD [\"ls\", \"/ctx\"]\n")
    built = nbdock_cli("build", "-t", first, "-t", second, str(tmp_path))
    assert built.returncode == 0, built.stderr
    assert "Step 2/3 : COPY . /ctx/" in built.stdout and f"Successfully tagged {second}:latest" in built.stdout
    listed = nbdock_cli("run", "--rm", second).stdout.split()
    assert "kept.txt" in listed and "secret.txt" not in listed


def test_failing_build_exits_with_the_steps_code(nbdock_cli, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 7\n")
    done = nbdock_cli("build", "--force-rm", str(tmp_path))
    assert done.returncode == 7
    assert "returned a non-zero code: 7" in done.stderr


def test_network_create_with_a_range_and_auxiliary_addresses(nbdock_cli, names):
    network = names("network")
    created = nbdock_cli("network", "create", "--subnet", "10.251.0.0/16", "--ip-range", "10.251.3.0/24",
                         "--aux-address", "router=10.251.3.0", network)
    assert created.returncode == 0, created.stderr
    try:
        ipam = json.loads(nbdock_cli("network", "inspect", "-f", "{{json .IPAM.Config}}", network).stdout)
        assert ipam == [{"Subnet": "10.251.0.0/16", "IPRange": "10.251.3.0/24", "Gateway": "10.251.0.1",
                         "AuxiliaryAddresses": {"router": "10.251.3.0"}}]
        address = nbdock_cli("run", "--rm", "--network", network, "busybox", "sh", "-c",
                             "ip -4 addr show eth0 | grep -o 'inet [0-9.]*'").stdout
        assert address == "inet 10.251.3.1\n"  # the range's first address is reserved
    finally:
        nbdock_cli("network", "rm", network)
    outside = nbdock_cli("network", "create", "--subnet", "10.251.0.0/16", "--aux-address", "r=10.9.0.1", network)
    assert (outside.returncode, outside.stderr.strip()) == (125, "no matching subnet for aux-address 10.9.0.1")


def test_volumes_and_networks(nbdock_cli, names):
    volume, network = names("volume"), names("network")
    assert nbdock_cli("volume", "create", volume).stdout == f"{volume}\n"
    assert volume in nbdock_cli("volume", "ls", "-q").stdout.split()
    assert nbdock_cli("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", volume).stdout == f"{volume} local\n"
    assert nbdock_cli("volume", "rm", volume).stdout == f"{volume}\n"
    assert nbdock_cli("network", "create", network).returncode == 0
    assert network in nbdock_cli("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert nbdock_cli("network", "rm", network).stdout == f"{network}\n"


def test_cp_both_ways(nbdock_cli, names, tmp_path):
    name = names("container")
    assert nbdock_cli("run", "-d", "--name", name, "busybox", "sleep", "60").returncode == 0
    source = tmp_path / "dir"
    source.mkdir()
    (source / "file").write_text("copied\n")
    assert nbdock_cli("cp", str(source), f"{name}:/tmp/").returncode == 0
    assert nbdock_cli("exec", name, "cat", "/tmp/dir/file").stdout == "copied\n"
    back = tmp_path / "back"
    assert nbdock_cli("cp", f"{name}:/tmp/dir", str(back)).returncode == 0
    assert (back / "file").read_text() == "copied\n"


def test_syntax_errors_exit_like_docker_without_a_daemon():
    # A daemon is not even asked: a wrong address must not matter.
    run = lambda *args: subprocess.run(["python3", "-m", "nbdock", "-H", "unix:///nonexistent.sock", *args],  # noqa: E731
                                       capture_output=True, text=True)
    unknown = run("run", "--bogus", "busybox")
    assert unknown.returncode == 125
    assert unknown.stderr.startswith("unknown flag: --bogus\n\nUsage:  nbdock run [OPTIONS] IMAGE [COMMAND] [ARG...]")
    refused = run("run", "--device", "/dev/sda", "busybox")  # docker has it, nbdock refuses it
    assert refused.returncode == 125
    assert refused.stderr.startswith("--device is not supported by nbdock: its containers get the default /dev only")
    missing = run("rm")
    assert missing.returncode == 1 and missing.stderr.startswith("'nbdock rm' requires at least 1 argument")


def test_an_unreachable_daemon_is_named():
    done = subprocess.run(["python3", "-m", "nbdock", "-H", "unix:///nonexistent.sock", "ps"], capture_output=True, text=True)
    assert done.returncode == 1 and "unix:///nonexistent.sock" in done.stderr


# -- the same daemon, docker's CLI and ours: the same text ------------------------------------
# Each listing is filtered down to what the test made, so that nothing else
# the daemon is doing meanwhile can change one answer and not the other.

DIFFERENTIAL = [
    ["images", "--filter", "reference=busybox", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}"],
    ["volume", "ls", "--filter", "name={prefix}"],
    ["network", "ls", "--filter", "name={prefix}"],
    ["history", "--format", "table {{.ID}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}", "busybox"],
    ["ps", "-a", "--filter", "name={prefix}",
     "--format", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.State}}\t{{.Ports}}\t{{.Names}}"],
    ["port", "{container}"],
]


@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
@pytest.mark.parametrize("args", DIFFERENTIAL, ids=lambda a: " ".join(a[:2]))
def test_prints_what_the_docker_cli_prints(nbdock_cli, nbdock_host, names, args):
    container, volume, network = names("container"), names("volume"), names("network")
    assert nbdock_cli("run", "-d", "--name", container, "-p", "127.0.0.1:18099:80", "-p", "53/udp", "busybox",
                      "sleep", "60").returncode == 0
    assert nbdock_cli("volume", "create", volume).returncode == 0
    assert nbdock_cli("network", "create", network).returncode == 0
    args = [arg.replace("{prefix}", names.prefix).replace("{container}", container) for arg in args]
    ours = nbdock_cli(*args)
    theirs = subprocess.run(["docker", "-H", nbdock_host, *args], capture_output=True, text=True)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    assert "{" not in ours.stdout and len(ours.stdout.splitlines()) >= 2  # a header and our own objects


def test_help_needs_no_daemon():
    done = subprocess.run(["python3", "-m", "nbdock", "-H", "unix:///nonexistent.sock", "ps", "--help"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("Usage:  nbdock ps [OPTIONS]")
    assert "--format string" in done.stdout and "-a, --all" in done.stdout


def test_build_with_a_dockerfile_outside_the_context_and_build_args(nbdock_cli, names, tmp_path, monkeypatch):
    tag = names("image")
    context = tmp_path / "context"
    context.mkdir()
    (context / "data.txt").write_text("from the context\n")
    (tmp_path / "elsewhere.Dockerfile").write_text(
        "FROM busybox\nARG GREETING\nCOPY data.txt /data.txt\nRUN echo \"$GREETING\" > /greeting\n")
    monkeypatch.chdir(tmp_path)  # -f is relative to where we are, not to the context
    built = nbdock_cli("build", "-f", "elsewhere.Dockerfile", "--build-arg", "GREETING=hi there", "-t", tag, "context")
    assert built.returncode == 0, built.stderr
    assert nbdock_cli("run", "--rm", tag, "cat", "/greeting", "/data.txt").stdout == "hi there\nfrom the context\n"


def test_build_in_an_empty_directory_says_there_is_no_dockerfile(nbdock_cli, tmp_path):
    done = nbdock_cli("build", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "Error response from daemon: Cannot locate specified Dockerfile: Dockerfile"
