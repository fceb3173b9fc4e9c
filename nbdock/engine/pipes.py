"""Moving bytes between the event loop and blocking code (threads, helper processes) through pipes.

A tar being written by a worker thread or a helper process, an upload
being read by one: the event loop never blocks on them, and the pipe's
kernel buffer gives natural back-pressure in both directions.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from typing import AsyncIterator, BinaryIO, Callable, TypeVar

T = TypeVar("T")
CHUNK = 1 << 16
#: fcntl(F_SETPIPE_SZ): a pipe holds 64 KiB by default; a bigger one means fewer
#: wake-ups of the thread at the other end when megabytes go through it.
F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20


def big_pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    try:
        fcntl.fcntl(write_end, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size for this user: the default size still works
    return read_end, write_end


async def read_fd(fd: int) -> AsyncIterator[bytes]:
    """Yield what arrives on a pipe's read end until end-of-file (the descriptor is closed after)."""
    reader = asyncio.StreamReader(limit=CHUNK)
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0))
    try:
        while chunk := await reader.read(CHUNK):
            yield chunk
    finally:
        transport.close()


async def write_fd(fd: int, chunks: AsyncIterator[bytes]) -> None:
    """Write every chunk to a pipe's write end, then close it (a reader that went away ends the copy)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(fd, "wb", buffering=0))
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    try:
        async for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        transport.close()


async def from_thread(produce: Callable[[BinaryIO], object]) -> AsyncIterator[bytes]:
    """Run ``produce(fileobj)`` in a worker thread and yield what it writes to ``fileobj``.

    An exception in ``produce`` is raised here, after the bytes it wrote.
    """
    read_end, write_end = big_pipe()

    def work() -> None:
        with open(write_end, "wb", buffering=CHUNK) as out:
            produce(out)

    task = asyncio.get_running_loop().run_in_executor(None, _ignore_broken_pipe(work))
    try:
        async for chunk in read_fd(read_end):
            yield chunk
    finally:
        await task


async def to_thread(consume: Callable[[BinaryIO], T], chunks: AsyncIterator[bytes]) -> T:
    """Run ``consume(fileobj)`` in a worker thread, feeding ``fileobj`` with ``chunks``; return its result."""
    read_end, write_end = big_pipe()

    def work() -> T:
        with open(read_end, "rb", buffering=PIPE_SIZE) as source:
            result = consume(source)
            while source.read(CHUNK):  # let the writer finish even if consume stopped early
                pass
            return result

    task = asyncio.get_running_loop().run_in_executor(None, work)
    await write_fd(write_end, chunks)
    return await task


def _ignore_broken_pipe(work: Callable[[], None]) -> Callable[[], None]:
    def wrapped() -> None:
        try:
            work()
        except BrokenPipeError:
            pass  # the client went away; nobody wants the rest
    return wrapped
