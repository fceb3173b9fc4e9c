"""Pass 2 of reading a Dockerfile: one class per keyword.

Each class is everything nbdock knows about one Dockerfile keyword:

* ``KEYWORD`` and ``arguments``: its name and how the lexer splits what
  follows it (one of the argument forms of :mod:`nbdock.builder.lexer`);
* :meth:`~Instruction.from_line`: the checks Docker makes when it reads the
  line (the number of arguments, the flags it accepts...), giving a typed
  instruction;
* :meth:`~Instruction.expanded`: ``$VARIABLE`` substitution, for the keywords
  Docker substitutes in (at build time, step by step: a value can depend on
  the steps before it);
* :meth:`~Instruction.apply`: its effect on the image config, for the
  keywords that only change the config (a ``#(nop)`` step with no layer);
* :meth:`~Instruction.history_text`: what that step leaves in ``docker history``.

Defining a subclass with a ``KEYWORD`` registers it in :data:`INSTRUCTIONS`,
the one table of keywords: the lexer, the parser and the builder all read
it.  The wording of every message is Docker 20.10's (moby/buildkit's
``frontend/dockerfile/instructions``), because the docker CLI shows them as
they are.  Errors raised here become "dockerfile parse error line N: ..."
in :mod:`nbdock.builder.parser`.
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import posixpath
import re
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import InvalidArgument
from . import lexer
from ..goformat import go_list, go_quote, go_quote_rune, go_quoted_list, go_duration, parse_go_duration
from .lexer import DEFAULT_ESCAPE, ArgumentForm, Line
from .variables import expand, expand_words

#: keyword (upper case) -> its class; filled by Instruction.__init_subclass__.
INSTRUCTIONS: dict[str, type[Instruction]] = {}

#: The shell of shell-form commands when the image sets no SHELL.
DEFAULT_SHELL = ["/bin/sh", "-c"]

#: What Docker's EXPOSE accepts after the slash.
PORT_PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass
class Instruction:
    """One instruction as written.

    It keeps its text (``original``: the logical line, continuation lines
    joined), because Docker prints it ("Step 2/5 : RUN make") and the build
    cache compares it, and the lines it spans.
    """

    keyword: str  # upper case: "RUN"
    original: str  # the instruction as written, continuation lines joined
    line: int  # first line, counting from 1
    end_line: int  # last line (continuations make it differ from ``line``)

    KEYWORD: ClassVar[str] = ""
    #: How the lexer splits the arguments (see lexer.py's argument forms).
    arguments: ClassVar[ArgumentForm] = staticmethod(lexer.no_arguments)
    #: What kind of build step it is: "config" (a new config, no layer), or one the builder
    #: runs itself: "run" (a container), "copy" (files from the context), "workdir" (a directory).
    STEP: ClassVar[str] = "config"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "KEYWORD" in cls.__dict__:  # a keyword of its own, not a variant of one (the builder's --label)
            INSTRUCTIONS[cls.KEYWORD] = cls

    def __str__(self) -> str:
        return self.original

    @classmethod
    def from_line(cls, line: Line, common: dict[str, Any]) -> Instruction:
        """The typed instruction for a split ``line``; ``common`` holds the base fields."""
        raise NotImplementedError

    def expanded(self, env: Mapping[str, str], escape: str = DEFAULT_ESCAPE) -> Instruction:
        """A copy with ``$VARIABLES`` substituted from ``env``.

        Docker does this only for some instructions; the others (RUN, CMD,
        ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER) are returned as
        they are: a shell expands them later, or nothing does.
        """
        return self

    def apply(self, config: dict[str, Any], *, cmd_set: bool = False) -> dict[str, Any]:
        """A copy of the image ``config`` with this instruction applied.

        ``cmd_set`` tells whether this build already set CMD: Docker's rule is
        that ENTRYPOINT clears an inherited CMD, but not one given earlier in
        the same Dockerfile.
        """
        raise InvalidArgument(f"{self.keyword} does not change the image config")

    def note_before(self, config: dict[str, Any]) -> str:
        """What the build prints before running this config-only step ("" for nothing)."""
        return ""

    def update_stage(self, stage: Any) -> None:
        """The step's effect on the build itself, beside the image config.

        ``stage`` is the builder's state of the stage being built: its build
        arguments (``args``), the image's author (``maintainer``) and whether
        this Dockerfile has set CMD (``cmd_set``).  Most steps change none.
        """

    def history_text(self, config: dict[str, Any]) -> str:
        """The text a config-only step records after ``#(nop)``; ``config`` is the config after it.

        These are Docker's own strings (its builder formats them with Go's
        fmt verbs), so ``docker history`` reads the same for both engines.
        """
        raise InvalidArgument(f"{self.keyword} is not a config-only instruction")


# ---------------------------------------------------------------------------
# Checks several keywords share


def parse_flags(line: Line, accepted: tuple[str, ...], repeatable: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """The ``--name=value`` flags of ``line``: name -> values (several only for ``repeatable`` ones)."""
    values: dict[str, list[str]] = {}
    for flag in line.flags:
        name, has_value, value = flag[2:].partition("=")
        if name not in accepted and name not in repeatable:
            raise InvalidArgument(f"Unknown flag: {name}")
        if name in values and name not in repeatable:
            raise InvalidArgument(f"Duplicate flag specified: {name}")
        if not has_value:
            raise InvalidArgument(f"Missing a value on flag: {name}")
        values.setdefault(name, []).append(value)
    return values


def _flag(flags: dict[str, list[str]], name: str) -> str:
    return flags.get(name, [""])[0]


def _exactly_one(line: Line) -> str:
    if len(line.args) != 1:
        raise InvalidArgument(f"{line.keyword.upper()} requires exactly one argument")
    return line.args[0]


def _at_least_one(line: Line) -> None:
    if not line.args:
        raise InvalidArgument(f"{line.keyword.upper()} requires at least one argument")


def _pairs(line: Line) -> list[tuple[str, str]]:
    """ENV and LABEL arguments, alternating keys and values."""
    _at_least_one(line)
    pairs = list(zip(line.args[::2], line.args[1::2]))
    if any(not key for key, _ in pairs):
        raise InvalidArgument(f"{line.keyword.upper()} names can not be blank")
    return pairs


def _expand_pairs(pairs: list[tuple[str, str]], env: Mapping[str, str], escape: str) -> list[tuple[str, str]]:
    # Every pair is expanded with the environment from *before* the
    # instruction: in `ENV A=1 B=$A`, B does not see this A.
    return [(expand(key, env, escape), expand(value, env, escape)) for key, value in pairs]


# ---------------------------------------------------------------------------
# FROM


_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")


@dataclass
class From(Instruction):
    """``FROM [--platform=P] image [AS name]``: starts a build stage."""

    base_name: str
    stage_name: str = ""  # lower-cased, "" when the stage has no name
    platform: str = ""

    KEYWORD = "FROM"
    arguments = staticmethod(lexer.words)

    @classmethod
    def from_line(cls, line, common):
        stage_name = ""
        if len(line.args) == 3 and line.args[1].lower() == "as":
            stage_name = line.args[2].lower()
            if not _STAGE_NAME.fullmatch(stage_name):
                raise InvalidArgument(
                    f"invalid name for build stage: {go_quote(line.args[2])}, name can't start with a number or contain symbols"
                )
        elif len(line.args) != 1:
            raise InvalidArgument("FROM requires either one or three arguments")
        flags = parse_flags(line, ("platform",))
        return cls(**common, base_name=line.args[0], stage_name=stage_name, platform=_flag(flags, "platform"))

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        """``env`` must be the meta args (the ARGs before the first FROM), as in Docker."""
        base_name = expand(self.base_name, env, escape)
        if not base_name:
            raise InvalidArgument(f"base name ({self.base_name}) should not be blank")
        platform = self.platform
        if platform:
            try:
                platform = expand(platform, env, escape)
            except InvalidArgument as err:
                raise InvalidArgument(f"failed to process arguments for platform {platform}: {err.message}") from None
        return dataclasses.replace(self, base_name=base_name, platform=platform)


# ---------------------------------------------------------------------------
# RUN, CMD, ENTRYPOINT: commands


@dataclass
class _CommandLine(Instruction):
    """RUN, CMD and ENTRYPOINT: a command in exec form or in shell form.

    Exec form (a JSON array) is run as it is.  Shell form is one string in
    ``command``, which the builder prefixes with the SHELL (``/bin/sh -c``).
    """

    command: list[str]
    shell_form: bool

    arguments = staticmethod(lexer.json_or_shell_string)

    @staticmethod
    def _command(line: Line) -> dict[str, Any]:
        """Exec form keeps the JSON strings; shell form joins the words into one string."""
        if line.json_form:
            return {"command": list(line.args), "shell_form": False}
        return {"command": [" ".join(line.args)] if line.args else [], "shell_form": True}

    @classmethod
    def from_line(cls, line, common):
        parse_flags(line, ())
        return cls(**common, **cls._command(line))

    def argv(self, shell: list[str] | None) -> list[str]:
        """The command's argv: exec form as written, shell form through the shell.

        A shell-form command is one string, or nothing at all: a bare ``CMD``
        becomes the shell alone (``["/bin/sh", "-c"]``), as in Docker.
        """
        if self.shell_form:
            return list(shell or DEFAULT_SHELL) + list(self.command)
        return list(self.command)


@dataclass
class Run(_CommandLine):
    """``mounts`` are the ``--mount=`` values: Docker 20.10 parses them, but only
    BuildKit can run them (the classic builder then refuses the step)."""

    mounts: list[str] = field(default_factory=list)

    KEYWORD = "RUN"
    STEP = "run"

    @classmethod
    def from_line(cls, line, common):
        flags = parse_flags(line, (), repeatable=("mount",))
        return cls(**common, **cls._command(line), mounts=flags.get("mount", []))


@dataclass
class Cmd(_CommandLine):
    KEYWORD = "CMD"

    def apply(self, config, *, cmd_set=False):
        config = copy.deepcopy(config)
        config["Cmd"] = self.argv(config.get("Shell") or None)
        return config

    def update_stage(self, stage):
        if self.command:
            stage.cmd_set = True  # an ENTRYPOINT after this one keeps it

    def history_text(self, config):
        return "CMD " + go_quoted_list(config.get("Cmd"))


@dataclass
class Entrypoint(_CommandLine):
    """An empty ENTRYPOINT (``ENTRYPOINT []`` or ``ENTRYPOINT ""``) unsets the image's."""

    KEYWORD = "ENTRYPOINT"

    def apply(self, config, *, cmd_set=False):
        config = copy.deepcopy(config)
        config["Entrypoint"] = self.argv(config.get("Shell") or None) if self.command else None
        if not cmd_set:
            config["Cmd"] = None
        return config

    def history_text(self, config):
        return "ENTRYPOINT " + go_quoted_list(config.get("Entrypoint"))


@dataclass
class Shell(Instruction):
    """``SHELL ["executable", "parameters"]``: what shell-form commands are run with."""

    shell: list[str]

    KEYWORD = "SHELL"
    arguments = staticmethod(lexer.json_or_shell_string)

    @classmethod
    def from_line(cls, line, common):
        parse_flags(line, ())
        if not line.args:
            raise InvalidArgument("SHELL requires at least one argument")
        if not line.json_form:
            raise InvalidArgument("SHELL requires the arguments to be in JSON form")
        return cls(**common, shell=list(line.args))

    def apply(self, config, *, cmd_set=False):
        return {**copy.deepcopy(config), "Shell": list(self.shell)}

    def history_text(self, config):
        return "SHELL " + go_list(config.get("Shell"))


# ---------------------------------------------------------------------------
# ENV, LABEL, ARG: names and values


@dataclass
class _Pairs(Instruction):
    """ENV and LABEL: ``key value`` or ``k1=v1 k2="v 2"``.

    The pairs are raw words: their quotes and escapes are removed by
    :meth:`expanded`, together with the substitution, as in Docker.
    """

    pairs: list[tuple[str, str]]

    @classmethod
    def from_line(cls, line, common):
        parse_flags(line, ())
        return cls(**common, pairs=_pairs(line))

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return dataclasses.replace(self, pairs=_expand_pairs(self.pairs, env, escape))

    def history_text(self, config):
        return self.keyword + "".join(f" {key}={value}" for key, value in self.pairs)


@dataclass
class Env(_Pairs):
    KEYWORD = "ENV"
    arguments = staticmethod(lambda rest, escape: lexer.key_value_pairs(rest, escape, "ENV"))

    def apply(self, config, *, cmd_set=False):
        """ENV replaces a variable where it stands in the list, or appends a new one.

        The order matters to users: ``ENV PATH=...`` keeps PATH first in
        ``docker inspect``, exactly where the base image had it.
        """
        env = list(config.get("Env") or [])
        for key, value in self.pairs:
            names = [item.partition("=")[0] for item in env]
            if key in names:
                env[names.index(key)] = f"{key}={value}"
            else:
                env.append(f"{key}={value}")
        return {**copy.deepcopy(config), "Env": env}


@dataclass
class Label(_Pairs):
    KEYWORD = "LABEL"
    arguments = staticmethod(lambda rest, escape: lexer.key_value_pairs(rest, escape, "LABEL"))

    def apply(self, config, *, cmd_set=False):
        labels = dict(config.get("Labels") or {})
        labels.update(dict(self.pairs))
        return {**copy.deepcopy(config), "Labels": labels}


@dataclass
class Arg(Instruction):
    """``ARG name[=default] ...``; a default of None means none was given.

    ARG changes no config: the builder declares the names in its build
    arguments (see variables.BuildArgs), and the step is only history.
    """

    args: list[tuple[str, str | None]]

    KEYWORD = "ARG"
    arguments = staticmethod(lexer.names_or_pairs)

    @classmethod
    def from_line(cls, line, common):
        # Docker does not look at ARG's flags at all.
        _at_least_one(line)
        args: list[tuple[str, str | None]] = []
        for word in line.args:
            name, has_default, default = word.partition("=")
            if has_default and not name:
                raise InvalidArgument("ARG names can not be blank")
            args.append((name, default if has_default else None))
        return cls(**common, args=args)

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        args = [(expand(name, env, escape), None if value is None else expand(value, env, escape)) for name, value in self.args]
        return dataclasses.replace(self, args=args)

    def apply(self, config, *, cmd_set=False):
        return copy.deepcopy(config)

    def update_stage(self, stage):
        for name, value in self.args:
            stage.args.add_arg(name, value)

    def history_text(self, config):
        return "ARG " + " ".join(name if value is None else f"{name}={value}" for name, value in self.args)


# ---------------------------------------------------------------------------
# COPY and ADD: files from the context


@dataclass
class _FilesFromContext(Instruction):
    """COPY and ADD: ``[--flags] src... dest``, sources and destination substituted alike."""

    sources: list[str]
    dest: str
    chown: str = ""
    chmod: str = ""

    arguments = staticmethod(lexer.json_or_words)
    STEP = "copy"
    #: The flags it accepts -> the fields they set.
    FLAGS: ClassVar[dict[str, str]] = {"chown": "chown", "chmod": "chmod"}

    @classmethod
    def from_line(cls, line, common):
        if len(line.args) < 2:
            raise InvalidArgument(f"{line.keyword.upper()} requires at least two arguments, but only one was provided. "
                                  "Destination could not be determined")
        flags = parse_flags(line, tuple(cls.FLAGS))
        values = {field_name: _flag(flags, name) for name, field_name in cls.FLAGS.items()}
        return cls(**common, sources=list(line.args[:-1]), dest=line.args[-1], **values)

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        # --from is not substituted by Docker's classic builder, --chmod neither.
        return dataclasses.replace(
            self,
            sources=[expand(source, env, escape) for source in self.sources],
            dest=expand(self.dest, env, escape),
            chown=expand(self.chown, env, escape),
        )


@dataclass
class Copy(_FilesFromContext):
    """``COPY [--from=stage] [--chown=user:group] src... dest``."""

    from_stage: str = ""

    KEYWORD = "COPY"
    FLAGS = {"chown": "chown", "from": "from_stage", "chmod": "chmod"}


@dataclass
class Add(_FilesFromContext):
    """``ADD [--chown=user:group] src... dest``: COPY plus URLs and local tar extraction."""

    KEYWORD = "ADD"


# ---------------------------------------------------------------------------
# EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, MAINTAINER: one setting each


@dataclass
class Expose(Instruction):
    """``EXPOSE 80 443/udp``.  Docker sorts the words as written, before substitution."""

    ports: list[str]

    KEYWORD = "EXPOSE"
    arguments = staticmethod(lexer.words)

    @classmethod
    def from_line(cls, line, common):
        _at_least_one(line)
        parse_flags(line, ())
        return cls(**common, ports=sorted(line.args))

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        # The one instruction where a variable may hold several words.
        ports = [word for port in self.ports for word in expand_words(port, env, escape)]
        return dataclasses.replace(self, ports=ports)

    def apply(self, config, *, cmd_set=False):
        ports = dict(config.get("ExposedPorts") or {})
        for spec in self.ports:
            ports.update({port: {} for port in exposed_ports(spec)})
        return {**copy.deepcopy(config), "ExposedPorts": ports}

    def history_text(self, config):
        return "EXPOSE " + " ".join(self.ports)


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


@dataclass
class Volume(Instruction):
    """``VOLUME /data`` or ``VOLUME ["/data", "/logs"]``."""

    paths: list[str]

    KEYWORD = "VOLUME"
    arguments = staticmethod(lexer.json_or_words)

    @classmethod
    def from_line(cls, line, common):
        _at_least_one(line)
        parse_flags(line, ())
        paths = [path.strip() for path in line.args]
        if "" in paths:
            raise InvalidArgument("VOLUME specified can not be an empty string")
        return cls(**common, paths=paths)

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        paths = [expand(path, env, escape) for path in self.paths]
        if "" in paths:
            raise InvalidArgument("VOLUME specified can not be an empty string")
        return dataclasses.replace(self, paths=paths)

    def apply(self, config, *, cmd_set=False):
        volumes = dict(config.get("Volumes") or {})
        for path in self.paths:
            if not path:
                raise InvalidArgument("VOLUME specified can not be an empty string")
            volumes[path] = {}
        return {**copy.deepcopy(config), "Volumes": volumes}

    def history_text(self, config):
        return "VOLUME " + go_list(self.paths)


@dataclass
class Workdir(Instruction):
    """``WORKDIR path``: a config change, and the directory is made in a layer of its own."""

    path: str

    KEYWORD = "WORKDIR"
    arguments = staticmethod(lexer.whole_string)
    STEP = "workdir"

    @classmethod
    def from_line(cls, line, common):
        path = _exactly_one(line)
        parse_flags(line, ())
        return cls(**common, path=path)

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return dataclasses.replace(self, path=expand(self.path, env, escape))

    def apply(self, config, *, cmd_set=False):
        return {**copy.deepcopy(config), "WorkingDir": normalize_workdir(config.get("WorkingDir") or "", self.path)}

    def history_text(self, config):
        return "WORKDIR " + config["WorkingDir"]


def normalize_workdir(current: str, requested: str) -> str:
    """Docker's WORKDIR rule: a relative path continues from the current one (and is cleaned);
    an absolute one is taken as written."""
    if requested.startswith("/"):
        return requested
    joined = posixpath.normpath(posixpath.join("/", current, requested))
    return "/" + joined.lstrip("/")  # normpath keeps a leading "//"; Go's Clean does not


@dataclass
class User(Instruction):
    user: str

    KEYWORD = "USER"
    arguments = staticmethod(lexer.whole_string)

    @classmethod
    def from_line(cls, line, common):
        user = _exactly_one(line)
        parse_flags(line, ())
        return cls(**common, user=user)

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return dataclasses.replace(self, user=expand(self.user, env, escape))

    def apply(self, config, *, cmd_set=False):
        return {**copy.deepcopy(config), "User": self.user}

    def history_text(self, config):
        return "USER " + self.user


@dataclass
class StopSignal(Instruction):
    signal: str

    KEYWORD = "STOPSIGNAL"
    arguments = staticmethod(lexer.whole_string)

    @classmethod
    def from_line(cls, line, common):
        # Docker does not look at STOPSIGNAL's flags.
        return cls(**common, signal=_exactly_one(line))

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return dataclasses.replace(self, signal=expand(self.signal, env, escape))

    def apply(self, config, *, cmd_set=False):
        check_signal(self.signal)
        return {**copy.deepcopy(config), "StopSignal": self.signal}

    def history_text(self, config):
        return "STOPSIGNAL " + self.signal


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


@dataclass
class Maintainer(Instruction):
    """``MAINTAINER name``: deprecated; sets the image's Author, not its config."""

    maintainer: str

    KEYWORD = "MAINTAINER"
    arguments = staticmethod(lexer.whole_string)

    @classmethod
    def from_line(cls, line, common):
        maintainer = _exactly_one(line)
        parse_flags(line, ())
        return cls(**common, maintainer=maintainer)

    def apply(self, config, *, cmd_set=False):
        return copy.deepcopy(config)  # the author is the image's, not its config's

    def update_stage(self, stage):
        stage.maintainer = self.maintainer

    def history_text(self, config):
        return "MAINTAINER " + self.maintainer


# ---------------------------------------------------------------------------
# ONBUILD and HEALTHCHECK: instructions about later


@dataclass
class Onbuild(Instruction):
    """``ONBUILD RUN make``: stored in the image, run when another build starts FROM it.

    ``expression`` is the trigger's text ("RUN make"); it is parsed again,
    as a one-line Dockerfile, by :func:`nbdock.builder.parser.parse_onbuild_trigger`
    at that time.
    """

    expression: str

    KEYWORD = "ONBUILD"
    # The rest of the line is an instruction of its own, split now with every keyword's form.
    arguments = staticmethod(lambda rest, escape: lexer.subcommand(rest, escape, ARGUMENT_FORMS))

    @classmethod
    def from_line(cls, line, common):
        _at_least_one(line)
        parse_flags(line, ())
        trigger = line.args[0].strip().upper()
        if trigger == "ONBUILD":
            raise InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise InvalidArgument(f"{trigger} isn't allowed as an ONBUILD trigger")
        expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", line.original, count=1)
        return cls(**common, expression=expression)

    def apply(self, config, *, cmd_set=False):
        return {**copy.deepcopy(config), "OnBuild": list(config.get("OnBuild") or []) + [self.expression]}

    def history_text(self, config):
        return "ONBUILD " + self.expression


#: The shortest healthcheck interval, timeout or start period (1ms, in nanoseconds).
_MINIMUM_HEALTHCHECK_DURATION = 1_000_000


@dataclass
class Healthcheck(Instruction):
    """``HEALTHCHECK NONE`` or ``HEALTHCHECK [--interval=30s ...] CMD command``.

    ``test`` is the image config's form: ``["NONE"]``, ``["CMD", exec...]`` or
    ``["CMD-SHELL", "command"]``.  Durations are in nanoseconds (as the image
    config stores them), 0 meaning "Docker's default".
    """

    test: list[str]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    retries: int = 0

    KEYWORD = "HEALTHCHECK"
    arguments = staticmethod(lexer.healthcheck_form)

    @classmethod
    def from_line(cls, line, common):
        _at_least_one(line)
        kind, command = line.args[0].upper(), line.args[1:]
        if kind == "NONE":
            # Docker accepts (and ignores) flags on HEALTHCHECK NONE.
            if command:
                raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
            return cls(**common, test=["NONE"])
        flags = parse_flags(line, ("interval", "timeout", "start-period", "retries"))
        if kind != "CMD":
            raise InvalidArgument(f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)")
        if not command:
            raise InvalidArgument("Missing command after HEALTHCHECK CMD")
        test = ["CMD", *command] if line.json_form else ["CMD-SHELL", " ".join(command)]
        return cls(**common, test=test, interval=_healthcheck_duration(flags, "interval"),
                   timeout=_healthcheck_duration(flags, "timeout"),
                   start_period=_healthcheck_duration(flags, "start-period"), retries=_healthcheck_retries(flags))

    def note_before(self, config):
        test = (config.get("Healthcheck") or {}).get("Test") or []
        if test and test[0] != "NONE":
            return f"Note: overriding previous HEALTHCHECK: {go_list(test)}\n"
        return ""

    def apply(self, config, *, cmd_set=False):
        """The image config's Healthcheck: the test, and the settings that differ from Docker's defaults."""
        check: dict[str, Any] = {"Test": list(self.test)}
        for key, value in (("Interval", self.interval), ("Timeout", self.timeout),
                           ("StartPeriod", self.start_period), ("Retries", self.retries)):
            if value:
                check[key] = value
        return {**copy.deepcopy(config), "Healthcheck": check}

    def history_text(self, config):
        """Go's ``%q`` of a ``*HealthConfig``: ``&{["CMD-SHELL" "true"] "5s" "0s" "0s" '\\x00'}``.

        ``%q`` quotes the durations through their String method and prints the
        retry count as a quoted character -- an oddity users see in history.
        """
        check = config["Healthcheck"]
        durations = [go_quote(go_duration(check.get(key, 0))) for key in ("Interval", "Timeout", "StartPeriod")]
        fields = [go_quoted_list(check.get("Test")), *durations, go_quote_rune(check.get("Retries", 0))]
        return "HEALTHCHECK &{" + " ".join(fields) + "}"


def _healthcheck_duration(flags: dict[str, list[str]], name: str) -> int:
    text = _flag(flags, name)
    if not text:
        return 0
    duration = parse_go_duration(text)
    if duration < _MINIMUM_HEALTHCHECK_DURATION:
        raise InvalidArgument(f"Interval {go_quote(name)} cannot be less than 1ms")
    return duration


def _healthcheck_retries(flags: dict[str, list[str]]) -> int:
    text = _flag(flags, "retries")
    if not text:
        return 0
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InvalidArgument(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax")
    retries = int(text)
    if not -(2**31) <= retries < 2**31:
        raise InvalidArgument(f"strconv.ParseInt: parsing {go_quote(text)}: value out of range")
    if retries < 1:
        raise InvalidArgument(f"--retries must be at least 1 (not {retries})")
    return retries


class _ArgumentForms(Mapping):
    """How the lexer splits each keyword's arguments (keywords in lower case, as it reads them):
    a live view of the one table, so a keyword defined later is split like the others."""

    def __getitem__(self, keyword: str) -> ArgumentForm:
        return INSTRUCTIONS[keyword.upper()].arguments

    def __iter__(self):
        return (keyword.lower() for keyword in INSTRUCTIONS)

    def __len__(self) -> int:
        return len(INSTRUCTIONS)


ARGUMENT_FORMS: Mapping[str, ArgumentForm] = _ArgumentForms()
