"""The one place that turns a process that could not start into the API's error.

The runtime reports a failed start as
:class:`~nbdock.runtime.errors.ContainerStartError`, with Docker's exit code:
127 when the command does not exist (execve(2) would fail with ENOENT), 126
when it cannot be executed (EACCES, a directory, a bad working directory).

Two audiences read the result:

* Docker's clients.  Docker relays these failures from containerd and runc
  ("failed to create shim task: OCI runtime create failed: ..."), and the
  docker CLI picks its exit code (127 or 126) from the words "executable file
  not found", "no such file or directory" and "permission denied" in them;
  scripts match the rest.  So the API's *message* is Docker's, word for word,
  although nbdock has neither a shim nor runc.
* Students.  The error's *explanation* says what really happened: which
  execve in the container failed, with which errno, and the PATH it
  searched.  nbdock's CLI and magics print it under the message.
"""

from __future__ import annotations

from .. import errors
from ..runtime.errors import ContainerStartError
from ..runtime.spec import DEFAULT_PATH

#: What each exit code means for execve(2), in the words of errno(3).
_ERRNO_OF = {127: "ENOENT (no such file or directory)", 126: "EACCES (permission denied)"}


def search_path(env: list[str]) -> str:
    """The PATH the process was given (its last PATH= entry), or Docker's default."""
    values = [item.partition("=")[2] for item in env if item.startswith("PATH=")]
    return values[-1] if values else DEFAULT_PATH


def docker_words(operation: str, error: ContainerStartError) -> str:
    """Docker 20.10's wording of runc failing to start a container's ("create") or an exec's ("exec") process."""
    if operation == "create":
        return f"failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: {error}: unknown"
    return f"OCI runtime exec failed: exec failed: unable to start container process: {error}: unknown"


def what_happened(operation: str, error: ContainerStartError, env: list[str]) -> str:
    """The same failure as it happened in nbdock, for a student: no shim, no runc, an execve that failed."""
    what = "the container's process" if operation == "create" else "the exec's process"
    if error.exit_code in _ERRNO_OF and str(error).startswith("exec: "):  # not a chdir that failed
        return (f"nbdock: {what} could not start: execve in the container failed with {_ERRNO_OF[error.exit_code]} "
                f"(PATH searched: {search_path(env)}); the message above is Docker's wording, kept for its clients")
    return f"nbdock: {what} could not start: {error}"


def start_error(error: ContainerStartError, env: list[str]) -> errors.NbdockError:
    """The API error for a container whose process could not start; its class decides the HTTP status."""
    if error.exit_code == 127:
        return errors.CommandNotFound(docker_words("create", error), what_happened("create", error, env))
    if error.exit_code == 126:
        return errors.CommandNotExecutable(docker_words("create", error), what_happened("create", error, env))
    return errors.InvalidArgument(str(error))


def exec_start_message(error: ContainerStartError) -> str:
    """What an exec that could not start reports (on its stream, and as a health probe's output): Docker's words."""
    return docker_words("exec", error) if error.exit_code in _ERRNO_OF else str(error)
