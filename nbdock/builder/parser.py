"""The Dockerfile parser: text in, build stages of typed instructions out.

Docker reads a Dockerfile in two passes, and so do we:

1. **Lines** (:mod:`nbdock.builder.lexer`): directives, comments,
   continuations, and each logical line split into keyword, flags and
   arguments.  Errors in this pass read "failed to parse Dockerfile: ...".
2. **Instructions** (:mod:`nbdock.builder.instructions`): each line becomes
   the class of its keyword, with its fields checked; the instructions are
   grouped into build stages, one per FROM.  Errors in this pass read
   "dockerfile parse error line 3: ...".

Every error carries the line it is about in ``.line``.  Variables (``$NAME``)
are *not* substituted here: that happens at build time, step by step (see
:meth:`Instruction.expanded <nbdock.builder.instructions.Instruction.expanded>`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgument
from .instructions import ARGUMENT_FORMS, INSTRUCTIONS, Arg, From, Instruction
from .lexer import DockerfileParseError, Line, read_lines


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


def parse_dockerfile(text: str | bytes, name: str = "Dockerfile") -> Dockerfile:
    """Parse a whole Dockerfile.  ``name`` is only used in error messages.

    Raises :class:`DockerfileParseError` with Docker's message.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    if not text:
        raise DockerfileParseError(f"the Dockerfile ({name}) cannot be empty")
    try:
        lines, escape, warnings = read_lines(text, ARGUMENT_FORMS)
    except DockerfileParseError as err:
        raise DockerfileParseError(f"failed to parse {name}: {err.message}", err.line) from None

    meta_args: list[Arg] = []
    stages: list[Stage] = []
    for line in lines:
        instruction = _instruction_reporting_line(line)
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
    lines, _, _ = read_lines(expression, ARGUMENT_FORMS)
    if len(lines) != 1:
        raise InvalidArgument("onbuild trigger should be a single expression")
    instruction = instruction_from_line(lines[0])
    if isinstance(instruction, From):
        raise InvalidArgument("*instructions.Stage is not a command type")
    return instruction


#: The instructions ``docker commit --change`` and ``docker import --change`` accept.
CHANGE_KEYWORDS = frozenset(["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR", "HEALTHCHECK"])


def parse_change_lines(changes: list[str]) -> list[Instruction]:
    """Parse the ``--change`` lines of commit and import (Dockerfile syntax, config-only instructions)."""
    if not changes:
        return []
    lines, _, _ = read_lines("\n".join(changes), ARGUMENT_FORMS)
    for line in lines:
        if line.keyword.upper() not in CHANGE_KEYWORDS:
            raise InvalidArgument(f"{line.keyword} is not a valid change command")
    return [instruction_from_line(line) for line in lines]


def apply_changes(config: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    """``--change`` lines of ``docker commit`` and ``docker import``, applied in order."""
    for instruction in parse_change_lines(list(lines or [])):
        config = instruction.apply(config, cmd_set=True)
    return config


def instruction_from_line(line: Line) -> Instruction:
    """Pass 2 for one line: the class of its keyword makes the instruction."""
    keyword = line.keyword.upper()
    cls = INSTRUCTIONS.get(keyword)
    if cls is None:
        raise DockerfileParseError(f"unknown instruction: {keyword}", line.start)
    common = dict(keyword=keyword, original=line.original.strip(), line=line.start, end_line=line.end)
    return cls.from_line(line, common)


def _instruction_reporting_line(line: Line) -> Instruction:
    try:
        return instruction_from_line(line)
    except InvalidArgument as err:
        raise DockerfileParseError(f"dockerfile parse error line {line.start}: {err.message}", line.start) from None
