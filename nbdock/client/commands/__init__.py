"""The commands: docker's verbs, carried out through docker-py.

:func:`execute` is the single entry point of both front ends: the ``nbdock``
CLI and the ``%dock`` magic hand it the words the user typed and a
:class:`Session`, and get back the exit code the docker CLI would have.
Failures raise :class:`~nbdock.client.errors.CommandError` (or
:class:`~nbdock.client.flags.UsageError` for bad syntax); a container's
own exit status is a return value, not an error.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import docker
import requests

from nbdock.errors import NbdockError

from ..connection import Connection
from ..console import Console
from ..errors import CommandError
from ..flags import Parsed, parse
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
    except docker.errors.APIError as error:
        raise CommandError(f"Error response from daemon: {api_message(error)}") from None
    except NbdockError as error:  # raised by the libraries the client shares (tar safety, references...)
        raise CommandError(error.message) from None
    except requests.exceptions.ConnectionError:
        raise CommandError(
            f"Cannot connect to the nbdock daemon at {session.connection.host}. Is the daemon running?"
        ) from None


def execute(words: list[str], session: Session) -> int:
    """Run one command line (without the program name); return its exit code."""
    return run_parsed(parse_words(words, session.program), session)


def api_message(error: docker.errors.APIError) -> str:
    """The daemon's own message (``No such container: web``), without docker-py's decoration."""
    if error.explanation:
        return str(error.explanation)
    if error.response is not None:
        return f"{error.response.status_code} {error.response.reason}"
    return str(error)
