"""Reading containers: ``docker inspect``, ``docker ps`` (its filters and sizes), ``docker logs``.

Nothing here changes a container; it reads the registry, the records, the
log files and the health each container's monitor keeps.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any, AsyncIterator, Callable

from ... import errors
from ...errors import InvalidArgument
from ...image import reference
from ...image.store import ImageStore
from .. import clock, filtering, logs
from ..health import HealthService, status_line
from ..records import ContainerRecord
from .registry import Container, ContainerRegistry

#: The values ``docker ps --filter status=`` accepts.
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


class ContainerListing:
    def __init__(self, registry: ContainerRegistry, root: str, store: ImageStore, health: HealthService,
                 lowerdirs: Callable[[ContainerRecord], list[str]]):
        self.registry = registry
        self.root = root
        self.store = store
        self.health = health
        self.lowerdirs = lowerdirs

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        container = self.registry.get(ref)
        record = container.record
        view = record.to_inspect(self.root)
        # The overlay's read-only part, top-most first: the init layer, then the image's layers.
        view["GraphDriver"]["Data"]["LowerDir"] = ":".join(self.lowerdirs(record))
        health = self.health.inspect(container.id)
        if health is not None:
            view["State"]["Health"] = health
        if size:
            view.update(self.sizes(container.record))
        return view

    def list(self, *, all: bool = False, filters: dict[str, list[str]] | None = None, limit: int = -1,
             size: bool = False) -> list[dict[str, Any]]:
        filters = filters or {}
        check_filter_values(filters)
        window = tuple(self.registry.get(filters[key][0]).record.Created if filters.get(key) else ""
                       for key in ("since", "before"))
        chosen = [c for c in self.registry.all() if (all or c.running or "status" in filters or "exited" in filters)]
        chosen = [c for c in chosen if matches(c, filters, window, self.health.filter_value(c.id))]
        chosen.sort(key=lambda c: c.record.Created, reverse=True)
        if limit is not None and limit > 0:
            chosen = chosen[:limit]
        result = []
        for container in chosen:
            summary = container.record.to_summary()
            summary["Status"] = status_line(summary["Status"], container.record.State, self.health.get(container.id))
            if size:
                summary.update(self.sizes(container.record))
            result.append(summary)
        return result

    def sizes(self, record: ContainerRecord) -> dict[str, int]:
        """SizeRw (the container's own changes) and SizeRootFs (those plus its image's layers)."""
        size_rw = dir_size(os.path.join(record.directory(self.root), "upper"))
        return {"SizeRw": size_rw, "SizeRootFs": size_rw + self.store.get(record.Image).size}

    async def logs(self, ref: str, *, follow: bool = False, tail: int | None = None, since: float = 0,
                   until: float = 0) -> AsyncIterator[list[logs.LogEntry]]:
        """The container's log entries, a batch at a time, then (with follow) new ones until it stops."""
        container = self.registry.get(ref)
        record = container.record
        path = os.path.join(record.directory(self.root), f"{container.id}-json.log")
        run = container.run
        if run is not None:
            options = run.log.options
        else:
            try:
                options = logs.log_options((record.HostConfig.get("LogConfig") or {}).get("Config"))
            except errors.NbdockError:
                options = logs.LogOptions()  # a record from before the options were checked
        # Opened here, on the event loop that runs the writer: the history ends where following starts.
        reader = logs.LogReader(path, options, run.log if run is not None else None)
        try:
            async for batch in reader.history(tail=tail, since=since, until=until):
                yield batch
            if follow and not until:
                async for batch in reader.follow(since=since):
                    yield batch
        finally:
            reader.close()


def dir_size(path: str) -> int:
    """The bytes of the files under ``path`` (as ``docker ps -s`` counts a container's upper directory)."""
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def check_filter_values(filters: dict[str, list[str]]) -> None:
    """Docker's errors for filter values that can never match."""
    for status in filters.get("status", []):
        if status not in STATUSES:
            raise InvalidArgument(f"Invalid filter 'status={status}'")
    for health in filters.get("health", []):
        if health not in ("starting", "healthy", "unhealthy", "none"):
            raise InvalidArgument(f"Unrecognised filter value for health: {health}")
    for code in filters.get("exited", []):
        if not code.lstrip("-").isdigit():
            raise InvalidArgument(f"invalid exit code filter: {code!r} is not an integer")


def matches(container: Container, filters: dict[str, list[str]],
            created_between: tuple[str, str], health: str) -> bool:
    """``docker ps --filter``: each filter given must match one of its values (labels: all of them).

    ``created_between`` is the (since, before) window the since= and before=
    filters set, as Created times ("" for no bound); ``health`` is the container's
    health status (starting, healthy, unhealthy, or none).
    """
    record = container.record
    since, before = created_between
    if (since and record.Created <= since) or (before and record.Created >= before):
        return False
    checks = {
        # Names are matched as regular expressions, with and without the leading "/".
        "name": lambda v: re.search(v, record.Name) or re.search(v, record.name),
        "id": lambda v: record.Id.startswith(v),
        "status": lambda v: record.State.Status == v,
        "exited": lambda v: (not record.State.Running and record.State.StartedAt != clock.ZERO_TIME
                             and record.State.ExitCode == int(v)),
        "ancestor": lambda v: is_ancestor(record, v),
        "volume": lambda v: any(m.get("Name") == v or m.get("Destination") == v for m in record.MountPoints),
        "network": lambda v: any(v in (name, (endpoint or {}).get("NetworkID"))
                                 for name, endpoint in (record.NetworkSettings.get("Networks") or {}).items()),
        "expose": lambda v: port_key(v) in (record.Config.get("ExposedPorts") or {}),
        "publish": lambda v: port_key(v) in (record.NetworkSettings.get("Ports") or {}) and
                             bool(record.NetworkSettings["Ports"][port_key(v)]),
        "health": lambda v: v == health,
        "is-task": lambda v: v.lower() in ("false", "0"),
        "isolation": lambda v: v == "default",
    }
    for key, values in filters.items():
        if key in checks and values and not any(checks[key](v) for v in values):
            return False
    return filtering.labels_match(record.Config.get("Labels") or {}, filters.get("label", []), filters.get("label!", []))


def port_key(value: str) -> str:
    """"80" or "80/udp" as the key of ExposedPorts and Ports ("80/tcp")."""
    return value if "/" in value else f"{value}/tcp"


def is_ancestor(record: ContainerRecord, wanted: str) -> bool:
    """``--filter ancestor=``: the container's image, by id (or prefix) or by the name it was run with."""
    if record.Image == wanted or record.Image.removeprefix("sha256:").startswith(wanted.removeprefix("sha256:")):
        return True
    with contextlib.suppress(InvalidArgument):  # not a reference: no image's name
        return reference.normalize(record.ImageName) == reference.normalize(wanted)
    return False
