"""The one place that turns a process that could not start into the API's error.

The runtime reports a failed start as
:class:`~nbdock.runtime.errors.ContainerStartError`, with Docker's exit code:
127 when the command does not exist (execve(2) would fail with ENOENT), 126
when it cannot be executed (EACCES, a directory, a bad working directory).
Docker relays these from containerd and runc ("failed to create shim task:
OCI runtime create failed: ..."); nbdock has neither, so it says what
happened: which execve failed, with which errno, and the PATH it searched.
The docker CLI picks its own exit code (127 or 126) from the words
"executable file not found", "no such file or directory" and "permission
denied", which the runtime's message keeps.
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


def start_failure_message(operation: str, error: ContainerStartError, env: list[str]) -> str:
    """What a user reads when a container's ("create") or an exec's ("exec") process could not start."""
    what = "the container's process" if operation == "create" else "the exec's process"
    if error.exit_code in _ERRNO_OF and str(error).startswith("exec: "):  # not a chdir that failed
        return (f"{what} could not start: execve in the container failed with {_ERRNO_OF[error.exit_code]}: "
                f"{error} (PATH searched: {search_path(env)})")
    return f"{what} could not start: {error}"


def start_error(error: ContainerStartError, env: list[str]) -> errors.NbdockError:
    """The API error for a container whose process could not start; its class decides the HTTP status."""
    if error.exit_code == 127:
        return errors.CommandNotFound(start_failure_message("create", error, env))
    if error.exit_code == 126:
        return errors.CommandNotExecutable(start_failure_message("create", error, env))
    return errors.InvalidArgument(str(error))
