"""The one error a client command raises: a message for the user and the exit code the docker CLI uses."""

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
