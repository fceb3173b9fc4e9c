"""The commands: docker's verbs, carried out through docker-py.

Both front ends -- the ``nbdock`` CLI and the ``%dock`` magic -- go through
the same two steps: :func:`parse_words` turns the words the user typed into
a parsed command (no daemon needed, so syntax errors come first), and
:func:`run_parsed` carries it out in a :class:`Session` and returns the
exit code the docker CLI would have.
Failures raise :class:`~nbdock.client.errors.CommandError` (or
:class:`~nbdock.client.flags.FlagError` for bad syntax; the daemon's
errors are translated by :func:`nbdock.client.errors.translate`); a
container's own exit status is a return value, not an error.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import docker

from ..connection import Connection
from ..console import Console
from ..errors import CommandError, client_errors, translate
from ..flags import FlagError, Parsed, parse
from ..syntax import find_command
from . import containers, images, resources


@dataclasses.dataclass
class Session:
    """What a command runs with: the daemon connection, the console, and how the user calls us."""

    connection: Connection
    console: Console
    program: str = "nbdock"

    @property
    def api(self) -> docker.APIClient:
        return self.connection.api


Handler = Callable[[Session, Parsed], "int | None"]

HANDLERS: dict[str, Handler] = {
    **containers.HANDLERS,
    **images.HANDLERS,
    **resources.HANDLERS,
}


def parse_words(words: list[str], program: str = "nbdock") -> Parsed:
    """Which command the words name, with its flags and arguments parsed (no daemon needed)."""
    command, rest = find_command(words)
    return parse(command, rest, program)


def run_parsed(parsed: Parsed, session: Session) -> int:
    """Carry out a parsed command; return its exit code."""
    command = parsed.command
    if parsed.options["help"]:
        session.console.out(command.help_text(session.program))
        return 0
    handler = HANDLERS.get(command.name)
    if handler is None:
        raise CommandError(f"{session.program} {command.name}: not available here")
    try:
        return handler(session, parsed) or 0
    except (CommandError, FlagError):
        raise  # ours already; a FlagError is shown by each front end with the command's usage
    except client_errors() as error:  # the daemon's answer, a shared library's refusal, the transport
        raise translate(error, session.connection.host) from None
