"""The commands: docker's verbs, carried out through docker-py.

Both front ends -- the ``nbdock`` CLI and the ``%dock`` magic -- go through
the same two steps: :func:`parse_words` turns the words the user typed into
a parsed command (no daemon needed, so syntax errors come first), and
:func:`run_parsed` carries it out in a :class:`Session` and returns the
exit code the docker CLI would have.
Failures raise :class:`~nbdock.client.errors.CommandError` (or
:class:`~nbdock.client.flags.FlagError` for bad syntax); a container's
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
    except requests.exceptions.RequestException as error:
        raise transport_error(error, session.connection.host) from None


def transport_error(error: requests.exceptions.RequestException, host: str) -> CommandError:
    """The daemon could not be reached, or stopped answering: say which, and where."""
    if isinstance(error, requests.exceptions.Timeout):
        request = error.request
        what = f"{request.method} {request.path_url}" if request is not None else "a request"
        return CommandError(f"The nbdock daemon at {host} did not answer {what} in time.")
    if isinstance(error, requests.exceptions.ConnectionError):
        return CommandError(f"Cannot connect to the nbdock daemon at {host}. Is the daemon running?")
    return CommandError(f"Talking to the nbdock daemon at {host} failed: {error}")


def api_message(error: docker.errors.APIError) -> str:
    """The daemon's own message (``No such container: web``), without docker-py's decoration."""
    if error.explanation:
        return str(error.explanation)
    if error.response is not None:
        return f"{error.response.status_code} {error.response.reason}"
    return str(error)
