"""What a client command's failure says to the user: one translation, shared by the ``nbdock`` CLI and the magics.

A command can fail in five ways, each raised by a different layer:

* :class:`CommandError` -- the command itself decided it failed (a message and docker's exit code);
* :class:`~nbdock.client.flags.FlagError` -- the words typed were wrong (a bad flag or value);
* ``docker.errors.APIError`` -- the daemon answered with an error (``No such container: web``);
* :class:`~nbdock.errors.NbdockError` -- a library the client shares with the daemon refused
  something here (a bad image reference, an unsafe tar member);
* ``requests.exceptions.RequestException`` -- the daemon could not be reached, or stopped answering.

:func:`translate` turns each into a :class:`CommandError` whose message is
what the user sees, once: the CLI prints it and exits with its code; the
magics raise it as IPython's one-line ``UsageError``.  Anything else is a
bug of ours, and keeps its traceback.

docker-py and requests are imported only when an error is translated:
``nbdock daemon`` imports this module and must not carry them.
"""

from __future__ import annotations


class CommandError(Exception):
    """A command failed.  ``message`` is printed as it is; ``exit_code`` is what ``nbdock`` exits with.

    Exit codes follow the docker CLI: 1 for a failed request, 125 when
    ``run``/``create`` could not make the container, 126/127 when its
    command cannot be executed / was not found.
    """

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def client_errors() -> tuple[type[BaseException], ...]:
    """The failures :func:`translate` knows, for an ``except`` clause: ``except client_errors() as error``."""
    import docker
    import requests

    from nbdock.errors import NbdockError

    from .flags import FlagError

    return (CommandError, FlagError, docker.errors.APIError, NbdockError, requests.exceptions.RequestException)


def translate(error: BaseException, host: str) -> CommandError:
    """The message the user sees for one of :func:`client_errors`; ``host`` is the daemon's address."""
    import docker
    import requests

    from nbdock.errors import NbdockError

    from .flags import FlagError

    if isinstance(error, CommandError):
        return error
    if isinstance(error, FlagError):
        return CommandError(error.message, error.exit_code)
    if isinstance(error, docker.errors.APIError):
        return CommandError(f"Error response from daemon: {api_message(error)}")
    if isinstance(error, NbdockError):
        return CommandError(error.message)
    if isinstance(error, requests.exceptions.RequestException):
        return transport_error(error, host)
    raise TypeError(f"not a client error: {error!r}") from error


def api_message(error) -> str:
    """The daemon's own message (``No such container: web``), without docker-py's decoration.

    Where nbdock's daemon explains a message kept in Docker's words (a command
    that cannot start: Docker says "OCI runtime create failed", nbdock says
    which execve failed), the explanation follows on a line of its own.
    """
    if error.explanation:
        return str(error.explanation) + _nbdock_explanation(error.response)
    if error.response is not None:
        return f"{error.response.status_code} {error.response.reason}"
    return str(error)


def _nbdock_explanation(response) -> str:
    """``"\n" + explanation`` from an nbdock daemon's error body, or "" (Docker's bodies have none)."""
    try:
        explanation = response.json().get("explanation") if response is not None else None
    except ValueError:  # not JSON
        return ""
    return f"\n{explanation}" if isinstance(explanation, str) and explanation else ""


def transport_error(error, host: str) -> CommandError:
    """The daemon could not be reached, or stopped answering: say which, and where."""
    import requests

    if isinstance(error, requests.exceptions.Timeout):
        request = error.request
        what = f"{request.method} {request.path_url}" if request is not None else "a request"
        return CommandError(f"The nbdock daemon at {host} did not answer {what} in time.")
    if isinstance(error, requests.exceptions.ConnectionError):
        return CommandError(f"Cannot connect to the nbdock daemon at {host}. Is the daemon running?")
    return CommandError(f"Talking to the nbdock daemon at {host} failed: {error}")
