"""Image operations that need more than the store: containers (in use?), the registry, events.

The store (nbdock/image/store.py) keeps blobs, layers and tags; this module
is the engine's side of ``docker images/pull/push/rmi/tag/history/save/
load/import/commit``: it checks what containers use, talks to registries,
falls back to the embedded busybox when offline, and publishes events.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fnmatch
import os
from typing import TYPE_CHECKING, Any, AsyncIterator, BinaryIO

from ..builder.parser import apply_changes
from ..errors import NbdockError, NotFound
from ..image import archive, busybox, reference
from ..image.store import EMPTY_LAYER_DIFF_ID, Image, ImageStore, chain_ids, full_container_config
from ..registry import AuthConfig, RegistryClient
from . import clock, filtering
from .events import EventBus

if TYPE_CHECKING:
    from .containers import ContainerService


class ImageService:
    """The engine's image verbs, given their collaborators (the engine, engine.py, wires them):

    ``store`` keeps the images; ``containers`` says which containers use an
    image (``rmi``, ``prune``, ``system df``) and publishes ``commit`` on the
    container; ``events`` is where image events go; ``registry`` pulls and
    pushes; ``root`` is the data root (a container's upper directory, for
    ``commit``); ``offline``: busybox comes from the embedded copy, never from a registry.
    """

    def __init__(self, store: ImageStore, containers: "ContainerService", *, events: EventBus,
                 registry: RegistryClient, root: str, offline: bool = False):
        self.store = store
        self.containers = containers
        self.events = events
        self.registry = registry
        self.root = root
        self.offline = offline

    def in_use(self, image_id: str) -> str | None:
        users = self.containers.using_image(image_id)
        return users[0].id if users else None

    def running(self, image_id: str) -> str | None:
        users = [c for c in self.containers.using_image(image_id) if c.running]
        return users[0].id if users else None

    # -- listing and inspecting
    def list(self, *, all: bool = False, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        result = []
        for image in self.store.list(all=all):
            if not _image_matches(image, filters, self.store):
                continue
            summary = image.to_api_summary()
            if "reference" in filters:  # only the tags that matched, as Docker lists them
                summary["RepoTags"] = [t for t in image.repo_tags if _tag_matches(t, filters["reference"])]
            # In Docker's order: by the full reference (docker.io/library/...), as its reference store sorts them.
            summary["RepoTags"].sort(key=lambda tag: str(reference.parse(tag)) if tag != "<none>:<none>" else tag)
            result.append(summary)
        result.sort(key=lambda s: s["Created"], reverse=True)
        return result

    def with_usage(self, summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``docker system df``: how many containers use each image, and its SharedSize -- the bytes
        of its layers another listed image has too (the plain listing leaves both at -1, as Docker).

        Layers are compared by ChainID -- a layer together with everything
        below it -- since only an identical stack is one and the same on disk.
        """
        stacks = {}
        for summary in summaries:
            image = self.store.get(summary["Id"])
            stacks[image.id] = list(zip(chain_ids(image.diff_ids), image.diff_ids))
        users = collections.Counter(chain for stack in stacks.values() for chain, _ in stack)
        for summary in summaries:
            summary["Containers"] = len(self.containers.using_image(summary["Id"]))
            summary["SharedSize"] = sum(self.store.layer(diff_id).size for chain, diff_id in stacks[summary["Id"]]
                                        if users[chain] > 1)
        return summaries

    def layers_size(self, summaries: list[dict[str, Any]]) -> int:
        """``docker system df``'s LayersSize: the bytes the listed images' layers take on disk.

        Each layer is counted once, however many images stand on it: two images
        built FROM busybox share busybox's layer directory, so adding each image's
        Size would count busybox twice. Layers are told apart by ChainID, as in
        :meth:`with_usage`; Docker's daemon sums its layer store the same way.
        """
        sizes = {}
        for summary in summaries:
            image = self.store.get(summary["Id"])
            for chain, diff_id in zip(chain_ids(image.diff_ids), image.diff_ids):
                sizes.setdefault(chain, self.store.layer(diff_id).size)
        return sum(sizes.values())

    def inspect(self, ref: str) -> dict[str, Any]:
        image = self.store.get(ref)
        return image.to_api_inspect(self.store.lowerdirs(image.id))

    # -- tags and deletion
    def _labels(self, image_id: str) -> dict[str, str]:
        """An image's labels; none once it is deleted."""
        with contextlib.suppress(NotFound):
            return (self.store.get(image_id).config.get("config") or {}).get("Labels") or {}
        return {}

    def _publish(self, action: str, image_id: str, name: str = "", labels: dict[str, str] | None = None) -> None:
        """An image event as Docker logs it: the image's labels, and ``name`` -- a reference for
        tag, pull and push, the image id itself for the others."""
        attributes = {**(self._labels(image_id) if labels is None else labels), "name": name or image_id}
        self.events.publish("image", action, image_id, attributes)

    def tag(self, source: str, repo: str, tag: str = "") -> None:
        image = self.store.get(source)
        target = reference.parse_repository_and_tag(repo, tag)
        name = self.store.tag(image.id, str(target))
        self._publish("tag", image.id, name)

    def remove(self, ref: str, *, force: bool = False, prune: bool = True) -> list[dict]:
        """``docker rmi``: one "untag" event per tag removed, one "delete" per image deleted (not per layer)."""
        image_id = self.store.resolve(ref)
        labels = self._labels(image_id)  # Docker logs the untags before the image goes
        images_before = {image.id for image in self.store.list(all=True)}
        records = self.store.delete(ref, force=force, in_use=self.in_use, running=self.running)
        for record in records:
            if "Untagged" in record:
                self._publish("untag", image_id, labels=labels)
            elif record["Deleted"] in images_before:
                self._publish("delete", record["Deleted"])
        return records

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """``docker image prune``: dangling images no container uses; with ``dangling=false``
        (``-a``) every image no container uses, tagged or not."""
        dangling_only = filtering.truth(filters.get("dangling", ["true"]), "dangling")
        others = {key: values for key, values in filters.items() if key != "dangling"}
        if dangling_only and not others:
            images_before = {image.id for image in self.store.list(all=True)}
            deleted, reclaimed = self.store.prune(in_use=self.in_use)
            for record in deleted:
                if record.get("Deleted") in images_before:
                    self._publish("delete", record["Deleted"])
            return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}
        deleted, reclaimed = [], 0
        for image in self.store.list():
            if self.in_use(image.id) or (dangling_only and image.repo_tags) or not _image_matches(image, others, self.store):
                continue
            with contextlib.suppress(NbdockError):  # an image a child still needs stays, as in Docker
                for ref in image.repo_tags or [image.id]:
                    deleted += self.remove(ref)
                reclaimed += image.size
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def history(self, ref: str) -> list[dict]:
        return self.store.history(self.store.resolve(ref))

    # -- registries
    async def pull(self, ref: str, auth: AuthConfig | None = None, platform: str = "") -> AsyncIterator[dict]:
        """Docker's pull progress messages; the embedded busybox when the registry cannot give busybox."""
        parsed = reference.parse(ref).with_default_tag()
        embedded = parsed.familiar() == busybox.REFERENCE
        if embedded and self.offline:
            yield await self._embedded_busybox_message()
            return
        try:
            async for message in self.registry.pull(parsed, auth, platform or None):
                yield message
        except NbdockError:
            if not embedded:
                raise
            yield await self._embedded_busybox_message()
            return
        with contextlib.suppress(NotFound):
            self.store.resolve(str(parsed))  # only a pull that stored the image is an event
            self._publish("pull", parsed.familiar(), parsed.familiar())

    async def _embedded_busybox_message(self) -> dict:
        image_id, message = await asyncio.to_thread(busybox.ensure_busybox, self.store)
        text = message or f"busybox:latest is the embedded default ({image_id[7:19]})"
        return {"status": f"nbdock: {text}"}

    async def push(self, ref: str, auth: AuthConfig | None = None) -> AsyncIterator[dict]:
        async for message in self.registry.push(ref, auth):
            yield message
        self._publish("push", reference.familiar(ref), reference.familiar(ref))

    # -- archives
    def save(self, names: list[str], out: BinaryIO) -> None:
        archive.save(self.store, names, out)

    def load(self, fileobj: BinaryIO) -> list[str]:
        """``docker load``: the "Loaded image: ..." lines, and a "load" event per image, as Docker's."""
        messages = archive.load(self.store, fileobj)
        for message in messages:
            loaded = message.partition(": ")[2]  # "busybox:latest", or an image id
            self._publish("load", self.store.resolve(loaded))
        return messages

    def import_rootfs(self, fileobj: BinaryIO, *, repo: str = "", tag: str = "", changes: list[str] = (), message: str = "") -> str:
        repo_tag = str(reference.parse_repository_and_tag(repo, tag)) if repo else None
        image_id = archive.import_rootfs(self.store, fileobj, repo_tag=repo_tag,
                                         changes=apply_changes({}, list(changes)), message=message)
        self._publish("import", image_id)
        return image_id

    # -- commit
    def commit(self, container, *, repo: str = "", tag: str = "", comment: str = "", author: str = "",
               changes: list[str] = (), config_override: dict | None = None) -> str:
        """A container's changes (its overlay upper directory) become a new image on top of its image."""
        record = container.record
        parent = self.store.get(record.Image)
        directory = record.directory(self.root)
        layer = self.store.add_layer_from_dir(os.path.join(directory, "upper"))
        config = dict(full_container_config(record.Config))
        config.update(config_override or {})
        config = apply_changes(config, list(changes))
        config["Image"] = record.ImageName
        created = clock.rfc3339()
        base = parent.config
        empty = layer.diff_id == EMPTY_LAYER_DIFF_ID
        history = list(base.get("history") or [])
        entry = {"created": created, "created_by": " ".join([record.Path, *record.Args])}
        if author:
            entry["author"] = author
        if comment:
            entry["comment"] = comment
        if empty:
            entry["empty_layer"] = True
        history.append(entry)
        image_config = {
            "architecture": base.get("architecture", archive.host_architecture()),
            "config": config,
            "container": record.Id,
            "container_config": full_container_config(record.Config),
            "created": created,
            "docker_version": archive.DOCKER_VERSION,
            "history": history,
            "os": base.get("os", "linux"),
            "rootfs": {"type": "layers", "diff_ids": list(base["rootfs"]["diff_ids"]) + ([] if empty else [layer.diff_id])},
        }
        if author:
            image_config["author"] = author
        if comment:
            image_config["comment"] = comment
        image_id = self.store.create_image(image_config, parent=parent.id)
        image_ref = ""
        if repo:
            image_ref = self.store.tag(image_id, str(reference.parse_repository_and_tag(repo, tag)))
            self._publish("tag", image_id, image_ref)
        self.containers.publish(record, "commit", comment=comment, imageID=image_id, imageRef=image_ref)
        return image_id


def _tag_matches(tag: str, patterns: list[str]) -> bool:
    """``docker images PATTERN``: the pattern matches the tag ("busybox:latest") or its repository ("busybox")."""
    repository = tag.rpartition(":")[0]
    return any(fnmatch.fnmatchcase(tag, pattern) or fnmatch.fnmatchcase(repository, pattern) for pattern in patterns)


def _image_matches(image: Image, filters: dict[str, list[str]], store: ImageStore) -> bool:
    for key, values in filters.items():
        if not values:
            continue
        if key == "dangling":
            if filtering.truth(values, "dangling") != (not image.repo_tags):
                return False
        elif key == "reference":
            if not any(_tag_matches(tag, values) for tag in image.repo_tags):
                return False
        elif key in ("label", "label!"):
            labels = (image.config.get("config") or {}).get("Labels") or {}
            if not filtering.labels_match(labels, filters.get("label", []), filters.get("label!", [])):
                return False
        elif key == "until":
            if not filtering.created_before(image.created, values):
                return False
        elif key in ("before", "since"):
            other = store.get(values[0])
            if key == "before" and not image.created < other.created:
                return False
            if key == "since" and not image.created > other.created:
                return False
    return True
