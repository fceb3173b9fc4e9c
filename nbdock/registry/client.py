"""The registry client the engine uses: pull, push and login, with Docker's progress stream.

::

    client = RegistryClient(store, RegistryConfig(insecure_registries=[...], mirrors=[...]))
    async for message in client.pull("busybox"):      # {"status": "Pulling from library/busybox", ...}
        ...
    async for message in client.push("localhost:5000/me/tool:1", auth=AuthConfig(...)):
        ...
    await client.login("localhost:5000", "alice", "s3cret")   # {"Status": "Login Succeeded", ...}

Each call opens its own HTTP session and closes it when done, so one
client serves any number of concurrent pulls and pushes.
"""

from __future__ import annotations

from typing import AsyncIterator

from nbdock.image import reference as references
from nbdock.image.reference import Reference

from . import progress
from .auth import AuthConfig
from .config import RegistryConfig
from .login import login
from .manifest import Platform
from .pull import Pull
from .push import Push
from .transport import Transport


class RegistryClient:
    """Pulls images into ``store`` and pushes them from it."""

    def __init__(self, store, config: RegistryConfig | None = None):
        self.store = store
        self.config = config or RegistryConfig()

    async def pull(
        self, ref: str | Reference, auth: AuthConfig | None = None, platform: str | Platform | None = None
    ) -> AsyncIterator[dict]:
        """Pull ``ref`` (``latest`` when it names no tag), yielding Docker's progress messages."""
        reference = _parse(ref).with_default_tag()
        if isinstance(platform, str):  # the API's ?platform=linux/arm64, empty when not given
            platform = Platform.parse(platform) if platform else None
        async with Transport(self.config) as transport:

            async def work(emit):
                await Pull(self.store, transport, self.config, reference, auth, platform, emit).run()

            async for message in progress.stream(work):
                yield message

    async def push(self, ref: str | Reference, auth: AuthConfig | None = None) -> AsyncIterator[dict]:
        """Push ``ref`` (every local tag of the repository when it names none), yielding progress messages."""
        reference = _parse(ref)
        async with Transport(self.config) as transport:

            async def work(emit):
                await Push(self.store, transport, self.config, reference, auth, emit).run()

            async for message in progress.stream(work):
                yield message

    async def login(self, server: str, username: str, password: str) -> dict:
        """Check credentials against ``server``: ``{"Status": "Login Succeeded", "IdentityToken": ...}``."""
        async with Transport(self.config) as transport:
            return await login(transport, self.config, server, username, password)


def _parse(ref: str | Reference) -> Reference:
    return ref if isinstance(ref, Reference) else references.parse(ref)
