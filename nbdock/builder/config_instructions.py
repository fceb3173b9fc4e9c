"""The Dockerfile instructions that only change the image's config, never its files.

CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL,
ONBUILD, HEALTHCHECK and SHELL each set fields of the container config that
every container of the image starts from.  The builder applies them step by
step (each becomes a history entry with ``#(nop)`` and no layer), and
``docker commit --change`` / ``docker import --change`` apply the same lines.

:func:`history_text` writes what such a step leaves in ``docker history``.
Docker formats it with Go's ``%q`` and ``%v`` verbs, so a CMD shows as
``CMD ["sh" "-c" "echo hi"]`` (no commas) and a SHELL as ``SHELL [/bin/sh -c]``;
we reproduce those forms, because users compare the two.
"""

from __future__ import annotations

import copy
import ipaddress
import posixpath
import signal
from typing import Any

from ..errors import InvalidArgument
from . import dockerfile
from .variables import go_quote

DEFAULT_SHELL = ["/bin/sh", "-c"]

#: What Docker's EXPOSE accepts after the slash.
PORT_PROTOCOLS = ("tcp", "udp", "sctp")


def command_argv(instruction: dockerfile._CommandLine, shell: list[str] | None) -> list[str]:
    """The argv of a RUN/CMD/ENTRYPOINT: exec form as written, shell form through the shell.

    A shell-form command is one string, or nothing at all: a bare ``CMD``
    becomes the shell alone (``["/bin/sh", "-c"]``), as in Docker.
    """
    if instruction.shell_form:
        return list(shell or DEFAULT_SHELL) + list(instruction.command)
    return list(instruction.command)


def apply(config: dict[str, Any], instruction: dockerfile.Instruction, *, cmd_set: bool = False) -> dict[str, Any]:
    """A copy of ``config`` with ``instruction`` applied.

    ``cmd_set`` tells whether this build already set CMD: Docker's rule is that
    ENTRYPOINT clears an inherited CMD, but not one given earlier in the same
    Dockerfile.
    """
    config = copy.deepcopy(config)
    shell = config.get("Shell") or None
    if isinstance(instruction, dockerfile.Cmd):
        config["Cmd"] = command_argv(instruction, shell)
    elif isinstance(instruction, dockerfile.Entrypoint):
        # An empty ENTRYPOINT (`ENTRYPOINT []`, or nothing after the keyword) unsets it.
        config["Entrypoint"] = command_argv(instruction, shell) if instruction.command else None
        if not cmd_set:
            config["Cmd"] = None
    elif isinstance(instruction, dockerfile.Env):
        config["Env"] = _set_env(list(config.get("Env") or []), instruction.pairs)
    elif isinstance(instruction, dockerfile.Label):
        labels = dict(config.get("Labels") or {})
        labels.update(dict(instruction.pairs))
        config["Labels"] = labels
    elif isinstance(instruction, dockerfile.Expose):
        ports = dict(config.get("ExposedPorts") or {})
        for spec in instruction.ports:
            ports.update({port: {} for port in exposed_ports(spec)})
        config["ExposedPorts"] = ports
    elif isinstance(instruction, dockerfile.User):
        config["User"] = instruction.user
    elif isinstance(instruction, dockerfile.Workdir):
        config["WorkingDir"] = normalize_workdir(config.get("WorkingDir") or "", instruction.path)
    elif isinstance(instruction, dockerfile.Volume):
        volumes = dict(config.get("Volumes") or {})
        for path in instruction.paths:
            if not path:
                raise InvalidArgument("VOLUME specified can not be an empty string")
            volumes[path] = {}
        config["Volumes"] = volumes
    elif isinstance(instruction, dockerfile.StopSignal):
        check_signal(instruction.signal)
        config["StopSignal"] = instruction.signal
    elif isinstance(instruction, dockerfile.Onbuild):
        config["OnBuild"] = list(config.get("OnBuild") or []) + [instruction.expression]
    elif isinstance(instruction, dockerfile.Healthcheck):
        config["Healthcheck"] = _healthcheck_config(instruction)
    elif isinstance(instruction, dockerfile.Shell):
        config["Shell"] = list(instruction.shell)
    else:
        raise InvalidArgument(f"{instruction.keyword} does not change the image config")
    return config


def apply_changes(config: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    """``--change`` lines of ``docker commit`` and ``docker import``, applied in order."""
    for instruction in dockerfile.parse_change_lines(list(lines or [])):
        config = apply(config, instruction, cmd_set=True)
    return config


# ---------------------------------------------------------------------------
# The rules of single instructions


def _set_env(env: list[str], pairs: list[tuple[str, str]]) -> list[str]:
    """ENV replaces a variable where it stands in the list, or appends a new one.

    The order matters to users: ``ENV PATH=...`` keeps PATH first in
    ``docker inspect``, exactly where the base image had it.
    """
    for key, value in pairs:
        names = [item.partition("=")[0] for item in env]
        if key in names:
            env[names.index(key)] = f"{key}={value}"
        else:
            env.append(f"{key}={value}")
    return env


def normalize_workdir(current: str, requested: str) -> str:
    """Docker's WORKDIR rule: a relative path continues from the current one (and is cleaned);
    an absolute one is taken as written."""
    if requested.startswith("/"):
        return requested
    joined = posixpath.normpath(posixpath.join("/", current, requested))
    return "/" + joined.lstrip("/")  # normpath keeps a leading "//"; Go's Clean does not


def exposed_ports(spec: str) -> list[str]:
    """The ``"80/tcp"`` keys one EXPOSE word stands for, with Docker's checks and messages.

    A word is ``[ip:[host_port:]]port[/proto]`` (``docker run -p`` syntax,
    of which only the container port matters here); ``port`` may be a range
    (``8000-8002`` exposes three ports).
    """
    parts = spec.split(":")
    container_part = parts[-1]
    ip = ":".join(parts[:-2]) if len(parts) > 2 else ""
    host_part = parts[-2] if len(parts) > 1 else ""
    container_port, _, proto = container_part.partition("/")
    if container_port and not proto:
        proto = "tcp"
    ip = ip.removeprefix("[").removesuffix("]")
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise InvalidArgument(f"Invalid ip address: {ip}") from None
    if not container_port:
        raise InvalidArgument(f"No port specified: {spec}<empty>")
    first, last = _port_range(container_port, "containerPort")
    if host_part:
        _port_range(host_part, "hostPort")
    if proto.lower() not in PORT_PROTOCOLS:
        raise InvalidArgument(f"Invalid proto: {proto}")
    return [f"{port}/{proto.lower()}" for port in range(first, last + 1)]


def _port_range(text: str, what: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    numbers = [low, high] if dash else [low]
    if not all(number.isdigit() and int(number) <= 65535 for number in numbers):
        raise InvalidArgument(f"Invalid {what}: {text}")
    first, last = int(low), int(high or low)
    if last < first:
        raise InvalidArgument(f"Invalid {what}: {text}")
    return first, last


def check_signal(name: str) -> None:
    """STOPSIGNAL takes a signal number or name (``9``, ``KILL``, ``SIGKILL``); anything else is refused."""
    if name.isdigit():
        if int(name) != 0:
            return
    else:
        try:
            signal.Signals["SIG" + name.upper().removeprefix("SIG")]
            return
        except KeyError:
            pass
    raise InvalidArgument(f"Invalid signal: {name}")


def _healthcheck_config(instruction: dockerfile.Healthcheck) -> dict[str, Any]:
    """The image config's Healthcheck: the test, and the settings that differ from Docker's defaults."""
    check: dict[str, Any] = {"Test": list(instruction.test)}
    for key, value in (("Interval", instruction.interval), ("Timeout", instruction.timeout),
                       ("StartPeriod", instruction.start_period), ("Retries", instruction.retries)):
        if value:
            check[key] = value
    return check


# ---------------------------------------------------------------------------
# What the step is called in `docker history`


def history_text(instruction: dockerfile.Instruction, config: dict[str, Any]) -> str:
    """The text a config-only step records, after ``#(nop)``; ``config`` is the config after the step.

    These are Docker's own strings (its builder formats them with Go's fmt
    verbs), so ``docker history`` reads the same for both engines.
    """
    if isinstance(instruction, dockerfile.Env):
        return "ENV" + "".join(f" {key}={value}" for key, value in instruction.pairs)
    if isinstance(instruction, dockerfile.Label):
        return "LABEL" + "".join(f" {key}={value}" for key, value in instruction.pairs)
    if isinstance(instruction, dockerfile.Arg):
        words = [name if value is None else f"{name}={value}" for name, value in instruction.args]
        return "ARG " + " ".join(words)
    if isinstance(instruction, dockerfile.Cmd):
        return "CMD " + go_quoted_list(config.get("Cmd"))
    if isinstance(instruction, dockerfile.Entrypoint):
        return "ENTRYPOINT " + go_quoted_list(config.get("Entrypoint"))
    if isinstance(instruction, dockerfile.Healthcheck):
        return "HEALTHCHECK " + _healthcheck_text(config["Healthcheck"])
    if isinstance(instruction, dockerfile.Expose):
        return "EXPOSE " + " ".join(instruction.ports)
    if isinstance(instruction, dockerfile.Volume):
        return "VOLUME " + go_list(instruction.paths)
    if isinstance(instruction, dockerfile.Shell):
        return "SHELL " + go_list(config.get("Shell"))
    if isinstance(instruction, dockerfile.User):
        return "USER " + instruction.user
    if isinstance(instruction, dockerfile.StopSignal):
        return "STOPSIGNAL " + instruction.signal
    if isinstance(instruction, dockerfile.Maintainer):
        return "MAINTAINER " + instruction.maintainer
    if isinstance(instruction, dockerfile.Onbuild):
        return "ONBUILD " + instruction.expression
    if isinstance(instruction, dockerfile.Workdir):
        return "WORKDIR " + config["WorkingDir"]
    raise InvalidArgument(f"{instruction.keyword} is not a config-only instruction")


def go_quoted_list(items: list[str] | None) -> str:
    """A string list as Go's ``%q`` prints it: ``["sh" "-c" "echo hi"]``."""
    return "[" + " ".join(go_quote(item) for item in items or []) + "]"


def go_list(items: list[str] | None) -> str:
    """A string list as Go's ``%v`` prints it: ``[/bin/sh -c]``."""
    return "[" + " ".join(items or []) + "]"


def _healthcheck_text(check: dict[str, Any]) -> str:
    """Go's ``%q`` of a ``*HealthConfig``: ``&{["CMD-SHELL" "true"] "5s" "0s" "0s" '\\x00'}``.

    ``%q`` quotes the durations through their String method and prints the
    retry count as a quoted character -- an oddity users see in history.
    """
    durations = [go_quote(go_duration(check.get(key, 0))) for key in ("Interval", "Timeout", "StartPeriod")]
    fields = [go_quoted_list(check.get("Test")), *durations, go_quote_rune(check.get("Retries", 0))]
    return "&{" + " ".join(fields) + "}"


def go_duration(nanoseconds: int) -> str:
    """A duration as Go's ``time.Duration.String`` writes it: ``5s``, ``1m30s``, ``1h0m0s``, ``1.5ms``."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < 1_000:
        return f"{sign}{value}ns"
    if value < 1_000_000:
        return sign + _with_fraction(value, 3) + "\u00b5s"
    if value < 1_000_000_000:
        return sign + _with_fraction(value, 6) + "ms"
    seconds = _with_fraction(value % 60_000_000_000, 9) + "s"
    hours, minutes = divmod(value // 60_000_000_000, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _with_fraction(value: int, digits: int) -> str:
    """``value / 10**digits`` in decimal, without trailing zeros (``1500, 3`` -> ``1.5``)."""
    whole, fraction = divmod(value, 10**digits)
    if not fraction:
        return str(whole)
    return f"{whole}." + f"{fraction:0{digits}d}".rstrip("0")


def go_quote_rune(code: int) -> str:
    """A number as Go's ``%q`` prints an integer: the character it codes, quoted (``3`` -> ``'\\x03'``)."""
    character = chr(code)
    if character == "'":
        return "'\\''"
    if character == '"':
        return "'\"'"
    return "'" + go_quote(character)[1:-1] + "'"
