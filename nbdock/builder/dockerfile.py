"""The Dockerfile parser: text in, typed instructions out.

Docker reads a Dockerfile in two passes, and so do we:

1. **Lines** (:func:`_read_logical_lines`, :func:`_split_line`): parser
   directives at the top (``# escape=`` and ``# syntax=``), comments, line
   continuations with the escape character, then each logical line is split
   into its keyword, its ``--flags`` and its arguments, the arguments being
   split the way that keyword wants (JSON array or words, ``key=value``
   pairs...).  Errors in this pass read "failed to parse Dockerfile: ...".
2. **Instructions** (:func:`_build_instruction`): each line becomes an
   :class:`Instruction` subclass with its fields checked (the number of
   arguments, the flags it accepts, a HEALTHCHECK's durations...), and the
   instructions are grouped into build stages, one per FROM.  Errors in this
   pass read "dockerfile parse error line 3: ...".

The wording of every message is Docker 20.10's (moby/buildkit's
``frontend/dockerfile/parser`` and ``instructions`` packages), because the
real ``docker`` CLI shows them to the user as they are.  Every error also
carries the line it is about in ``.line``.

Variables (``$NAME``) are *not* substituted here: that happens at build
time, step by step, because a value can depend on the steps before it.  An
instruction's :meth:`~Instruction.expanded` method does it for the
instructions Docker substitutes in (see :mod:`nbdock.builder.variables`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from nbdock.builder.variables import expand, expand_words, go_quote, is_go_space
from nbdock.errors import InvalidArgument

DEFAULT_ESCAPE = "\\"


class DockerfileParseError(InvalidArgument):
    """A malformed Dockerfile.  ``line`` is the (1-based) line it is about, when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


# ---------------------------------------------------------------------------
# Instructions
#
# Each instruction keeps the text it was written as (``original``: the logical
# line, continuation lines joined), because Docker prints it ("Step 2/5 : RUN
# make") and the build cache compares it, and the line numbers it spans.


@dataclass
class Instruction:
    keyword: str  # upper case: "RUN"
    original: str  # the instruction as written, continuation lines joined
    line: int  # first line, counting from 1
    end_line: int  # last line (continuations make it differ from ``line``)

    def __str__(self) -> str:
        return self.original

    def expanded(self, env: Mapping[str, str], escape: str = DEFAULT_ESCAPE) -> Instruction:
        """A copy with ``$VARIABLES`` substituted from ``env``.

        Docker does this only for some instructions; the others (RUN, CMD,
        ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER) are returned as
        they are: a shell expands them later, or nothing does.
        """
        return self


@dataclass
class From(Instruction):
    """``FROM [--platform=P] image [AS name]``: starts a build stage."""

    base_name: str
    stage_name: str = ""  # lower-cased, "" when the stage has no name
    platform: str = ""

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


@dataclass
class _CommandLine(Instruction):
    """RUN, CMD and ENTRYPOINT: a command in exec form or in shell form.

    Exec form (a JSON array) is run as it is.  Shell form is one string in
    ``command``, which the builder prefixes with the SHELL (``/bin/sh -c``).
    """

    command: list[str]
    shell_form: bool


@dataclass
class Run(_CommandLine):
    """``mounts`` are the ``--mount=`` values: Docker 20.10 parses them, but only
    BuildKit can run them (the classic builder then refuses the step)."""

    mounts: list[str] = field(default_factory=list)


@dataclass
class Cmd(_CommandLine):
    pass


@dataclass
class Entrypoint(_CommandLine):
    """An empty ENTRYPOINT (``ENTRYPOINT []`` or ``ENTRYPOINT ""``) unsets the image's."""


@dataclass
class Shell(Instruction):
    """``SHELL ["executable", "parameters"]``: what shell-form commands are run with."""

    shell: list[str]


@dataclass
class Env(Instruction):
    """``ENV key value`` or ``ENV k1=v1 k2="v 2"``.

    The pairs are raw words: their quotes and escapes are removed by
    :meth:`expanded`, together with the substitution, as in Docker.
    """

    pairs: list[tuple[str, str]]

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return dataclasses.replace(self, pairs=_expand_pairs(self.pairs, env, escape))


@dataclass
class Label(Instruction):
    """``LABEL k1=v1 k2="v 2"`` (raw words, like :class:`Env`)."""

    pairs: list[tuple[str, str]]

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return dataclasses.replace(self, pairs=_expand_pairs(self.pairs, env, escape))


@dataclass
class Arg(Instruction):
    """``ARG name[=default] ...``; a default of None means none was given."""

    args: list[tuple[str, str | None]]

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        args = [(expand(name, env, escape), None if value is None else expand(value, env, escape)) for name, value in self.args]
        return dataclasses.replace(self, args=args)


@dataclass
class Copy(Instruction):
    """``COPY [--from=stage] [--chown=user:group] src... dest``."""

    sources: list[str]
    dest: str
    from_stage: str = ""
    chown: str = ""
    chmod: str = ""

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        # --from is not substituted by Docker's classic builder, --chmod neither.
        return dataclasses.replace(
            self,
            sources=[expand(source, env, escape) for source in self.sources],
            dest=expand(self.dest, env, escape),
            chown=expand(self.chown, env, escape),
        )


@dataclass
class Add(Instruction):
    """``ADD [--chown=user:group] src... dest``: COPY plus URLs and local tar extraction."""

    sources: list[str]
    dest: str
    chown: str = ""
    chmod: str = ""

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return dataclasses.replace(
            self,
            sources=[expand(source, env, escape) for source in self.sources],
            dest=expand(self.dest, env, escape),
            chown=expand(self.chown, env, escape),
        )


@dataclass
class Expose(Instruction):
    """``EXPOSE 80 443/udp``.  Docker sorts the words as written, before substitution."""

    ports: list[str]

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        # The one instruction where a variable may hold several words.
        ports = [word for port in self.ports for word in expand_words(port, env, escape)]
        return dataclasses.replace(self, ports=ports)


@dataclass
class Volume(Instruction):
    """``VOLUME /data`` or ``VOLUME ["/data", "/logs"]``."""

    paths: list[str]

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        paths = [expand(path, env, escape) for path in self.paths]
        if "" in paths:
            raise InvalidArgument("VOLUME specified can not be an empty string")
        return dataclasses.replace(self, paths=paths)


@dataclass
class Workdir(Instruction):
    path: str

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return dataclasses.replace(self, path=expand(self.path, env, escape))


@dataclass
class User(Instruction):
    user: str

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return dataclasses.replace(self, user=expand(self.user, env, escape))


@dataclass
class StopSignal(Instruction):
    signal: str

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return dataclasses.replace(self, signal=expand(self.signal, env, escape))


@dataclass
class Maintainer(Instruction):
    maintainer: str


@dataclass
class Onbuild(Instruction):
    """``ONBUILD RUN make``: stored in the image, run when another build starts FROM it.

    ``expression`` is the trigger's text ("RUN make"); it is parsed again,
    as a one-line Dockerfile, by :func:`parse_onbuild_trigger` at that time.
    """

    expression: str


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


@dataclass
class Stage:
    """One build stage: a FROM and the instructions up to the next FROM."""

    from_instruction: From
    commands: list[Instruction] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.from_instruction.stage_name


@dataclass
class Dockerfile:
    escape: str  # the escape character: "\\" or "`"
    meta_args: list[Arg]  # the ARGs before the first FROM
    stages: list[Stage]
    warnings: list[str]  # shown to the user before the build starts

    @property
    def step_count(self) -> int:
        """How many "Step N/M" lines a build prints: every meta ARG, FROM and instruction."""
        return len(self.meta_args) + sum(1 + len(stage.commands) for stage in self.stages)

    def stages_up_to(self, target: str) -> list[Stage]:
        """The stages a ``--target`` build runs: up to the named one (names ignore case)."""
        for index, stage in enumerate(self.stages):
            if stage.name and stage.name == target.lower():
                return self.stages[: index + 1]
        raise InvalidArgument(f"failed to reach build target {target} in Dockerfile")


def _expand_pairs(pairs: list[tuple[str, str]], env: Mapping[str, str], escape: str) -> list[tuple[str, str]]:
    # Every pair is expanded with the environment from *before* the
    # instruction: in `ENV A=1 B=$A`, B does not see this A.
    return [(expand(key, env, escape), expand(value, env, escape)) for key, value in pairs]


# ---------------------------------------------------------------------------
# Entry points


def parse_dockerfile(text: str | bytes, name: str = "Dockerfile") -> Dockerfile:
    """Parse a whole Dockerfile.  ``name`` is only used in error messages.

    Raises :class:`DockerfileParseError` with Docker's message.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    if not text:
        raise DockerfileParseError(f"the Dockerfile ({name}) cannot be empty")
    try:
        lines, escape, warnings = _parse_lines(text)
    except DockerfileParseError as err:
        raise DockerfileParseError(f"failed to parse {name}: {err.message}", err.line) from None

    meta_args: list[Arg] = []
    stages: list[Stage] = []
    for line in lines:
        instruction = _build_instruction_reporting_line(line)
        if isinstance(instruction, From):
            stages.append(Stage(instruction))
        elif isinstance(instruction, Arg) and not stages:
            meta_args.append(instruction)
        elif not stages:
            raise DockerfileParseError("no build stage in current context", line.start)
        else:
            stages[-1].commands.append(instruction)
    return Dockerfile(escape, meta_args, stages, warnings)


def parse_onbuild_trigger(expression: str) -> Instruction:
    """Parse an ONBUILD trigger stored in a base image, as the child build runs it.

    Docker parses it as a Dockerfile of its own, so with the default escape
    character whatever the original Dockerfile chose.
    """
    lines, _, _ = _parse_lines(expression)
    if len(lines) != 1:
        raise InvalidArgument("onbuild trigger should be a single expression")
    instruction = _build_instruction(lines[0])
    if isinstance(instruction, From):
        raise InvalidArgument("*instructions.Stage is not a command type")
    return instruction


#: The instructions ``docker commit --change`` and ``docker import --change`` accept.
CHANGE_KEYWORDS = frozenset(["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR", "HEALTHCHECK"])


def parse_change_lines(changes: list[str]) -> list[Instruction]:
    """Parse the ``--change`` lines of commit and import (Dockerfile syntax, config-only instructions)."""
    if not changes:
        return []
    lines, _, _ = _parse_lines("\n".join(changes))
    for line in lines:
        if line.keyword.upper() not in CHANGE_KEYWORDS:
            raise InvalidArgument(f"{line.keyword} is not a valid change command")
    return [_build_instruction(line) for line in lines]


# ---------------------------------------------------------------------------
# Pass 1: lines


_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*")
_KNOWN_DIRECTIVES = ("escape", "syntax")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_UTF8_BOM = "\ufeff"


@dataclass
class _Line:
    """One logical line, split into its parts (what buildkit calls a Node)."""

    keyword: str  # lower case, as written (unknown keywords are reported in pass 2)
    original: str
    flags: list[str]  # "--name=value" words, quotes removed
    args: list[str]
    json_form: bool = False  # the arguments were a JSON array
    start: int = 0
    end: int = 0


class _Directives:
    """Parser directives: ``# name=value`` comments before anything else in the file.

    They end at the first line that is not one: an instruction, an ordinary
    comment, an unknown directive or even an empty line.
    """

    def __init__(self) -> None:
        self.escape = DEFAULT_ESCAPE
        self.done = False
        self.seen: set[str] = set()
        self.continuation = _continuation_pattern(DEFAULT_ESCAPE)

    def look_at(self, line: str) -> None:
        if self.done:
            return
        match = _DIRECTIVE.fullmatch(line)
        if not match or match.group(1).lower() not in _KNOWN_DIRECTIVES:
            self.done = True
            return
        name, value = match.group(1).lower(), match.group(2)
        if name in self.seen:
            raise DockerfileParseError(f"only one {name} parser directive can be used")
        self.seen.add(name)
        if name == "escape":  # `# syntax=` only matters to BuildKit
            if value not in ("\\", "`"):
                raise DockerfileParseError(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
            self.continuation = _continuation_pattern(value)


def _continuation_pattern(escape: str) -> re.Pattern:
    """An escape character ending a line continues it on the next line.

    It must not itself be escaped (``\\\\`` at the end of a line is a literal
    backslash); trailing blanks after it are allowed.
    """
    e = re.escape(escape)
    return re.compile(rf"(?:(?<=[^{e}])|^){e}[ \t]*\Z")


def _strip_continuation(line: str, directives: _Directives) -> tuple[str, bool]:
    """``line`` without its continuation character, and whether the logical line ends here."""
    match = directives.continuation.search(line)
    if match:
        return line[: match.start()], False
    return line, True


def _physical_lines(text: str) -> list[str]:
    """Lines as Go's bufio.Scanner gives them: split at "\\n", one trailing "\\r" dropped."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    if lines and lines[0].startswith(_UTF8_BOM):
        lines[0] = lines[0][1:]
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _is_comment(raw_line: str) -> bool:
    return raw_line.lstrip().startswith("#")


@dataclass
class _LogicalLine:
    text: str  # continuation lines joined, continuation characters removed
    start: int
    end: int


def _read_logical_lines(physical: list[str], directives: _Directives) -> tuple[list[_LogicalLine], list[str]]:
    """Join continued lines; drop comments and empty lines; collect warnings.

    Comment lines are dropped even in the middle of a continued line, and so
    are empty lines there, with a warning (Docker says they will become
    errors one day).
    """
    logical: list[_LogicalLine] = []
    warnings: list[str] = []
    index = 0
    while index < len(physical):
        raw = physical[index].lstrip()
        index += 1
        start = index
        try:
            directives.look_at(raw)
        except DockerfileParseError as err:
            err.line = start
            raise
        text, complete = _strip_continuation("" if raw.startswith("#") else raw, directives)
        if complete and not text:
            continue
        had_empty_line = False
        while not complete and index < len(physical):
            raw = physical[index]
            index += 1
            if _is_comment(raw):
                continue
            if not raw.strip():
                had_empty_line = True
                continue
            rest, complete = _strip_continuation(raw, directives)
            text += rest
        if had_empty_line:
            warnings.append(f"[WARNING]: Empty continuation line found in:\n    {text}")
        logical.append(_LogicalLine(text, start, index))
    if warnings:
        warnings.append("[WARNING]: Empty continuation lines will become errors in a future release.")
    return logical, warnings


def _parse_lines(text: str) -> tuple[list[_Line], str, list[str]]:
    """Pass 1: the logical lines of ``text``, split; its escape character; its warnings."""
    directives = _Directives()
    physical = _physical_lines(text)
    logical, warnings = _read_logical_lines(physical, directives)
    if not logical:
        raise DockerfileParseError("file with no instructions", len(physical))
    lines = []
    for line in logical:
        try:
            parsed = _split_line(line.text, directives.escape)
        except DockerfileParseError as err:
            err.line = line.start
            raise
        parsed.start, parsed.end = line.start, line.end
        lines.append(parsed)
    return lines, directives.escape, warnings


def _split_line(line: str, escape: str) -> _Line:
    """Split a logical line into keyword, flags and arguments (buildkit's newNodeFromLine)."""
    keyword, rest = _split_keyword(line)
    rest, flags = _extract_flags(rest)
    split_arguments = _ARGUMENT_SPLITTERS.get(keyword, _ignore_arguments)
    arguments = split_arguments(rest.strip(), escape)
    return _Line(keyword, line, flags, arguments.args, arguments.json_form)


def _split_keyword(line: str) -> tuple[str, str]:
    parts = _WHITESPACE.split(line.strip(), maxsplit=1)
    return parts[0].lower(), parts[1] if len(parts) == 2 else ""


def _extract_flags(rest: str) -> tuple[str, list[str]]:
    """Take the leading ``--name=value`` words off the arguments.

    Quotes and backslashes inside a flag word are processed (``--chown="a b"``
    gives ``--chown=a b``); a lone ``--`` ends the flags.
    """
    flags: list[str] = []
    pos = 0
    while True:
        while pos < len(rest) and is_go_space(rest[pos]):
            pos += 1
        if not rest.startswith("--", pos):
            return rest[pos:], flags
        word, pos = _read_flag_word(rest, pos)
        if word == "--":
            return rest[pos:], flags
        flags.append(word)


def _read_flag_word(text: str, pos: int) -> tuple[str, int]:
    """The flag word starting at ``pos``, unquoted, and the position where it ends."""
    word = []
    quote = None
    while pos < len(text):
        ch = text[pos]
        if quote is None and is_go_space(ch):
            break
        if quote is None and ch in "'\"":
            quote = ch
        elif ch == quote:
            quote = None
        elif ch == "\\":
            if pos + 1 < len(text):
                pos += 1
                word.append(text[pos])
        else:
            word.append(ch)
        pos += 1
    return "".join(word), pos


# -- argument splitters, one per kind of instruction ---------------------------


@dataclass
class _Arguments:
    args: list[str] = field(default_factory=list)
    json_form: bool = False


class _NotStringArray(Exception):
    pass


def _parse_json_array(rest: str) -> list[str] | None:
    """The strings of a JSON array, or None when ``rest`` is not one.

    Only the first JSON value counts (text after the closing bracket is
    ignored, as Go's decoder does), and an array holding anything but strings
    is an error rather than "not JSON".
    """
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:
        value, _ = json.JSONDecoder(parse_constant=_reject_constant).raw_decode(rest)
    except ValueError:
        return None
    if not all(isinstance(item, str) for item in value):
        raise DockerfileParseError("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN and Infinity, Go does not


def _json_or_shell_string(rest: str, escape: str) -> _Arguments:
    """RUN, CMD, ENTRYPOINT, SHELL: a JSON array (exec form), else the text as one string."""
    if not rest:
        return _Arguments()
    array = _parse_json_array(rest)
    if array is not None:
        return _Arguments(array, json_form=True)
    return _Arguments([rest])


def _json_or_words(rest: str, escape: str) -> _Arguments:
    """ADD, COPY, VOLUME: a JSON array (for paths with spaces), else blank-separated words."""
    array = _parse_json_array(rest)
    if array is not None:
        return _Arguments(array, json_form=True)
    return _words(rest, escape)


def _words(rest: str, escape: str) -> _Arguments:
    """FROM, EXPOSE: blank-separated words."""
    return _Arguments(_WHITESPACE.split(rest) if rest else [])


def _whole_string(rest: str, escape: str) -> _Arguments:
    """MAINTAINER, USER, WORKDIR, STOPSIGNAL: everything is one argument, spaces included."""
    return _Arguments([rest] if rest else [])


def _key_value_pairs(rest: str, escape: str, keyword: str) -> _Arguments:
    """ENV, LABEL: ``key value`` (old form, when the first word has no ``=``) or ``k=v ...``.

    Words keep their quotes and escapes; substitution removes them later.
    """
    words = _quoted_words(rest, escape)
    if not words:
        return _Arguments()
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise DockerfileParseError(f"{keyword} must have two arguments")
        return _Arguments(parts)
    args = []
    for word in words:
        if "=" not in word:
            raise DockerfileParseError(f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value")
        key, _, value = word.partition("=")
        args += [key, value]
    return _Arguments(args)


def _names_or_pairs(rest: str, escape: str) -> _Arguments:
    """ARG: ``name`` or ``name=default`` words (split into pairs in pass 2)."""
    return _Arguments(_quoted_words(rest, escape))


def _healthcheck(rest: str, escape: str) -> _Arguments:
    """HEALTHCHECK: a type word (CMD or NONE), then a command as for CMD."""
    if not rest:
        return _Arguments()
    kind_end = next((pos for pos, ch in enumerate(rest) if is_go_space(ch)), len(rest))
    command = _json_or_shell_string(rest[kind_end:].lstrip(), escape)
    return _Arguments([rest[:kind_end], *command.args], json_form=command.json_form)


def _subcommand(rest: str, escape: str) -> _Arguments:
    """ONBUILD: the rest of the line is an instruction of its own.

    It is split now, so that its line errors show now; pass 2 only checks
    which instruction it is (the rest waits until the trigger runs).
    """
    if not rest:
        return _Arguments()
    trigger = _split_line(rest, escape)
    return _Arguments([trigger.keyword, *trigger.args])


def _ignore_arguments(rest: str, escape: str) -> _Arguments:
    """An unknown keyword: its arguments do not matter, pass 2 reports it."""
    return _Arguments()


_ARGUMENT_SPLITTERS: dict[str, Callable[[str, str], _Arguments]] = {
    "add": _json_or_words,
    "arg": _names_or_pairs,
    "cmd": _json_or_shell_string,
    "copy": _json_or_words,
    "entrypoint": _json_or_shell_string,
    "env": lambda rest, escape: _key_value_pairs(rest, escape, "ENV"),
    "expose": _words,
    "from": _words,
    "healthcheck": _healthcheck,
    "label": lambda rest, escape: _key_value_pairs(rest, escape, "LABEL"),
    "maintainer": _whole_string,
    "onbuild": _subcommand,
    "run": _json_or_shell_string,
    "shell": _json_or_shell_string,
    "stopsignal": _whole_string,
    "user": _whole_string,
    "volume": _json_or_words,
    "workdir": _whole_string,
}


def _quoted_words(rest: str, escape: str) -> list[str]:
    """Split at blanks outside quotes, keeping the quotes and escapes in the words.

    ``a="b c" d`` gives ``['a="b c"', 'd']``.  The escape character protects
    the next character (a blank, a quote) except inside single quotes.
    """
    words: list[str] = []
    word = ""
    had_quotes = False  # so that '' is kept as a word
    quote = None
    pos = 0
    while pos < len(rest):
        ch = rest[pos]
        if quote is None and is_go_space(ch):
            if word or had_quotes:
                words.append(word)
            word, had_quotes = "", False
            pos += 1
            continue
        if quote is None and ch in "'\"":
            quote, had_quotes = ch, True
        elif ch == quote:
            quote = None
        elif ch == escape and quote != "'":
            if pos + 1 == len(rest):
                break  # an escape at the end of the line is dropped
            word += ch
            pos += 1
            ch = rest[pos]
        word += ch
        pos += 1
    if word or had_quotes:
        words.append(word)
    return words


# ---------------------------------------------------------------------------
# Pass 2: instructions


def _build_instruction_reporting_line(line: _Line) -> Instruction:
    try:
        return _build_instruction(line)
    except InvalidArgument as err:
        raise DockerfileParseError(f"dockerfile parse error line {line.start}: {err.message}", line.start) from None


def _build_instruction(line: _Line) -> Instruction:
    builder = _INSTRUCTION_BUILDERS.get(line.keyword)
    if builder is None:
        raise DockerfileParseError(f"unknown instruction: {line.keyword.upper()}", line.start)
    common = dict(keyword=line.keyword.upper(), original=line.original.strip(), line=line.start, end_line=line.end)
    return builder(line, common)


def _parse_flags(line: _Line, accepted: tuple[str, ...], repeatable: tuple[str, ...] = ()) -> dict[str, list[str]]:
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


def _exactly_one(line: _Line) -> str:
    if len(line.args) != 1:
        raise InvalidArgument(f"{line.keyword.upper()} requires exactly one argument")
    return line.args[0]


def _at_least_one(line: _Line) -> None:
    if not line.args:
        raise InvalidArgument(f"{line.keyword.upper()} requires at least one argument")


def _command_line(line: _Line) -> tuple[list[str], bool]:
    """Exec form keeps the JSON strings; shell form joins the words into one string."""
    if line.json_form:
        return list(line.args), False
    return ([" ".join(line.args)] if line.args else []), True


_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")


def _build_from(line, common):
    stage_name = ""
    if len(line.args) == 3 and line.args[1].lower() == "as":
        stage_name = line.args[2].lower()
        if not _STAGE_NAME.fullmatch(stage_name):
            raise InvalidArgument(
                f"invalid name for build stage: {go_quote(line.args[2])}, name can't start with a number or contain symbols"
            )
    elif len(line.args) != 1:
        raise InvalidArgument("FROM requires either one or three arguments")
    flags = _parse_flags(line, ("platform",))
    return From(**common, base_name=line.args[0], stage_name=stage_name, platform=_flag(flags, "platform"))


def _build_run(line, common):
    flags = _parse_flags(line, (), repeatable=("mount",))
    command, shell_form = _command_line(line)
    return Run(**common, command=command, shell_form=shell_form, mounts=flags.get("mount", []))


def _build_cmd(line, common):
    _parse_flags(line, ())
    command, shell_form = _command_line(line)
    return Cmd(**common, command=command, shell_form=shell_form)


def _build_entrypoint(line, common):
    _parse_flags(line, ())
    command, shell_form = _command_line(line)
    return Entrypoint(**common, command=command, shell_form=shell_form)


def _build_shell(line, common):
    _parse_flags(line, ())
    if not line.args:
        raise InvalidArgument("SHELL requires at least one argument")
    if not line.json_form:
        raise InvalidArgument("SHELL requires the arguments to be in JSON form")
    return Shell(**common, shell=list(line.args))


def _pairs(line: _Line) -> list[tuple[str, str]]:
    """ENV and LABEL arguments, alternating keys and values."""
    _at_least_one(line)
    pairs = list(zip(line.args[::2], line.args[1::2]))
    if any(not key for key, _ in pairs):
        raise InvalidArgument(f"{line.keyword.upper()} names can not be blank")
    return pairs


def _build_env(line, common):
    _parse_flags(line, ())
    return Env(**common, pairs=_pairs(line))


def _build_label(line, common):
    _parse_flags(line, ())
    return Label(**common, pairs=_pairs(line))


def _build_arg(line, common):
    # Docker does not look at ARG's flags at all.
    _at_least_one(line)
    args: list[tuple[str, str | None]] = []
    for word in line.args:
        name, has_default, default = word.partition("=")
        if has_default and not name:
            raise InvalidArgument("ARG names can not be blank")
        args.append((name, default if has_default else None))
    return Arg(**common, args=args)


def _sources_and_dest(line: _Line) -> tuple[list[str], str]:
    if len(line.args) < 2:
        raise InvalidArgument(
            f"{line.keyword.upper()} requires at least two arguments, but only one was provided. Destination could not be determined"
        )
    return list(line.args[:-1]), line.args[-1]


def _build_copy(line, common):
    sources, dest = _sources_and_dest(line)
    flags = _parse_flags(line, ("chown", "from", "chmod"))
    return Copy(**common, sources=sources, dest=dest, from_stage=_flag(flags, "from"), chown=_flag(flags, "chown"), chmod=_flag(flags, "chmod"))


def _build_add(line, common):
    sources, dest = _sources_and_dest(line)
    flags = _parse_flags(line, ("chown", "chmod"))
    return Add(**common, sources=sources, dest=dest, chown=_flag(flags, "chown"), chmod=_flag(flags, "chmod"))


def _build_expose(line, common):
    _at_least_one(line)
    _parse_flags(line, ())
    return Expose(**common, ports=sorted(line.args))


def _build_volume(line, common):
    _at_least_one(line)
    _parse_flags(line, ())
    paths = [path.strip() for path in line.args]
    if "" in paths:
        raise InvalidArgument("VOLUME specified can not be an empty string")
    return Volume(**common, paths=paths)


def _build_workdir(line, common):
    path = _exactly_one(line)
    _parse_flags(line, ())
    return Workdir(**common, path=path)


def _build_user(line, common):
    user = _exactly_one(line)
    _parse_flags(line, ())
    return User(**common, user=user)


def _build_stopsignal(line, common):
    # Docker does not look at STOPSIGNAL's flags either.
    return StopSignal(**common, signal=_exactly_one(line))


def _build_maintainer(line, common):
    maintainer = _exactly_one(line)
    _parse_flags(line, ())
    return Maintainer(**common, maintainer=maintainer)


def _build_onbuild(line, common):
    _at_least_one(line)
    _parse_flags(line, ())
    trigger = line.args[0].strip().upper()
    if trigger == "ONBUILD":
        raise InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise InvalidArgument(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", line.original, count=1)
    return Onbuild(**common, expression=expression)


_MINIMUM_HEALTHCHECK_DURATION = 1_000_000  # 1ms, in nanoseconds


def _build_healthcheck(line, common):
    _at_least_one(line)
    kind, command = line.args[0].upper(), line.args[1:]
    if kind == "NONE":
        # Docker accepts (and ignores) flags on HEALTHCHECK NONE.
        if command:
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(**common, test=["NONE"])

    flags = _parse_flags(line, ("interval", "timeout", "start-period", "retries"))
    if kind != "CMD":
        raise InvalidArgument(f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)")
    if not command:
        raise InvalidArgument("Missing command after HEALTHCHECK CMD")
    test = ["CMD", *command] if line.json_form else ["CMD-SHELL", " ".join(command)]
    return Healthcheck(
        **common,
        test=test,
        interval=_healthcheck_duration(flags, "interval"),
        timeout=_healthcheck_duration(flags, "timeout"),
        start_period=_healthcheck_duration(flags, "start-period"),
        retries=_healthcheck_retries(flags),
    )


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


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_go_duration(text: str) -> int:
    """A Go duration ("1m30s", "1.5h", "300ms") in nanoseconds, as HEALTHCHECK flags take them."""
    rest = text
    sign = -1 if rest.startswith("-") else 1
    rest = rest[1:] if rest[:1] in ("-", "+") else rest
    if rest == "0":
        return 0
    if not rest:
        raise InvalidArgument(f"time: invalid duration {go_quote(text)}")
    total = 0
    while rest:
        number = re.match(r"([0-9]*)(?:\.([0-9]*))?", rest)
        whole, fraction = number.group(1), number.group(2) or ""
        if not whole and not fraction:
            raise InvalidArgument(f"time: invalid duration {go_quote(text)}")
        rest = rest[number.end() :]
        unit = re.match(r"[^0-9.]*", rest).group(0)
        if not unit:
            raise InvalidArgument(f"time: missing unit in duration {go_quote(text)}")
        if unit not in _DURATION_UNITS:
            raise InvalidArgument(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        rest = rest[len(unit) :]
        scale = _DURATION_UNITS[unit]
        total += int(whole or 0) * scale + (int(fraction) * scale // 10 ** len(fraction) if fraction else 0)
    if total >= 2**63:
        raise InvalidArgument(f"time: invalid duration {go_quote(text)}")
    return sign * total


_INSTRUCTION_BUILDERS = {
    "add": _build_add,
    "arg": _build_arg,
    "cmd": _build_cmd,
    "copy": _build_copy,
    "entrypoint": _build_entrypoint,
    "env": _build_env,
    "expose": _build_expose,
    "from": _build_from,
    "healthcheck": _build_healthcheck,
    "label": _build_label,
    "maintainer": _build_maintainer,
    "onbuild": _build_onbuild,
    "run": _build_run,
    "shell": _build_shell,
    "stopsignal": _build_stopsignal,
    "user": _build_user,
    "volume": _build_volume,
    "workdir": _build_workdir,
}
