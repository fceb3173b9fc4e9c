"""The one error of a container process that could not start, from the child to the engine.

A process fails to start in one of three places, and the same error travels
from each to whoever asked:

* inside the child, before it is ready (a namespace it cannot join, a sysctl
  the kernel refuses): reported on the "ready" pipe to the spawner, which
  sends it on to the daemon in its answer (spawner.py);
* inside the child, after "go" (an unknown user, a command not found): reported
  on the "errors" pipe, read by the daemon itself (container.py);
* in the daemon, around the handshake (the child died before making its terminal).

Each report is ``{"message": ..., "exit_code": ...}`` and becomes this
exception again on the daemon's side, exit code included: Docker's CLI
exits with it.
"""

from __future__ import annotations


class ContainerStartError(Exception):
    """A container's (or an exec's) process could not start.

    ``exit_code`` is what Docker's CLI would exit with: 127 the command was not
    found, 126 it could not be run (not executable, a bad working directory) --
    runc's failures, in runc's words -- and 125 or 1 for a failure Docker finds
    before runc runs (an unknown user, a working directory that is a file).
    """

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code

    def report(self) -> dict:
        """What the child writes on its pipe (JSON), for :meth:`from_report` on the other side."""
        return {"message": str(self), "exit_code": self.exit_code}

    @classmethod
    def from_report(cls, report: dict) -> "ContainerStartError":
        return cls(report["message"], report.get("exit_code", 1))
