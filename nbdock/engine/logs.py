"""Container logs in Docker's ``json-file`` format.

Everything a container writes to stdout and stderr is kept, one JSON object
per line of output, in <data-root>/containers/<id>/<id>-json.log::

    {"log":"hello\\n","stream":"stdout","time":"2026-11-28T12:17:01.123456Z"}

which is what ``docker logs`` reads back (``--tail``, ``--since``, ``-t``).
Like Docker's, the format stores text: bytes that are not UTF-8 are replaced
by U+FFFD, so ``docker logs`` of binary output is lossy -- attach (and
``docker run`` in the foreground) passes the raw bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from . import clock

#: Docker's log copier cuts lines longer than this into several entries.
MAX_LINE = 16 * 1024


@dataclass
class LogEntry:
    stream: str  # "stdout" or "stderr"
    data: bytes
    time: str  # RFC 3339

    @property
    def timestamp(self) -> float:
        return clock.parse_rfc3339(self.time)


class LogWriter:
    """Appends entries, one per line of output (a partial line waits for its end)."""

    def __init__(self, path: str):
        self.path = path
        self._file = open(path, "ab", buffering=0)
        self._partial = {"stdout": b"", "stderr": b""}

    @property
    def position(self) -> int:
        """Bytes written so far: a reader that has read this far has seen every entry."""
        return self._file.tell()

    def write(self, stream: str, data: bytes) -> list[LogEntry]:
        """Log a chunk of output; returns the entries it completed."""
        pending = self._partial[stream] + data
        lines = pending.split(b"\n")
        self._partial[stream] = lines.pop()
        written = [self._append(stream, line + b"\n") for line in lines]
        while len(self._partial[stream]) >= MAX_LINE:
            chunk, self._partial[stream] = self._partial[stream][:MAX_LINE], self._partial[stream][MAX_LINE:]
            written.append(self._append(stream, chunk))
        return written

    def flush(self) -> list[LogEntry]:
        """At end of output: what is left of an unfinished line becomes an entry of its own."""
        written = [self._append(stream, rest) for stream, rest in self._partial.items() if rest]
        self._partial = {"stdout": b"", "stderr": b""}
        return written

    def close(self) -> None:
        self._file.close()

    def _append(self, stream: str, data: bytes) -> LogEntry:
        entry = LogEntry(stream, data, clock.rfc3339())
        record = {"log": data.decode("utf-8", "replace"), "stream": stream, "time": entry.time}
        self._file.write((json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode())
        return entry


def read_entries(path: str, *, end: int | None = None) -> list[LogEntry]:
    """Every entry in the log file (up to byte offset ``end``)."""
    entries = []
    try:
        with open(path, "rb") as f:
            content = f.read() if end is None else f.read(end)
    except FileNotFoundError:
        return entries
    for line in content.splitlines():
        try:
            raw = json.loads(line)
        except ValueError:
            continue  # a line torn by a crash
        entries.append(LogEntry(raw.get("stream", "stdout"), raw.get("log", "").encode(), raw.get("time", clock.ZERO_TIME)))
    return entries


def select(entries: list[LogEntry], *, tail: int | None = None, since: float = 0, until: float = 0) -> list[LogEntry]:
    """``--since``/``--until`` (Unix times, 0 = unbounded), then the last ``tail`` entries."""
    if since or until:
        entries = [e for e in entries if (not since or e.timestamp >= since) and (not until or e.timestamp <= until)]
    if tail is not None and tail >= 0:
        entries = entries[len(entries) - tail:] if tail else []
    return entries


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
