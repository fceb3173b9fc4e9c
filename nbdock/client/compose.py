"""The real ``docker-compose`` (1.29, Debian's package) run against the daemon a notebook uses.

Compose is a client, like the docker CLI: it reads a YAML file describing
an application (services, networks, volumes), and turns it into ordinary
Engine API calls -- create a network ``PROJECT_default``, create and start
a container ``PROJECT_SERVICE_1`` per service, labelled
``com.docker.compose.project=PROJECT`` and ``com.docker.compose.service=
SERVICE`` so that it can find them again.  nbdock does not re-implement
any of it: it writes the cell's YAML into a project directory and runs the
real program with ``DOCKER_HOST`` pointing at nbdock's daemon.

Where the files live: ``$TMPDIR/nbdock-compose/PROJECT/docker-compose.yml``
unless a directory is given, so a notebook leaves nothing in its own folder
(relative paths in the YAML -- ``build: .``, ``./data:/data`` -- are then
relative to that directory, as compose always resolves them against the
file's directory).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nbdock.client.errors import CommandError

#: Debian's package installs it under this name (scripts/install.sh).
PROGRAM = "docker-compose"
COMPOSE_FILE = "docker-compose.yml"

#: The commands of compose 1.29 (``docker-compose help``), to tell a project name from a command.
COMMANDS = frozenset({
    "build", "config", "create", "down", "events", "exec", "help", "images", "kill", "logs", "pause", "port",
    "ps", "pull", "push", "restart", "rm", "run", "scale", "start", "stop", "top", "unpause", "up", "version",
})

# Compose lower-cases project names and keeps [a-z0-9_-]; a name it would rewrite is refused
# here instead, so the name the user wrote is the one on every container and network.
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Project:
    """A compose project: its name (the label on everything compose makes) and its directory."""

    name: str
    directory: str

    @property
    def compose_file(self) -> str:
        return os.path.join(self.directory, COMPOSE_FILE)


def check_project_name(name: str) -> str:
    if not _PROJECT_NAME.match(name):
        raise CommandError(f"invalid compose project name {name!r}: use lower-case letters, digits, '_' and '-', "
                           "starting with a letter or digit")
    return name


def default_directory(name: str) -> str:
    """Where a project's compose file is written when no directory is given."""
    return os.path.join(tempfile.gettempdir(), "nbdock-compose", check_project_name(name))


def write_project(name: str, yaml_text: str, directory: str | None = None) -> Project:
    """Write ``yaml_text`` as the project's docker-compose.yml (replacing the previous one)."""
    if not yaml_text.strip():
        raise CommandError("the compose file is empty: write the application's YAML in the cell")
    project = Project(check_project_name(name), os.path.abspath(directory or default_directory(name)))
    os.makedirs(project.directory, exist_ok=True)
    # Written beside and renamed: a compose run never reads half a file.
    fd, temp_path = tempfile.mkstemp(dir=project.directory, prefix=".compose-", suffix=".yml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(yaml_text if yaml_text.endswith("\n") else yaml_text + "\n")
        os.replace(temp_path, project.compose_file)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise
    return project


def existing_project(name: str, directory: str | None = None) -> Project:
    """A project whose compose file was written before (by ``%%compose NAME``)."""
    project = Project(check_project_name(name), os.path.abspath(directory or default_directory(name)))
    if not os.path.isfile(project.compose_file):
        raise CommandError(f"no compose file for project {name!r} (looked for {project.compose_file}): "
                           f"write it first with a %%compose {name} cell")
    return project


def command_line(project: Project, args: Sequence[str]) -> list[str]:
    """The argv: the project's name and file always explicit, plain output (no colours) for a cell."""
    return [PROGRAM, "--ansi", "never", "-p", project.name, "-f", project.compose_file,
            "--project-directory", project.directory, *args]


def without_terminal(args: Sequence[str]) -> list[str]:
    """A cell has no terminal: ``exec`` and ``run`` get ``-T``, or compose would ask the docker CLI
    for a pseudo-terminal and fail with "the input device is not a TTY"."""
    if args and args[0] in ("exec", "run") and "-T" not in args[1:]:
        return [args[0], "-T", *args[1:]]
    return list(args)


def environment(host: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """Compose's environment: DOCKER_HOST is the daemon; builds go through the Engine API.

    ``COMPOSE_DOCKER_CLI_BUILD=0`` makes compose send the build context to
    ``POST /build`` itself (docker-py) instead of running ``docker build``,
    whose BuildKit client nbdock's daemon does not serve.
    """
    env = dict(os.environ if base is None else base)
    env.update(DOCKER_HOST=host, COMPOSE_DOCKER_CLI_BUILD="0", DOCKER_BUILDKIT="0")
    for unwanted in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):  # they would override DOCKER_HOST
        env.pop(unwanted, None)
    return env


def run(project: Project, args: Sequence[str], host: str, output: Callable[[str], None] = print) -> None:
    """Run compose, handing each line of its output (stdout and stderr, in order) to ``output``.

    A non-zero exit raises CommandError with compose's own message: its
    ``ERROR:`` lines, else its last line.  Interrupting (the notebook's stop
    button) ends compose, by its pid, and re-raises.
    """
    if shutil.which(PROGRAM) is None:
        raise CommandError(f"{PROGRAM} is not installed (apt-get install docker-compose, or scripts/install.sh)", 127)
    args = without_terminal(args)
    process = subprocess.Popen(
        command_line(project, args), cwd=project.directory, env=environment(host), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
    )
    lines: list[str] = []
    try:
        for line in process.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            del lines[:-50]  # only the end is needed for the error message
            output(line)
        code = process.wait()
    except KeyboardInterrupt:
        process.terminate()  # compose stops following (logs -f, events) and exits
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise
    finally:
        process.stdout.close()
    if code != 0:
        raise CommandError(f"docker-compose {' '.join(args)} failed (exit code {code}): {error_message(lines)}", code)


def error_message(lines: Sequence[str]) -> str:
    """What compose said went wrong: its ``ERROR:`` lines (without the prefix), else its last line."""
    errors = [line.partition("ERROR:")[2].strip() for line in lines if line.startswith("ERROR:")]
    if errors:
        return "; ".join(dict.fromkeys(errors))
    meaningful = [line.strip() for line in lines if line.strip()]
    return meaningful[-1] if meaningful else "no output"


def config(project: Project, host: str) -> str:
    """``docker-compose config``: the file as compose understood it (defaults filled, variables substituted)."""
    result = subprocess.run(command_line(project, ["config"]), cwd=project.directory, env=environment(host),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise CommandError(f"docker-compose config failed: {error_message((result.stderr or result.stdout).splitlines())}",
                           result.returncode)
    return result.stdout
