"""The engine as the builder's backend (nbdock/builder/backend.py): its containers, pulls and tags."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

if TYPE_CHECKING:
    from ..registry import AuthConfig
    from .containers import ContainerService
    from .images import ImageService


class EngineBuildBackend:
    """:class:`nbdock.builder.backend.BuildBackend` on nbdock's container and image services."""

    def __init__(self, containers: "ContainerService", images: "ImageService", root: str):
        self.containers = containers
        self.images = images
        self.image_store = images.store
        self.root = root

    async def create(self, config: dict[str, Any]) -> dict[str, Any]:
        return await self.containers.create(config)

    def listen(self, container_id: str) -> tuple[asyncio.Queue, Callable[[], None]]:
        listeners = self.containers.get(container_id).listeners
        queue = listeners.listen()
        return queue, lambda: listeners.unlisten(queue)

    async def start(self, container_id: str) -> None:
        await self.containers.start(container_id)

    async def wait(self, container_id: str) -> int:
        return (await self.containers.wait(container_id))["StatusCode"]

    async def remove(self, container_id: str) -> None:
        await self.containers.remove(container_id, force=True, volumes=True)

    def upper_dir(self, container_id: str) -> str:
        return os.path.join(self.containers.get(container_id).record.directory(self.root), "upper")

    def pull(self, name: str, auth: "AuthConfig | None") -> AsyncIterator[dict[str, Any]]:
        return self.images.pull(name, auth)

    def tag(self, image_id: str, reference: str) -> None:
        self.images.tag(image_id, reference)
