"""What the builder needs of a container engine, and nothing more.

A Dockerfile's RUN is a container: created from the image so far, started,
its output relayed to the client, waited for, and its upper directory (the
files the command changed) committed as the step's layer. FROM may pull an
image, and the result is tagged. Those few operations are the builder's
*backend*; nbdock's engine implements them (nbdock/engine/buildbackend.py),
and the builder imports no engine module. Images themselves are read and
written through the image store (nbdock/image/store.py), a library below both.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Protocol

if TYPE_CHECKING:
    from ..image.store import ImageStore
    from ..registry import AuthConfig


class BuildBackend(Protocol):
    #: Where the builder reads images and stores its layers and images.
    image_store: "ImageStore"

    async def create(self, config: dict[str, Any]) -> dict[str, Any]:
        """Create a container (a /containers/create body); Docker's answer: ``{"Id": ..., "Warnings": [...]}``."""

    def listen(self, container_id: str) -> tuple[asyncio.Queue, Callable[[], None]]:
        """A queue of the container's output, ``(stream, bytes)`` items then ``None`` at its end, and
        the function that stops filling it (which works even once the container is removed).
        Taken before :meth:`start`, so not a byte is missed."""

    async def start(self, container_id: str) -> None: ...

    async def wait(self, container_id: str) -> int:
        """The exit code, once the container has stopped."""

    async def remove(self, container_id: str) -> None:
        """Remove the container, killing it first if it runs, with its anonymous volumes."""

    def upper_dir(self, container_id: str) -> str:
        """The overlay's upper directory of the container: what its command changed, to commit as a layer."""

    def pull(self, name: str, auth: "AuthConfig | None") -> AsyncIterator[dict[str, Any]]:
        """Pull an image (FROM, --pull): the progress messages, as the /images/create stream."""

    def tag(self, image_id: str, reference: str) -> None:
        """Tag the built image (``-t``)."""
