"""The two stream formats of the Engine API, read on the client side.

* **Multiplexed output** (attach, exec, logs of a container without a TTY):
  stdout and stderr share one byte stream, so each piece is sent as a
  frame -- an 8-byte header ``[stream, 0, 0, 0, size (4 bytes, big
  endian)]`` and then ``size`` bytes.  Stream 1 is stdout, 2 stderr.  With
  a TTY there is only one stream (the terminal), sent raw, unframed.
* **JSON messages** (pull, push, build, load, import): one JSON object per
  line -- ``{"status": "Downloading", "id": "a1b2", "progressDetail": {...}}``,
  ``{"stream": "Step 1/3 : FROM busybox\\n"}``, ``{"aux": {...}}`` -- and an
  error, if any, as ``{"errorDetail": {"message": ...}}``.
"""

from __future__ import annotations

import json
import struct
from typing import BinaryIO, Iterator

from .errors import CommandError

STDOUT, STDERR = 1, 2
_FRAME_HEADER = struct.Struct(">BxxxL")


def read_frames(reader: BinaryIO, tty: bool) -> Iterator[tuple[int, bytes]]:
    """``(stream, bytes)`` pieces of an output stream, until it ends.

    ``reader`` has a ``read(n)`` (a response body).  Without a TTY the
    frames are taken apart; with one, everything is stdout.
    """
    if tty:
        read_available = getattr(reader, "read1", reader.read)  # what has arrived, not a full 4 KiB
        while chunk := read_available(4096):
            yield STDOUT, chunk
        return
    while header := _read_exactly(reader, _FRAME_HEADER.size):
        stream, size = _FRAME_HEADER.unpack(header)
        payload = _read_exactly(reader, size)
        if stream == 3:  # "systemerr": the daemon's own error, sent in-band
            raise CommandError(payload.decode(errors="replace").strip())
        yield (STDERR if stream == STDERR else STDOUT), payload
        if len(payload) < size:
            return


def _read_exactly(reader: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = reader.read(size - len(data))
        if not more:
            break
        data += more
    return data


def json_messages(chunks: Iterator[bytes | dict]) -> Iterator[dict]:
    """JSON messages from docker-py's stream (bytes that may hold several lines, or already-decoded dicts)."""
    pending = b""
    for chunk in chunks:
        if isinstance(chunk, dict):
            yield chunk
            continue
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if pending.strip():
        yield json.loads(pending)


def message_error(message: dict) -> CommandError | None:
    """The error a message carries.  Like the CLI, look at ``errorDetail`` (``error`` is its deprecated twin)."""
    detail = message.get("errorDetail")
    if detail is None and "error" in message:
        detail = {"message": message["error"]}
    if detail is None:
        return None
    code = detail.get("code") or 0
    return CommandError(str(detail.get("message", "")), exit_code=code if code else 1)


def message_line(message: dict) -> str | None:
    """The text a message shows on a non-terminal (the CLI hides progress-bar updates there)."""
    if "stream" in message:
        return message["stream"]
    if "status" not in message or message.get("progressDetail"):
        return None
    prefix = f"{message['id']}: " if message.get("id") else ""
    return f"{prefix}{message['status']}\n"
