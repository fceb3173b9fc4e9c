"""Moving a container's standard streams between its pipes (or pty) and the clients.

The daemon holds the other ends of every container process's stdio: pipes
for stdout and stderr (or, with ``-t``, the master side of a pseudo-terminal)
and a pipe for stdin with ``-i``.  Everything here runs on the event loop,
reading and writing those descriptors without ever blocking it:

* :class:`OutputPump` reads stdout/stderr as data arrives (``add_reader``) and
  hands each chunk on -- to the log file and to whoever is attached;
* :class:`Listeners` is the set of attached clients of one container (or one
  exec), kept across runs so that ``docker run``, which attaches *before* it
  starts the container, misses nothing;
* :class:`StdinPump` copies what attached clients type into the container's
  stdin, and closes it when the client is done (``docker run -i`` with a pipe).

When an attached client's input ends, Docker either closes the process's
stdin (without a tty, for ``docker run -i`` and ``exec -i``) or ends the
attachment (:func:`end_of_input`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from dataclasses import dataclass, field
from typing import Callable

from ..runtime.container import Stdio
from .pipes import PIPE_SIZE, big_pipe


@dataclass
class StdioPipes:
    """The pipes between the engine and a new process's standard streams.

    The process gets one end of each (``stdio``: handed to the runtime, which
    dup2()s them onto 0, 1 and 2 in the child); the engine keeps the other.
    With a TTY there are no output pipes: the pty's master carries both
    directions, so :meth:`use_console` takes our ends from it once it exists.
    """

    stdio: Stdio = field(default_factory=Stdio)
    ours: list[int] = field(default_factory=list)  # the engine's ends
    theirs: list[int] = field(default_factory=list)  # the process's ends: closed here once it has its copies
    output_fds: dict[int, str] = field(default_factory=dict)  # our read ends -> "stdout" / "stderr"
    stdin_fd: int | None = None  # our write end of the process's stdin

    @classmethod
    def open(cls, *, stdin: bool, tty: bool) -> "StdioPipes":
        pipes = cls()
        try:
            if stdin:
                read_end, pipes.stdin_fd = os.pipe2(os.O_CLOEXEC)
                pipes.stdio.stdin = read_end
                pipes.theirs.append(read_end)
                pipes.ours.append(pipes.stdin_fd)
            if not tty:
                for stream in ("stdout", "stderr"):
                    # A megabyte of pipe rather than 64 KiB: a program that prints fast goes on
                    # printing while the engine logs what it printed, instead of waiting for it.
                    read_end, write_end = big_pipe()
                    setattr(pipes.stdio, stream, write_end)
                    pipes.theirs.append(write_end)
                    pipes.ours.append(read_end)
                    pipes.output_fds[read_end] = stream
        except BaseException:
            pipes.close_all()
            raise
        return pipes

    def close_theirs(self) -> None:
        """Once the child holds its copies: else its output would never reach end-of-file."""
        for fd in self.theirs:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.theirs.clear()

    def close_all(self) -> None:
        self.close_theirs()
        for fd in self.ours:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.ours.clear()

    def use_console(self, console: int | None, stdin: bool) -> None:
        """With a TTY: read the output from (and, with ``-i``, write the input to) the pty master."""
        if console is not None:
            self.output_fds[os.dup(console)] = "stdout"
            if stdin:
                self.stdin_fd = os.dup(console)


#: How much output one attached client may have waiting before the container's output is read no
#: further: a client slower than the container then slows the container down (as with Docker,
#: whose copier blocks on it), rather than the daemon keeping all it has not sent yet.
CLIENT_BACKLOG = 4 * 1024 * 1024


class _OutputQueue(asyncio.Queue):
    """A listener's queue that counts the bytes it holds (``_put`` and ``_get`` are Queue's hooks)."""

    def __init__(self, on_taken: Callable[[], None]):
        super().__init__()
        self.backlog = 0
        self._on_taken = on_taken

    def _put(self, item) -> None:
        super()._put(item)
        if item is not None:
            self.backlog += len(item[1])

    def _get(self):
        item = super()._get()
        if item is not None:
            self.backlog -= len(item[1])
            self._on_taken()
        return item


class Listeners:
    """The clients attached to a container's output, and the input they send."""

    def __init__(self):
        self._queues: set[_OutputQueue] = set()
        #: What attached clients typed, in order; None means "end of input".
        self.stdin: asyncio.Queue = asyncio.Queue()
        self._waiting: list[Callable[[], None]] = []  # to call once no client is behind

    def listen(self) -> asyncio.Queue:
        """A queue receiving (stream, bytes) pairs, then None when the current run's output ends."""
        queue = _OutputQueue(self._check)
        self._queues.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue) -> None:
        self._queues.discard(queue)
        self._check()

    def publish(self, stream: str, data: bytes) -> None:
        for queue in self._queues:
            queue.put_nowait((stream, data))

    def end(self) -> None:
        """The output of this run is over: tell every listener, and forget them."""
        for queue in self._queues:
            queue.put_nowait(None)
        self._queues.clear()
        self._check()

    @property
    def backlogged(self) -> bool:
        """Whether some client has more than CLIENT_BACKLOG bytes of output waiting for it."""
        return any(queue.backlog > CLIENT_BACKLOG for queue in self._queues)

    def when_caught_up(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once no client is backlogged (at once if none is)."""
        self._waiting.append(callback)
        self._check()

    def _check(self) -> None:
        if self._waiting and not self.backlogged:
            callbacks, self._waiting = self._waiting, []
            for callback in callbacks:
                callback()


class OutputPump:
    """Reads a process's output descriptors until each reaches end-of-file.

    ``sources`` maps each descriptor to its stream name ("stdout", "stderr");
    ``sink(stream, data)`` receives every chunk; ``done`` is set once all
    sources are exhausted -- that, not the process's exit, is when its output
    is complete (a child it left behind may still hold the pipe open).

    Each wake-up takes all the pipe holds (up to its megabyte) with one
    read into a buffer allocated once, so a process printing a million short
    lines costs a few hundred wake-ups and sink calls, not a million.

    With ``listeners``, reading pauses while one of them is backlogged: the
    pipes fill, the process's next write waits, and the daemon holds a few
    megabytes for a slow client instead of everything the process printed.
    """

    def __init__(self, sources: dict[int, str], sink: Callable[[str, bytes], None], listeners: Listeners | None = None):
        self._loop = asyncio.get_running_loop()
        self._open = dict(sources)
        self._sink = sink
        self._listeners = listeners
        self._paused = False
        # Reused by every read: a fresh megabyte per read would be mapped and page-faulted in each time.
        self._buffer = bytearray(PIPE_SIZE)
        self._view = memoryview(self._buffer)
        self.done = asyncio.Event()
        for fd in sources:
            os.set_blocking(fd, False)
            self._loop.add_reader(fd, self._readable, fd)
        if not sources:
            self.done.set()

    def _readable(self, fd: int) -> None:
        try:
            count = os.readv(fd, [self._buffer])
        except BlockingIOError:
            return
        except OSError as e:
            # A pty master reads EIO once every slave descriptor is closed: its end-of-file.
            if e.errno != errno.EIO:
                raise
            count = 0
        if count:
            self._sink(self._open[fd], bytes(self._view[:count]))
            if self._listeners is not None and self._listeners.backlogged:
                self._pause()
        else:
            self._close(fd)

    def _pause(self) -> None:
        for fd in self._open:
            self._loop.remove_reader(fd)
        self._paused = True
        self._listeners.when_caught_up(self._resume)

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            for fd in self._open:
                self._loop.add_reader(fd, self._readable, fd)

    def unthrottle(self) -> None:
        """The process has exited: read the rest whoever is behind (no more than its pipes hold, then)."""
        self._listeners = None
        self._resume()

    def _close(self, fd: int) -> None:
        self._loop.remove_reader(fd)
        del self._open[fd]
        os.close(fd)
        if not self._open:
            self.done.set()

    def abandon(self) -> None:
        """Stop reading (the daemon is shutting down)."""
        for fd in list(self._open):
            self._close(fd)


class StdinPump:
    """Copies bytes from a queue into a descriptor (a stdin pipe, or a pty master).

    None in the queue closes the descriptor: the process reads end-of-file.
    (With a pty nobody sends None: closing the master would hang the terminal
    up, so when a client's input ends Docker detaches it instead.)
    """

    def __init__(self, fd: int, queue: asyncio.Queue):
        self._fd = fd
        self._queue = queue
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(self._fd, "wb", buffering=0, closefd=True)
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, pipe)
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        try:
            while (data := await self._queue.get()) is not None:
                writer.write(data)
                await writer.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the process has gone; what it was sent no longer matters
        finally:
            with contextlib.suppress(Exception):
                transport.close()

    def stop(self) -> None:
        self._task.cancel()


def end_of_input(listeners: Listeners, output: asyncio.Queue, *, close_stdin: bool, tty: bool) -> None:
    """An attached client's input ended (it half-closed its connection).

    Docker's rule (moby's stream.AttachStreams): without a tty and when the
    process's stdin is to be closed with the client's (``StdinOnce``, every
    exec), the process reads end-of-file and its output still drains to the
    client; otherwise the attachment ends here, and the process runs on.
    """
    if close_stdin and not tty:
        listeners.stdin.put_nowait(None)
    else:
        output.put_nowait(None)
