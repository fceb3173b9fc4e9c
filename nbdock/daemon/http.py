"""The HTTP shapes of the Docker Engine API that are more than a JSON body.

* JSON replies and errors (``{"message": ...}``, Content-Type exactly
  ``application/json``: the docker CLI checks it byte for byte);
* JSON message streams (build, pull, push, load): one object per line,
  flushed as it happens, errors with both ``error`` and ``errorDetail``;
* the multiplexed stream: without a TTY, stdout and stderr travel on one
  connection as frames with an 8-byte header -- stream type (1 stdout, 2
  stderr), three zero bytes, and the payload length as a big-endian uint32;
* the hijacked connection: ``attach`` and ``exec start`` answer
  ``101 UPGRADED`` and then the HTTP connection becomes a raw, two-way pipe
  between the client's terminal and the process.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import socket
import struct
import termios
from typing import Any, AsyncIterator

from aiohttp import web

from ..errors import InvalidArgument, NbdockError
from . import bodies

STREAM_TYPES = {"stdin": 0, "stdout": 1, "stderr": 2, "system": 3}
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(), content_type="application/json")


def error_response(status: int, message: str, explanation: str | None = None) -> web.Response:
    """Docker's error body, ``{"message": ...}``; nbdock's explanation (if any) rides beside it.

    Docker's clients read only ``message`` (the docker CLI prints it, docker-py
    raises it), so an extra key changes nothing for them; nbdock's own CLI and
    magics print ``explanation`` under the message.
    """
    if status == 304:
        return web.Response(status=304)
    body: dict[str, str] = {"message": message}
    if explanation:
        body["explanation"] = explanation
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json")


def api_error(error: Exception) -> tuple[int, str]:
    """The one translation of an exception into what the client is told: (HTTP status, message).

    nbdock's typed errors carry their own status; anything else is a bug or a
    host failure, a 500 whose message names the exception (the daemon's log
    gets the traceback).  Used for plain replies and, after a connection has
    been hijacked and no status can be sent any more, for the text written on
    the stream itself.
    """
    if isinstance(error, NbdockError):
        return error.status, error.message
    return 500, f"{type(error).__name__}: {error}"


def frame(stream: str, data: bytes) -> bytes:
    """One frame of Docker's multiplexed stream."""
    return struct.pack(">BxxxL", STREAM_TYPES[stream], len(data)) + data


def _json_param(request: web.Request, name: str, default=None):
    value = request.query.get(name)
    if value in (None, ""):
        return default
    try:
        return json.loads(value)
    except ValueError:
        raise InvalidArgument(f"invalid JSON in the {name} parameter: {value!r}") from None


async def query_json(request: web.Request, name: str, default=None):
    """A query parameter holding JSON (buildargs, labels...), with a clear error when malformed."""
    return _json_param(request, name, default)


async def body_json(request: web.Request, shape: dict | None = None, what: str = "request body") -> dict:
    """The request's JSON object ({} for an empty body or null), checked against ``shape`` (see bodies.py).

    As in Docker, a body sent with another Content-Type than JSON is refused.
    """
    raw = await request.read()
    if not raw.strip():
        return {}
    content_type = request.headers.get("Content-Type", "")
    if content_type and request.content_type != "application/json":
        raise InvalidArgument(f"Content-Type specified ({content_type}) must be 'application/json'")
    try:
        body = bodies.loads(raw)  # keeps how numbers were written, for Go's error messages
    except ValueError as e:
        raise InvalidArgument(f"invalid JSON in the {what}: {e}") from None
    return {} if body is None else bodies.check(body, shape or {}, what)


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter as Docker reads them: "1", "true", "True" are true."""
    value = request.query.get(name)
    if value is None or value == "":
        return default
    return value.lower() not in ("0", "false", "no")


def integer(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"invalid value for {name}: {value!r} is not an integer") from None


class JSONStream:
    """A streamed reply of JSON messages, one per line, each flushed at once."""

    def __init__(self, request: web.Request, status: int = 200):
        self.request = request
        self.response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        self.prepared = False

    async def send(self, message: dict) -> None:
        if not self.prepared:
            await self.response.prepare(self.request)
            self.prepared = True
        await self.response.write((json.dumps(message) + "\r\n").encode())

    async def error(self, message: str, code: int | None = None) -> None:
        detail: dict[str, Any] = {"message": message}
        if code is not None:
            detail["code"] = code
        await self.send({"errorDetail": detail, "error": message})

    async def finish(self) -> web.StreamResponse:
        if not self.prepared:
            await self.response.prepare(self.request)
        await self.response.write_eof()
        return self.response


class _HijackedProtocol(asyncio.Protocol):
    """Receives what the client sends once its HTTP connection is hijacked."""

    def __init__(self, incoming: asyncio.Queue):
        self.incoming = incoming

    def data_received(self, data: bytes) -> None:
        self.incoming.put_nowait(data)

    def eof_received(self) -> bool:
        # The client closed its sending side (the docker CLI does when its stdin ends) but
        # still reads: keep the connection open for the rest of the output.
        self.incoming.put_nowait(b"")
        return True

    def connection_lost(self, exc) -> None:
        self.incoming.put_nowait(None)


class Hijacked:
    """A connection taken over from HTTP: raw bytes in both directions."""

    def __init__(self, request: web.Request, response: web.StreamResponse):
        self.request = request
        self.response = response
        self.transport = request.transport
        self.incoming: asyncio.Queue = asyncio.Queue()

    @classmethod
    async def upgrade(cls, request: web.Request, content_type: str) -> "Hijacked":
        """Answer 101 UPGRADED and take the socket over from HTTP.

        Both the docker CLI and docker-py ask for the upgrade (``Connection:
        Upgrade``, ``Upgrade: tcp``) and require, respectively accept, 101.
        """
        response = web.StreamResponse(status=101, reason="UPGRADED",
                                      headers={"Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"})
        await response.prepare(request)
        hijacked = cls(request, response)
        protocol = request.protocol
        leftover = getattr(protocol, "_message_tail", b"")  # bytes the client sent right behind its request
        hijacked.transport.set_protocol(_HijackedProtocol(hijacked.incoming))
        if leftover:
            hijacked.incoming.put_nowait(leftover)
        await hijacked.until_headers_read()
        return hijacked

    async def until_headers_read(self, limit: float = 0.2) -> None:
        """Wait (a little) until the client has read the 101 answer, before the stream begins.

        docker-py parses the answer with Python's http.client, which reads the
        socket in 8 KiB gulps, then takes the raw socket over: stream bytes
        that arrived in the same gulp as the headers stay in http.client's
        buffer, and are lost.  (``attach(stream=False, logs=True)`` on a stopped
        container lost its whole output that way.)  On a unix socket the kernel
        says how much the peer has yet to read: ioctl SIOCOUTQ (the same number
        as TIOCOUTQ) counts the bytes still charged to our side, which the
        kernel frees only once the client's recv() has consumed them.  A client
        that does not read at once just gets its stream ``limit`` seconds later.
        """
        sock = self.transport.get_extra_info("socket")
        if sock is None or sock.family != socket.AF_UNIX:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline and not self.transport.is_closing():
            if self.transport.get_write_buffer_size() == 0:
                unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
                if unread == 0:
                    return
            await asyncio.sleep(0.001)

    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        # The transport buffers writes; yield so a slow client applies back-pressure in steps.
        while self.transport.get_write_buffer_size() > 1 << 20 and not self.transport.is_closing():
            await asyncio.sleep(0.01)

    async def read_input(self) -> AsyncIterator[bytes]:
        """What the client sends, until it half-closes (or goes away)."""
        while True:
            data = await self.incoming.get()
            if not data:
                return
            yield data

    def close(self) -> None:
        """End the connection (and tell aiohttp it carries no further requests)."""
        self.request.protocol.force_close()

    @property
    def closed(self) -> bool:
        return self.transport.is_closing()


async def unless_disconnected(request: web.Request, awaitable):
    """Await ``awaitable``, giving up (returning None) if the client hangs up meanwhile.

    aiohttp does not cancel a handler when its client goes away, and some
    requests are left hanging on purpose: ``docker run -d`` abandons its
    ``wait``.  Without this the daemon would keep such waits forever.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=1)
            if done:
                return task.result()
            transport = request.transport
            if transport is None or transport.is_closing():
                return None
    finally:
        task.cancel()
        await asyncio.wait({task})  # let it unwind (an async generator's step must end before it can close)


async def while_connected(request: web.Request, items: AsyncIterator) -> AsyncIterator:
    """The items of ``items`` until it ends or the client hangs up (``docker logs -f`` left with Ctrl-C)."""
    iterator = items.__aiter__()
    try:
        while True:
            try:
                item = await unless_disconnected(request, iterator.__anext__())
            except StopAsyncIteration:
                return
            if item is None:
                return
            yield item
    finally:
        await iterator.aclose()


#: The filters each listing accepts (Docker 20.10's); any other is refused.
CONTAINER_FILTERS = ("ancestor", "before", "expose", "exited", "health", "id", "isolation", "is-task", "label", "name",
                     "network", "publish", "since", "status", "volume")
CONTAINER_PRUNE_FILTERS = ("until", "label", "label!")
IMAGE_FILTERS = ("before", "dangling", "label", "reference", "since")
IMAGE_PRUNE_FILTERS = ("dangling", "until", "label", "label!")
VOLUME_FILTERS = ("dangling", "driver", "label", "name")
VOLUME_PRUNE_FILTERS = ("label", "label!", "all")
NETWORK_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")
NETWORK_PRUNE_FILTERS = ("until", "label", "label!")
EVENT_FILTERS = ("config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope",
                 "secret", "service", "type", "volume")


def filters(request: web.Request, accepted: tuple[str, ...]) -> dict[str, list[str]]:
    """The ``filters`` query parameter as {name: [values]}, refusing names the endpoint does not know.

    Docker sends filters as {"name": {"x": true}} (older clients: {"name": ["x"]}).
    """
    raw = _json_param(request, "filters", {}) or {}
    if not isinstance(raw, dict):
        raise InvalidArgument(f"invalid filters: expected a JSON object, got {request.query['filters']!r}")
    result = {}
    for key, values in raw.items():
        if key not in accepted:
            raise InvalidArgument(f"Invalid filter '{key}'")
        result[key] = list(values) if isinstance(values, (list, dict)) else [str(values)]
    return result


async def stream_bytes(request: web.Request, chunks, headers: dict | None = None) -> web.StreamResponse:
    """A tar (or other bytes) streamed as it is produced; the first chunk is awaited before the
    headers go out, so an error that comes at once is still a proper HTTP error."""
    iterator = chunks.__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        first = b""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar", **(headers or {})})
    await response.prepare(request)
    try:
        if first:
            await response.write(first)
            async for chunk in iterator:
                await response.write(chunk)
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away (docker cp ... | head): nobody wants the rest
    return response
