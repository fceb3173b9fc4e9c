"""The engine's containers by id and by name, and what each holds while it lives.

A :class:`Container` is the container as ``docker`` users know it: its
record on disk (:class:`~nbdock.engine.records.ContainerRecord`) plus what the
engine keeps in memory for it -- a lock, the attached clients, and a
:class:`Run` while its processes exist.  The registry resolves the
references users type (full id, name, unique id prefix) to one of them.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from ...errors import Conflict, InvalidArgument, NotFound
from ...network import Endpoint
from ...runtime.container import Container as RuntimeContainer
from ...runtime.container import Started
from ...runtime.trace import Trace
from .. import logs
from ..records import ContainerRecord
from ..streams import Listeners, OutputPump, StdinPump


@dataclass
class Run:
    """What exists only while a container runs."""

    runtime: RuntimeContainer
    started: Started
    trace: Trace
    log: logs.LogWriter
    endpoints: list[Endpoint]
    exited: asyncio.Future  # resolves to the wait status
    pump: OutputPump | None = None
    stdin: StdinPump | None = None


class Container:
    """A container record plus the live objects the engine keeps for it."""

    def __init__(self, record: ContainerRecord):
        self.record = record
        self.lock = asyncio.Lock()
        self.listeners = Listeners()
        self.run: Run | None = None
        self.changed = asyncio.Condition()  # notified at every exit and at removal
        self.exits = 0
        self.removed = False
        self.restart_task: asyncio.Task | None = None
        self.supervisor: asyncio.Task | None = None  # watches the current run until its end is handled

    @property
    def id(self) -> str:
        return self.record.Id

    @property
    def running(self) -> bool:
        return self.run is not None

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()


class ContainerRegistry:
    """Every container the engine knows, by id and by name (a name is taken until its container is forgotten)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Container] = {}
        self._by_name: dict[str, str] = {}

    def get(self, ref: str) -> Container:
        """By full id, name (with or without "/") or unique id prefix, as Docker resolves them."""
        ref = (ref or "").strip()
        if ref in self._by_id:
            return self._by_id[ref]
        name = ref.lstrip("/")
        if name in self._by_name:
            return self._by_id[self._by_name[name]]
        if ref:
            matches = [c for cid, c in self._by_id.items() if cid.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def all(self) -> list[Container]:
        return list(self._by_id.values())

    def names(self) -> dict[str, str]:
        """name -> id of every container (the names :func:`~nbdock.engine.names.generate` must avoid)."""
        return self._by_name

    def using_image(self, image_id: str) -> list[Container]:
        return [c for c in self._by_id.values() if c.record.Image == image_id]

    def using_volume(self, name: str) -> list[str]:
        return [c.id for c in self._by_id.values() if any(m.get("Name") == name for m in c.record.MountPoints)]

    def check_name_free(self, name: str) -> None:
        if name in self._by_name:
            raise Conflict(
                f'Conflict. The container name "/{name}" is already in use by container "{self._by_name[name]}". '
                "You have to remove (or rename) that container to be able to reuse that name."
            )

    def register(self, container: Container) -> None:
        self._by_id[container.id] = container
        self._by_name[container.record.name] = container.id

    def forget(self, container: Container) -> None:
        self._by_id.pop(container.id, None)
        if self._by_name.get(container.record.name) == container.id:
            del self._by_name[container.record.name]

    def rename(self, container: Container, new_name: str) -> None:
        """The name ``new_name`` (checked free by the caller) now resolves to ``container``."""
        del self._by_name[container.record.name]
        container.record.Name = "/" + new_name
        self._by_name[new_name] = container.id


def lowerdirs(record: ContainerRecord, root: str, image_lowerdirs: list[str]) -> list[str]:
    """The read-only layers of a container's overlay, top-most first: its init layer, then its image's."""
    return [os.path.join(record.directory(root), "init")] + image_lowerdirs
