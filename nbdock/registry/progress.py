"""The messages of Docker's JSON progress stream, for pull and push.

``docker pull`` and ``docker push`` do not get one answer from the daemon but
a stream of small JSON objects, one per line, which the CLI redraws as the
familiar per-layer progress bars.  Two shapes occur, and the CLI treats them
differently, so we reproduce both exactly as moby writes them:

* a plain *status* line, e.g. ``{"status": "Pulling from library/alpine",
  "id": "latest"}`` or ``{"status": "Digest: sha256:..."}``;
* a per-layer *update*, which always carries ``progressDetail`` (empty when
  there is nothing to measure) and, while bytes are moving, the current and
  total byte counts plus the preformatted bar in ``progress``::

    {"status": "Downloading", "id": "ee9a8e9634a6",
     "progressDetail": {"current": 36445, "total": 3001125},
     "progress": "[>        ...        ]  36.45kB/3.001MB"}

The CLI draws its own bar from ``progressDetail`` (and hides these lines
when its output is not a terminal); the ``progress`` string is what
docker-py users print.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Awaitable, Callable

#: The width of moby's bar, in '=' characters.
BAR_WIDTH = 50

#: Decimal units, as Docker prints sizes (1 kB = 1000 bytes).
_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def short_id(digest: str) -> str:
    """The 12 hex digits Docker shows for a layer (``sha256:4af02aff7641...`` -> ``4af02aff7641``)."""
    return digest.split(":", 1)[-1][:12]


def human_size(size: float) -> str:
    """A size the way Docker prints it: four significant digits, decimal units (``3.001MB``)."""
    unit = 0
    while size >= 1000 and unit < len(_UNITS) - 1:
        size /= 1000
        unit += 1
    return f"{size:.4g}{_UNITS[unit]}"


def progress_bar(current: int, total: int) -> str:
    """moby's text bar: ``[=====>      ]  1.2MB/3.4MB``.

    When ``current`` has run past ``total`` (a push counts uncompressed bytes
    against a compressed size, for instance) Docker drops the total rather
    than print a nonsensical fraction, and so do we.
    """
    filled = min(int(current / total * 100) // 2, BAR_WIDTH) if total > 0 else 0
    bar = "[" + "=" * filled + ">" + " " * (BAR_WIDTH - filled) + "] "
    if current > total:
        return bar + f"{human_size(current):>8}"
    return bar + f"{human_size(current):>8}/{human_size(total)}"


def status(text: str, id: str | None = None) -> dict:
    """A plain status line (``Pulling from ...``, ``Digest: ...``, ``Status: ...``)."""
    message: dict = {"status": text}
    if id is not None:
        message["id"] = id
    return message


def update(id: str, action: str, current: int | None = None, total: int | None = None) -> dict:
    """One layer's progress: ``Pulling fs layer``, ``Downloading 1.2MB/3.4MB``, ``Pull complete``..."""
    if current is None or total is None:
        return {"status": action, "progressDetail": {}, "id": id}
    return {
        "status": action,
        "progressDetail": {"current": current, "total": total},
        "progress": progress_bar(current, total),
        "id": id,
    }


def aux(**fields) -> dict:
    """A machine-readable message (the CLI hands it to a callback instead of printing it)."""
    return {"progressDetail": {}, "aux": fields}


async def stream(work: Callable[[Callable[[dict], None]], Awaitable[object]]) -> AsyncIterator[dict]:
    """Run ``work(emit)`` and yield each message it emits, as soon as it is emitted.

    A pull's downloads run concurrently and all report progress; they put
    their messages in one queue, which this generator drains for the daemon
    to stream.  When ``work`` fails, the messages sent before the failure
    are yielded first, then its error is raised.  If the consumer stops
    early (the client hung up), the work is cancelled.
    """
    queue: asyncio.Queue = asyncio.Queue()
    finished = object()

    async def run() -> None:
        try:
            await work(queue.put_nowait)
        finally:
            queue.put_nowait(finished)

    task = asyncio.create_task(run())
    try:
        while (message := await queue.get()) is not finished:
            yield message
        await task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
