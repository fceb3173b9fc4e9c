"""Container logs in Docker's ``json-file`` format.

Everything a container writes to stdout and stderr is kept, one JSON object
per line of output, in <data-root>/containers/<id>/<id>-json.log::

    {"log":"hello\\n","stream":"stdout","time":"2026-11-28T12:17:01.123456Z"}

which is what ``docker logs`` reads back (``--tail``, ``--since``, ``-t``,
``-f``).  Like Docker's, the format stores text: bytes that are not UTF-8 are
replaced by U+FFFD, so ``docker logs`` of binary output is lossy -- attach
(and ``docker run`` in the foreground) passes the raw bytes.

Lines are cut as Docker's log copier cuts them: an entry holds at most
:data:`MAX_LINE` bytes, so a longer line becomes several entries, only the
last of which ends with its newline (all of them carry the time of the first).

A log may be as big as the container's output, so nothing here holds a whole
log in memory: :class:`LogWriter` appends one batch of records per chunk read
from the container (one ``write`` for many lines), and :class:`LogReader`
reads back a bounded batch at a time -- ``--tail N`` from the end of the file
backwards, ``-f`` by reading the file on as the writer appends to it.

With ``--log-opt max-size=10m`` the writer rotates the file as Docker's
json-file driver does: ``<id>-json.log`` becomes ``<id>-json.log.1`` (which
becomes ``.2``...), and ``--log-opt max-file=N`` keeps N files in all, which
``docker logs`` reads oldest first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from dataclasses import dataclass
from json.encoder import encode_basestring  # the JSON string of a str, escaped as json.dumps does (in C)
from typing import AsyncIterator, Iterator

from ..errors import InvalidArgument
from . import clock

log = logging.getLogger("nbdock.engine.logs")

#: Docker's log copier cuts lines longer than this into several entries.
MAX_LINE = 16 * 1024
#: How much of a log file a reader takes in at a time: a batch of entries, never the whole file.
READ_BATCH = 64 * 1024
#: How much output the writer formats at a time.
WRITE_SLICE = 64 * 1024
#: The block ``--tail`` reads backwards from the end of a file.
TAIL_BLOCK = 64 * 1024


@dataclass(slots=True)
class LogEntry:
    stream: str  # "stdout" or "stderr"
    data: bytes
    time: str  # RFC 3339

    @property
    def timestamp(self) -> float:
        return clock.parse_rfc3339(self.time)


# ---------------------------------------------------------------------------
# --log-opt: Docker's json-file options and its checks of them


@dataclass(frozen=True)
class LogOptions:
    max_size: int | None = None  # rotate once the file has this many bytes; None: never
    max_file: int = 1  # how many files there are at most, the live one included


#: The options Docker's json-file driver accepts; anything else is "unknown".
JSON_FILE_OPTIONS = ("max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag")
#: Options every Docker logging driver accepts.
GENERIC_OPTIONS = ("mode", "max-buffer-size")
#: Accepted by Docker, refused here: they add "attrs" to each entry, which nbdock's logs do not record.
UNSUPPORTED_OPTIONS = ("labels", "labels-regex", "env", "env-regex")


def log_options(config: dict | None) -> LogOptions:
    """``HostConfig.LogConfig.Config`` checked as Docker checks it, with Docker's messages.

    Docker checks the option names at create, and their values only when the
    container starts ("failed to initialize logging driver"); nbdock checks
    everything at create, so that a container that could never start is not
    made at all.
    """
    config = {str(key): str(value) for key, value in (config or {}).items()}
    mode = config.get("mode", "")
    if mode not in ("", "blocking", "non-blocking"):
        raise InvalidArgument(f"logger: logging mode not supported: {mode}")
    if "max-buffer-size" in config and mode != "non-blocking":
        raise InvalidArgument("logger: max-buffer-size option is only supported with 'mode=non-blocking'")
    for key in sorted(config):
        if key not in JSON_FILE_OPTIONS + GENERIC_OPTIONS:
            raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver")

    def failed(reason: str) -> InvalidArgument:
        return InvalidArgument(f"failed to initialize logging driver: {reason}")

    max_size = None
    if "max-size" in config:
        max_size = parse_size(config["max-size"], failed)
        if max_size <= 0:
            raise failed("max-size must be a positive number")
    max_file = 1
    if "max-file" in config:
        text = config["max-file"]
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise failed(f'strconv.Atoi: parsing "{text}": invalid syntax')
        max_file = int(text)
        if max_file < 1:
            raise failed("max-file cannot be less than 1")
    if "compress" in config:
        compress = _parse_bool(config["compress"], failed)
        if compress and (max_file == 1 or max_size is None):
            raise failed("compress cannot be true when max-file is less than 2 or max-size is not set")
        if compress:
            raise InvalidArgument("--log-opt compress=true is not supported by nbdock: rotated logs are kept uncompressed")
    if mode == "non-blocking":
        # Docker's non-blocking mode drops output when its buffer is full; nbdock's capture never drops any.
        raise InvalidArgument("--log-opt mode=non-blocking is not supported by nbdock: it logs in blocking mode only")
    for key in UNSUPPORTED_OPTIONS:
        if key in config:
            raise InvalidArgument(f"--log-opt {key} is not supported by nbdock: its logs record no extra attributes")
    return LogOptions(max_size, max_file)


#: go-units' FromHumanSize, which Docker parses max-size with: decimal units (k = 1000), case ignored.
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)*) ?([kKmMgGtTpP])?[iI]?[bB]?")
_DECIMAL_UNITS = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}


def parse_size(text: str, failed=InvalidArgument) -> int:
    match = _SIZE.fullmatch(text)
    if not match:
        raise failed(f"invalid size: '{text}'")
    number, unit = match.groups()
    if number.count(".") > 1:
        raise failed(f'strconv.ParseFloat: parsing "{number}": invalid syntax')
    return int(float(number) * _DECIMAL_UNITS.get((unit or "").lower(), 1))  # Go's int64(): toward zero


def _parse_bool(text: str, failed) -> bool:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise failed(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def rotated_path(path: str, n: int) -> str:
    """The n-th most recent rotated file: <id>-json.log.1 is the one before the live file."""
    return f"{path}.{n}"


# ---------------------------------------------------------------------------
# writing


class LogWriter:
    """Appends a container's output to its log, one entry per line (a partial line waits for its end).

    It runs on the event loop, called with each chunk read from the
    container's pipes: the chunk's lines are formatted together and written
    with one ``write`` -- over a million short lines a second, where one
    ``json.dumps`` and one system call per line made the container itself
    wait for its output to be taken.
    """

    def __init__(self, path: str, options: LogOptions = LogOptions()):
        self.path = path
        self.options = options
        # Unbuffered: every write() call below is already one whole batch of records, and
        # followers must see each batch as soon as it is written.
        self._file = open(path, "ab", buffering=0)
        #: Bytes in the live file: a reader that has read this far has seen every entry.
        self.size = self._file.tell()
        #: How many times the file has been rotated since this writer opened it.
        self.rotations = 0
        self.closed = False
        self._partial = {"stdout": b"", "stderr": b""}
        self._partial_time: dict[str, str | None] = {"stdout": None, "stderr": None}
        self._news: asyncio.Event | None = None
        self._write_failed = False

    @property
    def news(self) -> asyncio.Event:
        """Set at the next write, rotation or close: what a follower waits on once it has read everything."""
        if self._news is None:
            self._news = asyncio.Event()
        return self._news

    def write(self, stream: str, data: bytes) -> None:
        """Log a chunk of output: its complete lines, and a long line's pieces of MAX_LINE bytes."""
        # A slice at a time: the text of 64 KiB of output, escaped and formatted, stays in the
        # processor's cache, where a megabyte at once is several times slower.
        for start in range(0, len(data), WRITE_SLICE):
            self._write_slice(stream, data[start:start + WRITE_SLICE])

    def _write_slice(self, stream: str, data: bytes) -> None:
        pending = self._partial[stream] + data
        now = clock.rfc3339()  # one time for the lines of one chunk: they arrived together
        records = []
        end = pending.rfind(b"\n") + 1  # the complete lines are pending[:end]
        start = 0
        if end and self._partial_time[stream] is not None:
            # The rest of a line whose first pieces are logged already: it keeps their time (as Docker's).
            start = pending.index(b"\n") + 1
            records.append(format_lines(stream, pending[:start], self._partial_time[stream]))
            self._partial_time[stream] = None
        if end > start:
            records.append(format_lines(stream, pending[start:end], now))
        rest = pending[end:]
        while len(rest) >= MAX_LINE:
            # No newline within MAX_LINE bytes: Docker logs what it has as a "partial" entry.
            piece, rest = rest[:MAX_LINE], rest[MAX_LINE:]
            self._partial_time[stream] = self._partial_time[stream] or now
            records.append(format_record(stream, piece, self._partial_time[stream]))
        self._partial[stream] = rest
        self._append(b"".join(records))

    def flush(self) -> None:
        """At end of output: what is left of an unfinished line becomes an entry of its own."""
        now = clock.rfc3339()
        for stream, rest in self._partial.items():
            if rest:
                self._append(format_record(stream, rest, self._partial_time[stream] or now))
        self._partial = {"stdout": b"", "stderr": b""}
        self._partial_time = {"stdout": None, "stderr": None}

    def close(self) -> None:
        self._file.close()
        self.closed = True
        self._announce()

    def _append(self, records: bytes) -> None:
        """Append whole records, rotating first whenever the file has reached max-size.

        Docker checks the size before each record, so a file ends with the
        record that took it to max-size or past it: the batch is cut there.
        """
        view, offset, limit = memoryview(records), 0, self.options.max_size
        try:
            while offset < len(records):
                if limit is not None and self.size >= limit:
                    self._rotate()
                cut = len(records)
                if limit is not None:
                    # The record that reaches max-size ends at the first newline at or after this byte.
                    cut = records.find(b"\n", offset + (limit - self.size) - 1) + 1 or len(records)
                written = offset
                while written < cut:  # a regular file takes it all, short of a full disk
                    written += self._file.write(view[written:cut])
                self.size += cut - offset
                offset = cut
        except OSError as e:
            # The container goes on running; its output still reaches attached clients.
            if not self._write_failed:
                log.warning("writing the log %s: %s (output is lost until this clears)", self.path, e)
            self._write_failed = True
        self._announce()

    def _rotate(self) -> None:
        """Docker's rotation: drop the oldest kept file, shift the others up, the live file becomes .1.

        (Docker 20.10 renames the live file to .1 even with max-file=1, where
        nothing reads it: it is kept as Docker keeps it.)  A follower reading
        the old file keeps its descriptor, so it can finish it: a renamed or
        unlinked file's data stays readable through descriptors open on it.
        """
        keep = self.options.max_file
        if keep >= 2:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(rotated_path(self.path, keep - 1))
            for n in range(keep - 1, 1, -1):
                with contextlib.suppress(FileNotFoundError):
                    os.rename(rotated_path(self.path, n - 1), rotated_path(self.path, n))
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.path, rotated_path(self.path, 1))  # our descriptor follows the file to its new name
        # The new file before the old one is closed: if it cannot be made, writing goes on where it was.
        old, self._file = self._file, open(self.path, "wb", buffering=0)
        old.close()
        self.size = 0
        self.rotations += 1

    def _announce(self) -> None:
        if self._news is not None:
            self._news.set()
            self._news = None


def format_record(stream: str, data: bytes, time: str) -> bytes:
    """One json-file record, byte for byte what ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` gives."""
    text = encode_basestring(data.decode("utf-8", "replace"))
    return f'{{"log":{text},"stream":"{stream}","time":"{time}"}}\n'.encode()


def format_lines(stream: str, lines: bytes, time: str) -> bytes:
    """The records of ``lines`` -- whole lines, each ending with a newline -- all with the same time."""
    tail = f',"stream":"{stream}","time":"{time}"}}\n'
    if len(lines) >= MAX_LINE and max(map(len, lines.split(b"\n"))) >= MAX_LINE:
        # A line too long for one entry: its pieces, one record each (rare enough to go one by one).
        records = []
        for line in lines[:-1].split(b"\n"):
            line += b"\n"
            records.extend(format_record(stream, line[i:i + MAX_LINE], time) for i in range(0, len(line), MAX_LINE))
        return b"".join(records)
    text = lines.decode("utf-8", "replace")  # the same as line by line: a newline never ends inside a character
    if "\\" not in text:
        # Escape the whole chunk in one C call, then turn each escaped newline into the end of
        # one record and the start of the next.  Without a backslash in the text, the two
        # characters \n of the escaped form can only come from a newline.
        body = encode_basestring(text)[1:-1].replace("\\n", '\\n"' + tail + '{"log":"')
        return ('{"log":"' + body[: -len('{"log":"')]).encode()
    return "".join('{"log":' + encode_basestring(line + "\n") + tail for line in text[:-1].split("\n")).encode()


# ---------------------------------------------------------------------------
# reading


#: A record as LogWriter writes it, whose text has no escape but its final newline: there the JSON
#: string's bytes are the output's bytes, so a whole batch of such records is one scan in C.
_PLAIN_RECORD = re.compile(rb'\{"log":"([^"\\]*)\\n","stream":"(stdout|stderr)","time":"([^"\\]*)"\}\n')
_PLAIN_END = b'\\n","stream":"'
_STREAMS = {b"stdout": "stdout", b"stderr": "stderr"}


def parse_records(lines: bytes) -> list[LogEntry]:
    """The entries of whole records (lines ending with a newline); a line that is not one is skipped."""
    if not lines:
        return []
    if lines.count(b"\\") == lines.count(_PLAIN_END):  # every backslash ends a record's text
        found = _PLAIN_RECORD.findall(lines)
        if len(found) == lines.count(b"\n"):
            return [LogEntry(_STREAMS[stream], text + b"\n", time.decode()) for text, stream, time in found]
    try:
        # One parse for the whole batch: the records as the items of one JSON array.
        raws = json.loads(b"[" + lines[:-1].replace(b"\n", b",") + b"]")
        return [LogEntry(raw.get("stream", "stdout"), raw.get("log", "").encode("utf-8", "replace"),
                         raw.get("time", clock.ZERO_TIME)) for raw in raws]
    except (ValueError, AttributeError):
        pass  # a line torn by a crash, or not a record: go line by line
    entries = []
    for line in lines.split(b"\n"):
        try:
            raw = json.loads(line)
            entries.append(LogEntry(str(raw.get("stream", "stdout")), str(raw.get("log", "")).encode("utf-8", "replace"),
                                    str(raw.get("time", clock.ZERO_TIME))))
        except (ValueError, AttributeError):
            continue
    return entries


def read_batch(fd: int, start: int, end: int | None = None) -> tuple[list[LogEntry], int]:
    """The entries of the whole records from ``start`` (to ``end``, or to the end of the file), a batch of about
    READ_BATCH bytes; and the offset after them -- ``start`` itself when there are none (yet)."""
    size = READ_BATCH
    while True:
        length = size if end is None else min(size, end - start)
        if length <= 0:
            return [], start
        chunk = os.pread(fd, length, start)
        cut = chunk.rfind(b"\n") + 1
        if cut:
            return parse_records(chunk[:cut]), start + cut
        if len(chunk) < length:
            return [], start  # a record still being written (or torn): nothing whole here yet
        size *= 2  # a record longer than a batch (a long line of escapes): read more


def tail_offset(fd: int, end: int, lines: int) -> tuple[int, int]:
    """Where the last ``lines`` lines of the file's first ``end`` bytes begin, and how many there are from there.

    Reads backwards from ``end`` a block at a time, counting newlines, so
    that ``--tail 5`` of a gigabyte of log reads a few kilobytes.  ``end`` is
    just after a newline: that one ends the last line.
    """
    if lines <= 0 or end <= 0:
        return end, 0
    found = 0
    high = end - 1
    while high > 0:
        low = max(0, high - TAIL_BLOCK)
        block = os.pread(fd, high - low, low)
        at = len(block)
        while (at := block.rfind(b"\n", 0, at)) >= 0:
            found += 1
            if found == lines:
                return low + at + 1, lines
        high = low
    return 0, found + 1


def complete_end(fd: int) -> int:
    """The end of the file's last whole record (a record torn by a crash is left out)."""
    end = os.fstat(fd).st_size
    while end > 0:
        low = max(0, end - TAIL_BLOCK)
        block = os.pread(fd, end - low, low)
        at = block.rfind(b"\n")
        if at >= 0:
            return low + at + 1
        end = low
    return 0


def time_key(time: str) -> str:
    """An RFC 3339 UTC time that compares as a string: nine fractional digits (ours drop trailing zeros)."""
    return clock.nine_digits(time)


# A log is in time order (one writer appends with the time it read each chunk), so ``--since``
# and ``--until`` look for one boundary each rather than comparing the time of every entry.

def _from(entries: list[LogEntry], since: str) -> tuple[list[LogEntry], str | None]:
    """The entries at or after ``since``; and None once they have begun (the rest of the log follows them)."""
    if not entries or time_key(entries[-1].time) < since:
        return [], since
    first = next(i for i, entry in enumerate(entries) if time_key(entry.time) >= since)
    return entries[first:], None


def _up_to(entries: list[LogEntry], until: str) -> tuple[list[LogEntry], bool]:
    """The entries up to ``until``; and whether the log may go on after them (none of them was past it)."""
    if not entries or time_key(entries[-1].time) <= until:
        return entries, True
    end = next(i for i, entry in enumerate(entries) if time_key(entry.time) > until)
    return entries[:end], False


class LogReader:
    """One ``docker logs``: the entries already written (``history``), then, with ``-f``, the new ones (``follow``).

    It is opened on the event loop, where the writer runs, so that the files
    it opens and the end of the live file it notes are one consistent
    snapshot: the history ends exactly where following begins, and a
    rotation cannot come between opening one file and the next.
    """

    def __init__(self, path: str, options: LogOptions, writer: LogWriter | None = None):
        self.writer = writer if writer is not None and not writer.closed else None
        self._path, self._options = path, options
        self._files: list[tuple[int, int]] = []  # (descriptor, end of its history), oldest first, the live file last
        self._live: int | None = None
        try:
            for n in range(options.max_file - 1, 0, -1):
                with contextlib.suppress(FileNotFoundError):
                    fd = os.open(rotated_path(path, n), os.O_RDONLY | os.O_CLOEXEC)
                    self._files.append((fd, os.fstat(fd).st_size))
            with contextlib.suppress(FileNotFoundError):  # missing: a container that never ran
                self._live = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                self._files.append((self._live, self.writer.size if self.writer else complete_end(self._live)))
        except BaseException:
            self.close()
            raise
        self._generation = self.writer.rotations if self.writer else 0

    def close(self) -> None:
        for fd, _ in self._files:
            os.close(fd)
        self._files.clear()

    async def history(self, *, tail: int | None = None, since: float = 0, until: float = 0
                      ) -> AsyncIterator[list[LogEntry]]:
        """The entries up to the snapshot, in batches: the last ``tail`` (None or negative: all), then those from
        ``since`` on (Unix times, 0 = unbounded), up to the first after ``until`` -- Docker's order."""
        batches = self._history(tail, time_key(clock.rfc3339(since)) if since else None,
                                time_key(clock.rfc3339(until)) if until else None)
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            yield batch

    def _history(self, tail: int | None, since: str | None, until: str | None) -> Iterator[list[LogEntry]]:
        sections = [(fd, 0, end) for fd, end in self._files]
        if tail is not None and tail >= 0:
            wanted, kept = tail, []
            for fd, _, end in reversed(sections):
                if wanted <= 0:
                    break
                start, found = tail_offset(fd, end, wanted)
                kept.insert(0, (fd, start, end))
                wanted -= found
            sections = kept
        for fd, start, end in sections:
            while start < end:
                entries, after = read_batch(fd, start, end)
                if after == start:
                    break  # nothing whole left (cannot happen before a snapshot's end, which ends a record)
                start = after
                if since is not None:
                    entries, since = _from(entries, since)
                if until is not None:
                    entries, more = _up_to(entries, until)
                    if not more:
                        if entries:
                            yield entries
                        return
                if entries:
                    yield entries

    async def follow(self, *, since: float = 0) -> AsyncIterator[list[LogEntry]]:
        """The entries written after the snapshot, as they come, until the writer is closed (the container stopped)."""
        writer = self.writer
        if writer is None or self._live is None:
            return
        since_key = time_key(clock.rfc3339(since)) if since else None
        fd, position = self._live, self._files[-1][1]
        generation = self._generation
        while True:
            # Noted before reading, so that whatever the writer does after the read wakes us up.
            news, closed, rotations = writer.news, writer.closed, writer.rotations
            entries, after = await asyncio.to_thread(read_batch, fd, position)
            if since_key is not None:
                entries, since_key = _from(entries, since_key)
            if entries:
                yield entries
            if after != position:
                position = after
                continue
            # Nothing more in this file, as of the moment noted above.
            if generation < rotations:
                # The writer had rotated away from it: it is complete.  Go on with the next file.
                fd, generation = self._next_file(fd, generation)
                position = 0
            elif closed:
                return
            else:
                await news.wait()

    def _next_file(self, fd: int, generation: int) -> tuple[int, int]:
        """The file written after generation ``generation``, and its generation.

        After r rotations the live file is generation r and .k is generation
        r - k; a follower that fell further behind than the kept files goes
        on with the oldest one (what was between is gone, as with Docker).
        """
        back = min(self.writer.rotations - (generation + 1), max(1, self._options.max_file - 1))  # .1 even with max-file=1
        new_fd = os.open(self._path if back == 0 else rotated_path(self._path, back), os.O_RDONLY | os.O_CLOEXEC)
        self._files = [(f, end) for f, end in self._files if f != fd] + [(new_fd, 0)]
        os.close(fd)
        self._live = new_fd
        return new_fd, self.writer.rotations - back
