"""The errors nbdock raises, one class per kind of failure.

Every layer of nbdock (runtime, image store, builder, network, engine) raises
these typed errors with a short message that names what was wrong.  They are
translated exactly once, at the boundary:

* the daemon turns them into the Docker Engine API's error responses
  (``{"message": ...}`` with the HTTP status in :attr:`NbdockError.status`),
  which is what makes the real ``docker`` CLI print its usual messages and
  exit with 125/126/127 as it does against Docker;
* on the client side, :func:`nbdock.client.errors.translate` turns them
  (and the daemon's answers, and an unreachable daemon) into the one
  message both the ``nbdock`` CLI and the notebook magics show -- one line,
  without a traceback, never swallowed.
"""

from __future__ import annotations


class NbdockError(Exception):
    """Base class.  ``status`` is the HTTP status the daemon answers with.

    ``explanation`` is optional teaching text: what really happened, where
    ``message`` must keep Docker's words for Docker's clients (a start failure
    is reported in the words Docker relays from runc, which scripts and the
    docker CLI's exit codes depend on).  The daemon sends it beside the
    message; nbdock's own CLI and magics print it under the message.
    """

    status = 500

    def __init__(self, message: str, explanation: str | None = None):
        super().__init__(message)
        self.message = message
        self.explanation = explanation


class InvalidArgument(NbdockError):
    """The request itself is wrong: a bad flag value, a malformed Dockerfile..."""

    status = 400


class Unauthorized(NbdockError):
    """A registry refused our credentials (or we had none)."""

    status = 401


class Forbidden(NbdockError):
    status = 403


class NotFound(NbdockError):
    """No such container, image, volume, network or exec instance."""

    status = 404


class Conflict(NbdockError):
    """The request clashes with the current state: a name in use, an image in use..."""

    status = 409


class NotModified(NbdockError):
    """Nothing to do (starting a running container, stopping a stopped one).

    Docker answers these with 304, which clients treat as success.
    """

    status = 304


class HostError(NbdockError):
    """Something failed on the host: a syscall, a mount, a cgroup file."""

    status = 500


class NotImplementedYet(NbdockError):
    status = 501


class CommandNotFound(InvalidArgument):
    """The container's command does not exist (the CLI exits 127)."""


class CommandNotExecutable(InvalidArgument):
    """The container's command exists but cannot be executed (the CLI exits 126)."""


class BuildError(NbdockError):
    """A Dockerfile step failed.  ``code`` is the failing command's exit code."""

    status = 500

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class RegistryError(NbdockError):
    """A registry answered with an error, or could not be reached."""

    status = 500


__all__ = [
    "NbdockError",
    "InvalidArgument",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "NotModified",
    "HostError",
    "NotImplementedYet",
    "CommandNotFound",
    "CommandNotExecutable",
    "BuildError",
    "RegistryError",
]
