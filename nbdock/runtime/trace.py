"""The event trace: what the kernel did for a container, step by step.

Every kernel-facing step the runtime takes for a container -- each namespace
created or joined, each mount, ``pivot_root``, each cgroup file written, each
device node, each network device -- is recorded as one structured event::

    {"time": 1732790000.123456, "pid": 4242, "kind": "mount",
     "op": "mount", "args": {"source": "proc", "target": "/proc", ...}}

Events are appended, one JSON object per line, to the container's
``trace.jsonl``.  Two processes write to that file: the daemon (cgroups,
network) and the container's own init process (namespaces, mounts,
pivot_root), so the file is opened with ``O_APPEND``: the kernel then makes
each small ``write`` land whole at the end of the file, never interleaved.

The notebooks read the file back to show "what the kernel did for this run".
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Iterator

#: The kinds of event, in the order a container usually meets them.
KINDS = ("cgroup", "namespace", "mount", "device", "rootfs", "network", "process", "capability", "seccomp", "signal")


class Trace:
    """Appends events to a trace file (or to an already open descriptor).

    A ``Trace`` with no destination records nothing, so code can always call
    ``trace.emit(...)`` without checking whether anyone is listening.
    """

    def __init__(self, path: str | None = None, *, fd: int | None = None):
        self.path = path
        self._fd = fd
        self._owns_fd = False
        if fd is None and path is not None:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._owns_fd = True

    @property
    def fileno(self) -> int | None:
        return self._fd

    def emit(self, kind: str, op: str, **args: Any) -> None:
        """Record one step.  ``args`` are the arguments the kernel was given."""
        if self._fd is None:
            return
        event = {"time": round(time.time(), 6), "pid": os.getpid(), "kind": kind, "op": op, "args": args}
        line = json.dumps(event, default=str, separators=(",", ":")) + "\n"
        try:
            os.write(self._fd, line.encode())
        except OSError:
            # A trace must never be the reason a container fails to start.
            pass

    def close(self) -> None:
        if self._owns_fd and self._fd is not None:
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "Trace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


NO_TRACE = Trace()


def read_trace(path: str) -> list[dict]:
    """All events of a trace file, oldest first (a missing file is an empty trace).

    Sorted by their times, not taken in file order: two processes (and the
    daemon's threads) write the file, and one may stamp an event just before
    another's write lands.  The sort is stable, so equal times keep file order.
    """
    return sorted(iter_trace(path), key=lambda event: event.get("time", 0.0))


def iter_trace(path: str) -> Iterator[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue  # a torn line from a crash; skip it
    except FileNotFoundError:
        return


def describe(event: dict) -> str:
    """One readable line for an event, in the style of a syscall: ``mount("proc", "/proc", "proc")``."""
    args = event.get("args") or {}
    inner = ", ".join(f"{k}={_short(v)}" for k, v in args.items())
    return f"{event.get('op')}({inner})"


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + '..."'
