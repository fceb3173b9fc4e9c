"""Differential tests: the parser, substitution and .dockerignore against Docker 20.10 itself.

The reference dockerd builds with its classic builder; we compare what it
says and what ends in the image config with what nbdock's parser and
variable expansion compute for the same Dockerfile.
"""

import io
import os
import posixpath
import re
import shutil
import subprocess
import tarfile

import docker
import pytest

from nbdock.builder.context import open_build_context, tar_context
from nbdock.builder.instructions import Arg, Env, Expose, Label, StopSignal, User, Volume, Workdir
from nbdock.builder.parser import parse_dockerfile
from nbdock.builder.variables import BuildArgs
from nbdock.errors import InvalidArgument

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def api(ref_docker_host):
    client = docker.APIClient(base_url=ref_docker_host, version="1.41")
    yield client
    client.close()


def docker_build(api, dockerfile: str, buildargs=None):
    """Build on the reference engine; return (stream lines, error or None, image config or None).

    The error is an APIError when Docker refused the request (a parse error:
    400 before any output), a message when a step failed in the stream.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile.encode())
        archive.addfile(info, io.BytesIO(dockerfile.encode()))
    buffer.seek(0)
    lines, error, image_id = [], None, None
    try:
        for event in api.build(fileobj=buffer, custom_context=True, rm=True, forcerm=True, decode=True, buildargs=buildargs or {}):
            if "stream" in event:
                lines.append(event["stream"])
            elif "error" in event:
                error = event["error"]
            elif "aux" in event:
                image_id = event["aux"]["ID"]
    except docker.errors.APIError as refused:
        error = refused
    config = None
    if image_id:
        config = api.inspect_image(image_id)["Config"]
        api.remove_image(image_id)
    return lines, error, config


@pytest.mark.parametrize(
    "dockerfile",
    [
        "FROM busybox\nRUN true\nFOOBAR x\n",
        "FROM busybox\nENV =x\n",
        "FROM busybox\nENV x\n",
        "FROM busybox\nLABEL a=b c\n",
        'FROM busybox\nRUN ["a", 1]\n',
        "# escape=x\nFROM busybox\n",
        "# escape=`\n# escape=`\nFROM busybox\n",
        "# just a comment\n",
        "RUN true\n",
        "FROM busybox\nONBUILD ONBUILD RUN x\n",
        "FROM busybox\nONBUILD MAINTAINER x\n",
        "FROM busybox\nSHELL sh -c\n",
        "FROM busybox\nCOPY x\n",
        "FROM busybox\nHEALTHCHECK --retries=0 CMD x\n",
        "FROM busybox\nHEALTHCHECK --timeout=5 CMD x\n",
        "FROM busybox\nHEALTHCHECK --start-period=1x CMD x\n",
        "FROM busybox\nHEALTHCHECK --interval=0s CMD x\n",
        "FROM busybox\nHEALTHCHECK foo x\n",
        "FROM busybox\nCOPY --from=a --from=b x y\n",
        "FROM busybox\nADD --from=a x y\n",
        "FROM busybox AS 1x\n",
        "FROM a b\n",
        "FROM busybox\nUSER\n",
        "FROM busybox\nVOLUME []\n",
        "FROM busybox\nARG =x\n",
        "FROM busybox\nWORKDIR ${A\n",
        "FROM busybox\nLABEL a=${B:=x}\n",
        "FROM busybox\nENV a='unterminated\n",
        "FROM busybox\nUSER ${U:?must be given}\n",
    ],
)
def test_error_messages_match_docker(api, dockerfile):
    _, docker_error, _ = docker_build(api, dockerfile)
    assert docker_error, "Docker accepted it"
    with pytest.raises(InvalidArgument) as ours:
        parsed = parse_dockerfile(dockerfile)
        for instruction in parsed.stages[0].commands:  # substitution errors come at build time
            instruction.expanded({})
    if isinstance(docker_error, docker.errors.APIError):
        assert (ours.value.message, ours.value.status) == (docker_error.explanation, docker_error.status_code)
    else:
        assert ours.value.message == docker_error


SUBSTITUTIONS = r"""
ARG BASE=busybox
ARG META_ONLY=meta
FROM ${BASE}
ARG V1=default1
ARG V2
ARG FROM_CLI
ARG META_ONLY
ENV A=a B="b c" C=${A:-x}${Z:-zz} D=${A:+set} \
    # a comment between continuation lines
    E='$A' F=\$A G="${A}\"q" H=${missing}end I=$V1 J=${FROM_CLI} K=$META_ONLY
ENV OLD old form   value $A
ENV PORTS="80 443" SIG=SIGKILL
LABEL l1=$A l2="$B" l3=${C} l4=$E l5=$F l6=$G l7=$H l8=${A:+${B}} l9=a\ b l10=\\x "l 11"="$V2" l12=${V1:+alt}
WORKDIR /w/$A
WORKDIR sub${D}/..//x
USER ${missing:-nobody}:${A}
EXPOSE $PORTS 7000/udp
VOLUME ["/v/$A", "/v2"]
STOPSIGNAL ${SIG}
"""


def simulate_config(text, buildargs, base_env):
    """What the image config should be, computed with nbdock's parser and substitution.

    A tiny evaluator for the config-only instructions, following Docker's
    classic builder: ENV values replace or append, WORKDIR joins relative paths.
    """
    dockerfile = parse_dockerfile(text)
    build = BuildArgs(buildargs)
    for meta in dockerfile.meta_args:
        for name, value in meta.expanded(build.allowed_values()).args:
            build.add_meta_arg(name, value)
    (stage,) = dockerfile.stages
    assert stage.from_instruction.expanded(build.meta_values()).base_name == "busybox"
    args = build.for_new_stage()
    config = {"Env": list(base_env), "Labels": {}, "WorkingDir": "", "ExposedPorts": [], "Volumes": []}
    for instruction in stage.commands:
        instruction = instruction.expanded(args.environment(config["Env"]), dockerfile.escape)
        if isinstance(instruction, Arg):
            for name, value in instruction.args:
                args.add_arg(name, value)
        elif isinstance(instruction, Env):
            for name, value in instruction.pairs:
                config["Env"] = [item for item in config["Env"] if item.partition("=")[0] != name] + [f"{name}={value}"]
        elif isinstance(instruction, Label):
            config["Labels"].update(instruction.pairs)
        elif isinstance(instruction, Workdir):
            config["WorkingDir"] = posixpath.normpath(posixpath.join("/", config["WorkingDir"], instruction.path))
        elif isinstance(instruction, User):
            config["User"] = instruction.user
        elif isinstance(instruction, Expose):
            config["ExposedPorts"] += [port if "/" in port else port + "/tcp" for port in instruction.ports]
        elif isinstance(instruction, Volume):
            config["Volumes"] += instruction.paths
        elif isinstance(instruction, StopSignal):
            config["StopSignal"] = instruction.signal
    build.merge_referenced(args)
    steps = [str(arg) for arg in dockerfile.meta_args] + [str(stage.from_instruction)] + [str(c) for c in stage.commands]
    return config, steps, dockerfile.step_count, build.unused_warning()


def test_substitution_and_step_text_match_docker(api):
    buildargs = {"FROM_CLI": "cli", "V2": "v2cli", "NOT_DECLARED": "x", "ALSO_NOT": "y"}
    lines, error, docker_config = docker_build(api, SUBSTITUTIONS, buildargs)
    assert error is None
    base_env = api.inspect_image("busybox")["Config"]["Env"] or []
    if not any(item.startswith("PATH=") for item in base_env):  # Docker's builder adds a default PATH
        base_env.append("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    config, steps, step_count, warning = simulate_config(SUBSTITUTIONS, buildargs, base_env)

    assert docker_config["Env"] == config["Env"]
    assert docker_config["Labels"] == config["Labels"]
    assert docker_config["WorkingDir"] == config["WorkingDir"]
    assert docker_config["User"] == config["User"]
    assert sorted(docker_config["ExposedPorts"]) == sorted(config["ExposedPorts"])
    assert sorted(docker_config["Volumes"]) == sorted(config["Volumes"])
    assert docker_config["StopSignal"] == config["StopSignal"]

    output = "".join(lines).splitlines()  # Docker writes "Step ..." and its newline separately
    docker_steps = [re.fullmatch(r"Step (\d+)/(\d+) : (.*)", line).groups() for line in output if line.startswith("Step ")]
    assert [text for _, _, text in docker_steps] == steps
    assert {int(total) for _, total, _ in docker_steps} == {step_count}
    # Go lists the unused names in random (map) order; nbdock sorts them.
    (docker_warning,) = [line for line in output if line.startswith("[Warning] One or more build-args")]
    names = re.compile(r"\[([^\]]*)\] were not consumed")
    assert sorted(names.search(docker_warning).group(1).split()) == names.search(warning).group(1).split()


def test_empty_continuation_warning_matches_docker(api):
    dockerfile = "FROM busybox\nLABEL a=1 \\\n\n   b=2\n"
    lines, error, _ = docker_build(api, dockerfile)
    assert error is None
    ours = "\n".join(parse_dockerfile(dockerfile).warnings) + "\n"
    assert f"\x1b[91m{ours}\x1b[0m" in lines


# -- .dockerignore, through the real docker CLI ------------------------------------------------

LISTING_DOCKERFILE = 'FROM busybox\nCOPY . /ctx\nRUN cd /ctx && echo "LIST""ING:$(find . -mindepth 1 | tr "\\n" "|"):END"\n'


def make_project(root):
    files = [
        "README.md", "notes.txt", "main.py", "app/main.py", "app/test_main.py", "app/__pycache__/main.cpython.pyc",
        "app/data/big.bin", "app/data/keep.bin", "docs/index.md", "docs/api/ref.md", "logs/a.log", "logs/b.log",
        ".git/HEAD", ".env", "deep/a/b/c/file.pyc", "deep/a/b/c/file.py", "x[1].txt", "space name.txt",
    ]
    for path in files:
        os.makedirs(os.path.dirname(os.path.join(root, path)) or root, exist_ok=True)
        with open(os.path.join(root, path), "w") as file:
            file.write(path)
    os.makedirs(os.path.join(root, "empty-dir"))
    os.symlink("../README.md", os.path.join(root, "app", "readme-link"))
    with open(os.path.join(root, "Dockerfile"), "w") as file:
        file.write(LISTING_DOCKERFILE)


IGNORE_FILES = [
    "*.txt\n!notes.txt\n",
    "**/*.pyc\n**/__pycache__\n.git\n.env\n",
    "app/data\n!app/data/keep.bin\ndocs/*/\nlogs\n",
    "*\n!app\n!Dockerfile\napp/test_*\n",
    "# comment\n/deep/**/c\n!deep/a/b/c/file.py\nx\\[1\\].txt\n",
    "Dockerfile\n.dockerignore\nREADME.md\n",
    "app/**\n!app/main.py\n",
]


def docker_cli_context_listing(host, project):
    env = dict(os.environ, DOCKER_HOST=host, DOCKER_BUILDKIT="0")
    result = subprocess.run(["docker", "build", "--rm", "--force-rm", project], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    image_id = re.search(r"Successfully built (\w+)", result.stdout).group(1)
    subprocess.run(["docker", "rmi", image_id], env=env, capture_output=True, check=True)
    listing = re.search(r"LISTING:(.*?):END", result.stdout).group(1)
    return sorted(path.removeprefix("./") for path in listing.split("|") if path)


@pytest.mark.root
@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
@pytest.mark.parametrize("ignore_text", IGNORE_FILES)
def test_context_sent_and_unpacked_matches_docker(ref_docker_host, tmp_path, ignore_text):
    project = tmp_path / "project"
    make_project(str(project))
    (project / ".dockerignore").write_text(ignore_text)
    expected = docker_cli_context_listing(ref_docker_host, str(project))

    (tmp_path / "tmp").mkdir()
    with tar_context(str(project)) as packed, open_build_context(packed, tmp_dir=str(tmp_path / "tmp")) as context:
        ours = sorted(
            os.path.relpath(os.path.join(directory, name), context.root)
            for directory, dirs, files in os.walk(context.root)
            for name in dirs + files
        )
    assert ours == expected
