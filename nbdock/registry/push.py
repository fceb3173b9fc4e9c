"""Push: from an image in the local store to a registry, as ``docker push`` does it.

The steps, each visible in the progress stream::

    The push refers to repository [localhost:5000/me/tool]
    80474668f066: Preparing                   one line per layer, top layer first
    4af02aff7641: Layer already exists        HEAD says the registry has the blob: skip it
    8dec967179bc: Mounted from me/base        the registry links it from another repository
    80474668f066: Pushing  [=====>    ]       ...or we upload it: POST, PATCH the bytes, PUT ?digest=
    80474668f066: Pushed
    1: digest: sha256:... size: 942          the manifest, PUT under the tag
    {"aux": {"Tag": "1", "Digest": "sha256:...", "Size": 942}}

Layer lines are named by the first 12 hex digits of the layer's DiffID
(not of the compressed blob, unlike a pull), as Docker names them.

Registries store layers compressed.  A layer that came from a registry is
pushed as the very blob it was pulled as (the store keeps it), so pushing
an unchanged image reproduces its manifest and digest exactly.  A layer
built locally is gzip-compressed by the store (once, then kept), as
Docker 20.10 pushes gzip layers.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from nbdock.errors import InvalidArgument, NbdockError, NotFound, RegistryError, Unauthorized
from nbdock.image import reference as references
from nbdock.image.reference import Reference

from . import progress
from .auth import AuthConfig, repository_scope
from .config import RegistryConfig
from .manifest import DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, Descriptor, schema2_manifest
from .pull import CHUNK_SIZE, PROGRESS_STEP, Emit
from .repository import Repository
from .transport import RegistryAPIError, RegistryUnreachable, Transport

#: Docker's default --max-concurrent-uploads.
MAX_CONCURRENT_UPLOADS = 5


class Push:
    """One ``docker push``: every tag named, its layers, its config, its manifest."""

    def __init__(
        self,
        store,
        transport: Transport,
        config: RegistryConfig,
        reference: Reference,
        auth: AuthConfig | None,
        emit: Emit,
    ):
        self.store = store
        self.transport = transport
        self.config = config
        self.reference = reference
        self.auth = auth
        self.emit = emit

    async def run(self) -> None:
        ref = self.reference
        if ref.digest:
            raise InvalidArgument(f"cannot push a digest reference: {ref.familiar()}")
        tags = [ref.tag] if ref.tag else self._local_tags()
        images = {tag: self._local_image(f"{ref.name}:{tag}") for tag in tags}
        mount_sources = self._mount_sources(images.values())
        self.emit(progress.status(f"The push refers to repository [{ref.name}]"))

        repository = await self._open(mount_sources)
        for tag, image in images.items():
            await self._push_image(repository, tag, image, mount_sources)

    # --- which image, where ----------------------------------------------------------------

    def _local_image(self, name: str):
        try:
            return self.store.get(name)
        except NotFound:
            raise NotFound(f"An image does not exist locally with the tag: {self.reference.familiar_name}") from None

    def _local_tags(self) -> list[str]:
        """All tags of the repository, for a push that names none (``docker push -a``)."""
        tagged = (references.parse(name) for image in self.store.list(all=True) for name in image.repo_tags)
        tags = sorted({ref.tag for ref in tagged if ref.name == self.reference.name})
        if not tags:
            raise NotFound(f"An image does not exist locally with the tag: {self.reference.familiar_name}")
        return tags

    def _mount_sources(self, images) -> list[str]:
        """Other repositories on the same registry these images came from: their blobs can be mounted.

        Docker remembers, per blob, every repository it was pulled from or
        pushed to; nbdock knows it per image, from its RepoDigests.
        """
        sources = []
        for image in images:
            for repo_digest in map(references.parse, image.repo_digests):
                same_registry = repo_digest.domain == self.reference.domain
                if same_registry and repo_digest.path != self.reference.path and repo_digest.path not in sources:
                    sources.append(repo_digest.path)
        return sources

    async def _open(self, mount_sources: list[str]) -> Repository:
        """Open the repository for pull and push (plus pull on the mount sources, for the token)."""
        extra_scopes = tuple(repository_scope(source, ["pull"]) for source in mount_sources)
        name = self.reference.path
        failure: NbdockError | None = None
        for endpoint in self.config.endpoints(self.reference.domain, for_push=True):
            try:
                return await Repository.open(
                    self.transport, endpoint, name, self.auth, ["pull", "push"], extra_scopes=extra_scopes
                )
            except RegistryUnreachable as error:
                failure = error
        assert failure is not None
        raise failure

    # --- one image --------------------------------------------------------------------------

    async def _push_image(self, repository: Repository, tag: str, image, mount_sources: list[str]) -> None:
        diff_ids = list(dict.fromkeys(image.diff_ids))  # a layer used twice is pushed once
        for diff_id in reversed(diff_ids):
            self.emit(progress.update(progress.short_id(diff_id), "Preparing"))

        slots = asyncio.Semaphore(MAX_CONCURRENT_UPLOADS)
        uploads = [
            asyncio.create_task(self._push_layer(repository, diff_id, mount_sources, slots))
            for diff_id in reversed(diff_ids)
        ]
        try:
            blobs = dict(zip(reversed(diff_ids), await asyncio.gather(*uploads)))
        except BaseException:
            for upload in uploads:
                upload.cancel()
            await asyncio.gather(*uploads, return_exceptions=True)
            raise

        config_bytes = await asyncio.to_thread(self.store.read_blob, image.id)
        config = Descriptor(DOCKER_CONFIG, image.id, len(config_bytes))
        await self._push_config(repository, config, config_bytes)

        manifest = schema2_manifest(config, [blobs[diff_id] for diff_id in image.diff_ids])
        try:
            digest = await repository.put_manifest(tag, manifest, DOCKER_MANIFEST)
        except RegistryAPIError as error:
            raise self._explain(error) from None
        await asyncio.to_thread(self.store.set_repo_digest, image.id, self.reference.name, digest)
        self.emit(progress.status(f"{tag}: digest: {digest} size: {len(manifest)}"))
        self.emit(progress.aux(Tag=tag, Digest=digest, Size=len(manifest)))

    async def _push_layer(self, repository: Repository, diff_id: str, mount_sources, slots) -> Descriptor:
        """Get one layer to the registry; returns the descriptor of its gzip blob, for the manifest."""
        layer_id = progress.short_id(diff_id)
        if slots.locked():
            self.emit(progress.update(layer_id, "Waiting"))
        async with slots:
            # The blob the layer was pulled as, or one the store gzips now (once, then keeps).
            digest, size, _ = await asyncio.to_thread(self.store.compressed_layer, diff_id)
            blob = Descriptor(DOCKER_LAYER_GZIP, digest, size)
            try:
                await self._send_layer(repository, blob, layer_id, mount_sources)
            except RegistryAPIError as error:
                raise self._explain(error) from None
        return blob

    async def _send_layer(self, repository: Repository, blob: Descriptor, layer_id: str, mount_sources) -> None:
        """Skip it, mount it, or upload it -- cheapest first."""
        if await repository.has_blob(blob.digest):
            self.emit(progress.update(layer_id, "Layer already exists"))
            return
        location = None
        for source in mount_sources[:1]:
            location = await repository.mount_blob(blob.digest, source)
            if location is None:
                self.emit(progress.update(layer_id, f"Mounted from {source}"))
                return
        location = location or await repository.start_upload()
        await repository.upload_blob(location, blob.digest, self._chunks(blob, layer_id))
        self.emit(progress.update(layer_id, "Pushed"))

    async def _chunks(self, blob: Descriptor, layer_id: str) -> AsyncIterator[bytes]:
        """The blob's bytes from the store, reporting "Pushing" progress as they go."""
        sent = 0
        with open(self.store.blob_path(blob.digest), "rb") as file:
            while chunk := file.read(CHUNK_SIZE):
                yield chunk
                sent += len(chunk)
                if sent % PROGRESS_STEP < len(chunk) or sent == blob.size:
                    self.emit(progress.update(layer_id, "Pushing", sent, blob.size))

    async def _push_config(self, repository: Repository, config: Descriptor, config_bytes: bytes) -> None:
        """The config is a blob like the layers, uploaded silently (Docker shows no line for it)."""
        try:
            if not await repository.has_blob(config.digest):
                location = await repository.start_upload()
                await repository.upload_blob(location, config.digest, config_bytes)
        except RegistryAPIError as error:
            raise self._explain(error) from None

    # --- errors ------------------------------------------------------------------------------

    def _explain(self, error: RegistryAPIError) -> NbdockError:
        """A registry's error, in the words ``docker push`` uses for it."""
        if error.code in ("UNAUTHORIZED", "DENIED"):
            return Unauthorized(f"{error.reason} (pushing {self.reference})")
        return RegistryError(f"{error.message} (pushing {self.reference})")
