"""A container's files from the outside: ``docker cp`` (both ways), ``export`` and ``diff``.

``diff`` only compares directories the engine owns (the overlay's upper
directory against the image's layers), so it runs here.  Everything that
follows paths *inside* the container -- where a symlink may point anywhere
-- runs in a helper process inside the container's own root (see
nbdock/runtime/fsaccess.py); this module starts those helpers through the
spawner and moves their data to and from the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import TYPE_CHECKING, AsyncIterator

from ..errors import Conflict, InvalidArgument, NotFound
from ..image import layers
from ..runtime.errors import ContainerStartError
from ..runtime.fsaccess import FsRequest
from ..runtime.spec import Mount, Rootfs
from . import clock, pipes

if TYPE_CHECKING:
    from ..image.store import ImageStore
    from ..runtime.spawner import Spawner
    from .containers import Container, ContainerService
    from .remap import UsernsRemap

#: Docker's ``Kind`` numbers in GET /containers/{id}/changes.
CHANGE_KINDS = {"C": 0, "A": 1, "D": 2}


class ContainerFiles:
    """``docker cp``, ``export`` and ``diff`` of the engine's containers.

    Its collaborators are given, not reached through the engine: the
    containers (to find one and its layers), the data root (their
    directories), the spawner (which starts the helpers in a container's root),
    and, under --userns-remap, the remapping and the image store it reads.
    """

    def __init__(self, containers: "ContainerService", root: str, spawner: "Spawner", *,
                 remap: "UsernsRemap | None", image_store: "ImageStore"):
        self.containers = containers
        self.root = root
        self.spawner = spawner
        self.remap = remap
        self.image_store = image_store

    async def changes(self, ref: str) -> list[dict]:
        """``docker diff``: the overlay's upper directory against the image's layers."""
        container = self.containers.get(ref)
        record = container.record
        directory = record.directory(self.root)
        lowerdirs = self.containers.lowerdirs(record)
        found = await asyncio.to_thread(layers.changes_from_upper, os.path.join(directory, "upper"), lowerdirs)
        return [{"Path": path, "Kind": CHANGE_KINDS[kind]} for path, kind in found]

    async def stat_path(self, ref: str, path: str) -> dict:
        container = self.containers.get(ref)
        if not path:
            raise InvalidArgument("Path cannot be empty")
        async with _access(container):
            request = self._request(container, "stat", writable=False, with_mounts=True, path=path)
            raw = b"".join([chunk async for chunk in self._run_helper(ref, container, request)])
        stat = json.loads(raw)
        stat["mtime"] = clock.rfc3339(stat["mtime"])
        return stat

    async def get_archive(self, ref: str, path: str) -> AsyncIterator[bytes]:
        container = self.containers.get(ref)
        async with _access(container):
            request = self._request(container, "get", writable=False, with_mounts=True, path=path)
            async for chunk in self._run_helper(ref, container, request):
                yield chunk

    async def put_archive(self, ref: str, path: str, body: AsyncIterator[bytes], *,
                          no_overwrite_dir_non_dir: bool = False, copy_uid_gid: bool = False,
                          owner: str | None = None) -> None:
        """Extract a tar into directory ``path`` of the container.

        Files belong to root (0:0) unless ``copy_uid_gid`` keeps the archive's
        ids, or ``owner`` ("user[:group]", resolved in the container's own
        /etc/passwd -- the builder's ``COPY --chown``) names someone else.
        """
        container = self.containers.get(ref)
        if container.record.HostConfig.get("ReadonlyRootfs"):
            raise Conflict("container rootfs is marked read-only")
        if owner is None:
            owner = "" if copy_uid_gid else "0:0"
        async with _access(container):
            request = self._request(container, "put", writable=True, with_mounts=True, path=path,
                                    owner=owner, no_overwrite_dir_non_dir=no_overwrite_dir_non_dir)
            async for _ in self._run_helper(ref, container, request, upload=body):
                pass

    async def export(self, ref: str) -> AsyncIterator[bytes]:
        container = self.containers.get(ref)
        request = self._request(container, "export", writable=False, with_mounts=False)
        async for chunk in self._run_helper(ref, container, request):
            yield chunk

    # -- the helper process

    def _request(self, container: "Container", action: str, *, writable: bool, with_mounts: bool,
                 **options) -> FsRequest:
        """Where the helper works: inside the running container, or in a fresh mount of a stopped one."""
        if container.running and action != "export":
            return FsRequest(action, in_running_container=True,
                             user_namespace=container.run.runtime.spec.user_namespace if container.run else {}, **options)
        record = container.record
        directory = record.directory(self.root)
        lowerdirs = self.containers.lowerdirs(record)
        user_namespace = {}
        if self.remap is not None and self.remap.applies_to(record.HostConfig):  # --userns-remap (remap.py)
            user_namespace, lowerdirs = self.remap.for_files(record, lowerdirs, self.image_store, writable=writable)
        upper, work = os.path.join(directory, "upper"), os.path.join(directory, "work")
        if writable:
            root = Rootfs(lowerdirs, upper, work, os.path.join(directory, "rootfs"))
        else:
            root = Rootfs([upper] + lowerdirs, "", "", os.path.join(directory, "rootfs"))
        mounts = []
        if with_mounts:
            for point in record.MountPoints:
                if point["Type"] in ("bind", "volume"):
                    mounts.append(Mount(point["Destination"], "bind", point["Source"], readonly=not point["RW"],
                                        idmap=point["Type"] == "volume" and bool(user_namespace.get("idmapped_layers"))))
        return FsRequest(action, rootfs=root, mounts=mounts, user_namespace=user_namespace, **options)

    async def _run_helper(self, ref: str, container: "Container", request: FsRequest, *,
                          upload: AsyncIterator[bytes] | None = None) -> AsyncIterator[bytes]:
        """Run one helper in ``container`` (``ref`` as the client named it); yield what it writes on its data pipe, feed it ``upload``; raise its error."""
        loop = asyncio.get_running_loop()
        exited = loop.create_future()
        errors_r, errors_w = os.pipe2(os.O_CLOEXEC)
        data_r, data_w = os.pipe2(os.O_CLOEXEC)
        ours, theirs = (data_w, data_r) if upload is not None else (data_r, data_w)
        channels = {"data": theirs, "errors": errors_w}
        try:
            if request.in_running_container:
                channels["target"] = _init_pidfd(container)  # names PID 1, whatever its pid
            await asyncio.to_thread(
                self.spawner.fs, request, channels,
                lambda status: loop.call_soon_threadsafe(lambda: exited.done() or exited.set_result(status)))
        except ContainerStartError as e:  # the spawner could not set the helper up (a mount, a namespace)
            os.close(ours)
            os.close(errors_r)
            raise InvalidArgument(str(e).removeprefix("RuntimeError: ")) from None
        except BaseException:  # Conflict (not running), a cancel, a bug: as they are
            os.close(ours)
            os.close(errors_r)
            raise
        finally:
            for fd in (theirs, errors_w, channels.get("target")):
                if fd is not None:
                    os.close(fd)
        try:
            if upload is not None:
                await pipes.write_fd(ours, upload)
            else:
                async for chunk in pipes.read_fd(ours):
                    yield chunk
            await exited
            failure = await asyncio.to_thread(_read_all, errors_r)
            if failure:
                raise _translate(json.loads(failure), ref)
        finally:
            os.close(errors_r)


def _init_pidfd(container: "Container") -> int:
    """A descriptor of our own on the running container's PID 1 pidfd (see RuntimeContainer.duplicate_init_pidfd, nbdock/runtime/container.py)."""
    try:
        if container.run is None:
            raise ProcessLookupError
        return container.run.runtime.duplicate_init_pidfd()
    except ProcessLookupError:
        raise Conflict(f"Container {container.id} is not running") from None


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _translate(failure: dict, ref: str) -> Exception:
    if failure.get("kind") == "not_found":
        return NotFound(f"Could not find the file {failure['message']} in container {ref}")
    return InvalidArgument(failure["message"])


@contextlib.asynccontextmanager
async def _access(container: "Container"):
    """A stopped container's overlay is mounted by the helper: hold its lock so it cannot start meanwhile."""
    if container.running:
        yield
        return
    async with container.lock:
        yield
