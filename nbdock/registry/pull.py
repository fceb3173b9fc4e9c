"""Pull: from an image reference to an image in the local store, as ``docker pull`` does it.

The steps, each visible in the progress stream::

    latest: Pulling from library/alpine          probe /v2/, fetch the manifest for the tag
    (manifest list?  pick this machine's entry, fetch that manifest by digest)
    (fetch the image config: it lists each layer's DiffID)
    4af02aff7641: Already exists                 a layer the store has is not fetched again
    ee9a8e9634a6: Pulling fs layer               the others download, at most 3 at a time
    ee9a8e9634a6: Downloading  [====>   ]        ...straight into the store's blob area,
    ee9a8e9634a6: Verifying Checksum             ...where the digest is checked before use
    ee9a8e9634a6: Download complete
    ee9a8e9634a6: Extracting                     layers are unpacked in order, bottom first,
    ee9a8e9634a6: Pull complete                  ...and the DiffID is checked against the config
    Digest: sha256:...                           the manifest's digest (the image's RepoDigest)
    Status: Downloaded newer image for alpine:latest

Layer lines are named by the first 12 hex digits of the *compressed*
digest, as Docker names them.  Nothing a registry sends is used before its
digest has been checked: the manifest (by digest, or against the
``Docker-Content-Digest`` header), the config, and every layer.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import BinaryIO, Callable

from nbdock.errors import InvalidArgument, NbdockError, NotFound, RegistryError, Unauthorized
from nbdock.image.reference import Reference

from . import progress
from .auth import AuthConfig
from .config import RegistryConfig
from .manifest import (
    Descriptor,
    ImageManifest,
    ManifestIndex,
    Platform,
    checked_digest,
    config_platform,
    parse_manifest,
    select_manifest,
)
from .repository import Repository
from .transport import RegistryAPIError, RegistryUnreachable, Transport

#: Docker's default --max-concurrent-downloads.
MAX_CONCURRENT_DOWNLOADS = 3

#: An image config is a few kilobytes of JSON; refuse to buffer absurd ones.
MAX_CONFIG_SIZE = 8 * 1024 * 1024

#: How often (in bytes) a layer's "Downloading"/"Extracting" line is updated.
PROGRESS_STEP = 512 * 1024

CHUNK_SIZE = 64 * 1024

Emit = Callable[[dict], None]


class Pull:
    """One ``docker pull``: resolves the reference, fetches what is missing, tags the image."""

    def __init__(
        self,
        store,
        transport: Transport,
        config: RegistryConfig,
        reference: Reference,
        auth: AuthConfig | None,
        platform: Platform | None,
        emit: Emit,
    ):
        self.store = store
        self.transport = transport
        self.config = config
        self.reference = reference
        self.auth = auth
        self.requested_platform = platform
        self.emit = emit

    async def run(self) -> str:
        """Pull the image and return its ID."""
        ref = self.reference
        previous_id = self._local_image_id()
        # Like moby, say nothing until the manifest is in hand: an unknown
        # image then fails with a plain error the daemon can answer with a 404.
        repository, manifest_digest, manifest = await self._resolve()
        self.emit(progress.status(f"Pulling from {ref.path}", id=ref.digest or ref.tag))
        image_id = manifest.config.digest
        if not self._store_has_image(image_id):
            config_bytes = await repository.get_blob(manifest.config.digest, MAX_CONFIG_SIZE)
            diff_ids = self._check_config(config_bytes, manifest)
            await self._fetch_layers(repository, manifest, diff_ids)
            image_id = await asyncio.to_thread(self.store.add_image_config, config_bytes)

        if ref.tag:
            await asyncio.to_thread(self.store.tag, image_id, str(ref))
        await asyncio.to_thread(self.store.set_repo_digest, image_id, ref.name, manifest_digest)

        self.emit(progress.status(f"Digest: {manifest_digest}"))
        news = "Image is up to date" if previous_id == image_id else "Downloaded newer image"
        self.emit(progress.status(f"Status: {news} for {ref.familiar()}"))
        return image_id

    # --- the manifest -------------------------------------------------------------------

    async def _resolve(self) -> tuple[Repository, str, ImageManifest]:
        """Find the manifest at the first endpoint that has it (mirrors first, for Docker Hub).

        An endpoint that cannot be reached, or a mirror that fails in any
        way, passes the turn to the next one, as in Docker; the real
        registry's answer is final.
        """
        failure: NbdockError | None = None
        for endpoint in self.config.endpoints(self.reference.domain):
            try:
                repository = await Repository.open(self.transport, endpoint, self.reference.path, self.auth, ["pull"])
                return (repository, *await self._fetch_image_manifest(repository))
            except RegistryError as error:
                failure = self._explain(error)
                if not (endpoint.is_mirror or isinstance(error, RegistryUnreachable)):
                    raise failure from None
        assert failure is not None
        raise failure from None

    async def _fetch_image_manifest(self, repository: Repository) -> tuple[str, ImageManifest]:
        """The manifest to pull and the digest to record: the list's digest when there is a list."""
        ref = self.reference
        target = checked_digest(ref.digest, f"image {ref.familiar()}") if ref.digest else ref.tag
        body, content_type, digest = await repository.get_manifest(target)
        manifest = parse_manifest(body, content_type)
        if isinstance(manifest, ManifestIndex):
            wanted = self.requested_platform or Platform.host()
            entry = select_manifest(manifest, wanted)
            body, content_type, _ = await repository.get_manifest(entry.digest)
            manifest = parse_manifest(body, content_type)
            if not isinstance(manifest, ImageManifest):
                raise RegistryError(f"manifest list entry {entry.digest} of {ref.familiar()} is itself a list")
        return digest, manifest

    def _explain(self, error: RegistryError) -> NbdockError:
        """A registry's error, in the words ``docker pull`` uses for it."""
        if not isinstance(error, RegistryAPIError):
            return error
        name, full = self.reference.familiar_name, self.reference.familiar()
        if error.code == "MANIFEST_UNKNOWN":
            return NotFound(f"manifest for {full} not found: {error.reason}")
        if error.code == "NAME_UNKNOWN":
            return NotFound(f"repository {name} not found: {error.reason}")
        if error.code == "DENIED":
            return NotFound(
                f"pull access denied for {name}, repository does not exist or may require 'docker login': "
                f"{error.reason}"
            )
        if error.code == "UNAUTHORIZED":
            return Unauthorized(error.message)
        return error

    # --- the config -----------------------------------------------------------------------

    def _check_config(self, config_bytes: bytes, manifest: ImageManifest) -> list[str]:
        """The config's DiffIDs, after checking it describes the manifest's layers and our platform."""
        what = f"image config of {self.reference.familiar()}"
        try:
            config = json.loads(config_bytes)
            diff_ids = config["rootfs"]["diff_ids"]
        except (ValueError, TypeError, KeyError):
            raise RegistryError(f"{what} is not a valid image config (no rootfs.diff_ids)") from None
        if not isinstance(diff_ids, list):
            raise RegistryError(f"{what} is not a valid image config (rootfs.diff_ids is not a list)")
        if len(diff_ids) != len(manifest.layers):
            raise RegistryError(f"{what} lists {len(diff_ids)} layers but the manifest has {len(manifest.layers)}")
        wanted = self.requested_platform
        actual = config_platform(config)
        if wanted and (wanted.os, wanted.architecture) != (actual.os, actual.architecture):
            raise RegistryError(
                f"image {self.reference.familiar()} was found but does not match the specified platform: "
                f"wanted {wanted}, actual: {actual}"
            )
        return [checked_digest(diff_id, f"layer DiffID in {what}") for diff_id in diff_ids]

    # --- the layers -----------------------------------------------------------------------

    async def _fetch_layers(self, repository: Repository, manifest: ImageManifest, diff_ids: list[str]) -> None:
        """Download the missing layers concurrently, then unpack them in order, bottom layer first."""
        missing = []
        for layer, diff_id in zip(manifest.layers, diff_ids):
            if self.store.has_layer(diff_id):
                self.emit(progress.update(progress.short_id(layer.digest), "Already exists"))
            elif layer.digest not in (known.digest for known, _ in missing):
                self.emit(progress.update(progress.short_id(layer.digest), "Pulling fs layer"))
                missing.append((layer, diff_id))

        slots = asyncio.Semaphore(MAX_CONCURRENT_DOWNLOADS)
        downloads = [asyncio.create_task(self._download(repository, layer, slots)) for layer, _ in missing]
        try:
            for download, (layer, diff_id) in zip(downloads, missing):
                await download
                await self._extract(layer, diff_id)
        finally:
            for download in downloads:
                download.cancel()
            await asyncio.gather(*downloads, return_exceptions=True)

    async def _download(self, repository: Repository, layer: Descriptor, slots: asyncio.Semaphore) -> None:
        """Stream one layer blob into the store, which checks its digest as it commits it."""
        layer_id = progress.short_id(layer.digest)
        if slots.locked():
            self.emit(progress.update(layer_id, "Waiting"))
        async with slots:
            if not self.store.has_blob(layer.digest):
                response = await repository.open_blob(layer.digest)
                async with response:
                    try:
                        with self.store.blob_writer(expected_digest=layer.digest) as blob:
                            await self._receive(response, blob, layer, layer_id)
                            self.emit(progress.update(layer_id, "Verifying Checksum"))
                    except InvalidArgument:  # the store found the content does not match the digest
                        raise RegistryError(
                            f"filesystem layer verification failed for digest {layer.digest} "
                            f"of {self.reference.familiar()} from {repository.endpoint.host}"
                        ) from None
            self.emit(progress.update(layer_id, "Download complete"))

    async def _receive(self, response, blob, layer: Descriptor, layer_id: str) -> None:
        """Copy the response body into the blob, never more than the manifest said."""
        received = 0
        async for chunk in response.content.iter_chunked(CHUNK_SIZE):
            received += len(chunk)
            if received > layer.size:
                raise RegistryError(
                    f"layer {layer.digest} of {self.reference.familiar()} is larger than the "
                    f"{layer.size} bytes its manifest says"
                )
            blob.write(chunk)
            if received % PROGRESS_STEP < len(chunk) or received == layer.size:
                self.emit(progress.update(layer_id, "Downloading", received, layer.size))

    async def _extract(self, layer: Descriptor, diff_id: str) -> None:
        """Unpack a downloaded layer into the store and check it is the layer the config names."""
        layer_id = progress.short_id(layer.digest)
        loop = asyncio.get_running_loop()

        def report(done: int) -> None:
            loop.call_soon_threadsafe(self.emit, progress.update(layer_id, "Extracting", done, layer.size))

        def unpack() -> str:
            with open(self.store.blob_path(layer.digest), "rb") as blob:
                reader = _ProgressReader(blob, report)
                return self.store.add_layer_from_tar(reader, compressed_digest=layer.digest).diff_id

        try:
            unpacked = await asyncio.to_thread(unpack)
        except InvalidArgument as error:  # a hostile or corrupt tar
            raise RegistryError(f"layer {layer.digest} of {self.reference.familiar()}: {error.message}") from None
        if unpacked != diff_id:
            raise RegistryError(
                f"layer {layer.digest} of {self.reference.familiar()} unpacks to DiffID {unpacked}, "
                f"but the image config says {diff_id}"
            )
        self.emit(progress.update(layer_id, "Pull complete"))

    # --- the store --------------------------------------------------------------------------

    def _local_image_id(self) -> str | None:
        try:
            return self.store.get(str(self.reference)).id
        except NotFound:
            return None

    def _store_has_image(self, image_id: str) -> bool:
        try:
            self.store.get(image_id)
        except NotFound:
            return False
        return True



class _ProgressReader(io.RawIOBase):
    """A file reader that reports how far it has got: at the first read, every PROGRESS_STEP bytes, at the end."""

    def __init__(self, raw: BinaryIO, report: Callable[[int], None]):
        self._raw = raw
        self._report = report
        self._done = 0
        self._reported = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._raw.readinto(buffer)
        self._done += count
        first = self._reported == 0 and count > 0
        finished = count == 0 and self._done != self._reported
        if first or finished or self._done - self._reported >= PROGRESS_STEP:
            self._reported = self._done
            self._report(self._done)
        return count
