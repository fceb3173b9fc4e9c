"""The image store: content-addressed blobs, shared layers, images and their tags.

Everything an image is made of is stored under its sha256 digest
(``blobs/sha256/<hex>``), so identical content is stored once and a name
that matches the content proves the content is intact:

* an image's **config** (JSON: the command, environment, the list of layer
  DiffIDs, the history).  The image ID *is* the config's digest;
* each **layer** as an uncompressed tar, named by its **DiffID** (the digest
  of that tar), plus the gzip form a registry push needs.

A layer is also unpacked, once, into ``layers/<diffid-hex>/diff`` in
overlayfs form, and every image that has the layer uses that directory as
one of its overlay lowerdirs.  The tags (``busybox:latest`` -> image ID) are
in ``repositories.json``; ``images/<id-hex>.json`` holds what the config does
not: the parent image and when the image was stored.

Everything is written to ``tmp/`` first and renamed into place, so a crash
or a failed import never leaves a half-written object visible.  One lock
guards the metadata; blob writes need none (each goes to its own temporary
file, and two writers of the same digest write the same bytes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import threading
import time
import uuid
from typing import BinaryIO, Callable, Iterator

from ..errors import Conflict, InvalidArgument, NotFound
from ..kernel import libc
from . import layers as layerlib
from . import reference
from . import tarsafe

#: The DiffID of a tar with no entries: 1024 zero bytes.  Docker marks steps that produce it empty.
EMPTY_LAYER_DIFF_ID = "sha256:" + hashlib.sha256(layerlib.END_OF_ARCHIVE).hexdigest()

MEDIA_TYPE_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_TYPE_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_TYPE_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
_MEDIA_TYPE_OF_COMPRESSION = {"gzip": MEDIA_TYPE_DOCKER_LAYER_GZIP, "zstd": MEDIA_TYPE_OCI_LAYER_ZSTD, None: MEDIA_TYPE_OCI_LAYER}

_CHUNK = 1 << 20
#: Layer directory link names: this many hex digits of the DiffID (longer only on a collision).
_SHORT_LINK_LEN = 12

#: Fields of a container config, in the order Docker writes them (``docker inspect`` shows them all).
CONTAINER_CONFIG_DEFAULTS = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None,
    "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None,
}


def hex_of(digest: str) -> str:
    """``sha256:<hex>`` -> ``<hex>``; refuses anything else (a digest names a file here)."""
    if not reference.SHA256_DIGEST_RE.match(digest or ""):
        raise InvalidArgument(f"invalid digest {digest!r}: expected sha256:<64 hex digits>")
    return digest[len("sha256:"):]


def parse_time(text: str) -> float:
    """An RFC 3339 time as Docker writes it (nanoseconds, ``Z``) -> Unix seconds."""
    if not text:
        return 0.0
    date, _, fraction = text.rstrip("Z").partition(".")
    seconds = datetime.datetime.fromisoformat(date).replace(tzinfo=datetime.timezone.utc).timestamp()
    digits = "".join(c for c in fraction if c.isdigit())
    return seconds + (int(digits) / 10 ** len(digits) if digits else 0.0)


def format_time(seconds: float) -> str:
    """Unix seconds -> RFC 3339 with nanoseconds, as Docker writes ``created``."""
    whole = int(seconds)
    stamp = datetime.datetime.fromtimestamp(whole, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    nanos = round((seconds - whole) * 1e9)
    return f"{stamp}.{nanos:09d}Z" if nanos else f"{stamp}Z"


def chain_ids(diff_ids: list[str]) -> list[str]:
    """Docker's ChainIDs: a layer's identity *together with everything below it*.

    ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
    """
    chain: list[str] = []
    for diff_id in diff_ids:
        if chain:
            diff_id = "sha256:" + hashlib.sha256(f"{chain[-1]} {diff_id}".encode()).hexdigest()
        chain.append(diff_id)
    return chain


# --- values handed out --------------------------------------------------------------------------------


@dataclasses.dataclass
class Layer:
    diff_id: str
    size: int  # content bytes, Docker's way (regular files once per inode, plus symlink targets)
    tar_path: str  # the uncompressed layer tar (its digest is diff_id)


@dataclasses.dataclass
class Image:
    id: str
    config: dict
    repo_tags: list[str]  # familiar: "busybox:latest"
    repo_digests: list[str]  # familiar: "busybox@sha256:..."
    parent: str  # "" when the image has none
    created: str  # RFC 3339, from the config
    size: int
    diff_ids: list[str]
    last_tag_time: str = ""

    def to_api_summary(self) -> dict:
        """One entry of ``GET /images/json`` (Docker 20.10's shape)."""
        untagged = not self.repo_tags and not self.repo_digests
        return {
            "Containers": -1,
            "Created": int(parse_time(self.created)),
            "Id": self.id,
            "Labels": (self.config.get("config") or {}).get("Labels"),
            "ParentId": self.parent,
            "RepoDigests": ["<none>@<none>"] if untagged else list(self.repo_digests),
            "RepoTags": ["<none>:<none>"] if untagged else list(self.repo_tags),
            "SharedSize": -1,
            "Size": self.size,
            "VirtualSize": self.size,
        }

    def to_api_inspect(self, layer_dirs: list[str] | None = None) -> dict:
        """``GET /images/{name}/json``.  ``layer_dirs`` (top-most first) fill in GraphDriver.Data."""
        config = self.config
        graph_data: dict = {}
        if layer_dirs:
            graph_data["UpperDir"] = layer_dirs[0]
            if len(layer_dirs) > 1:
                graph_data["LowerDir"] = ":".join(layer_dirs[1:])
        return {
            "Id": self.id,
            "RepoTags": list(self.repo_tags),
            "RepoDigests": list(self.repo_digests),
            "Parent": self.parent,
            "Comment": config.get("comment", ""),
            "Created": self.created,
            "Container": config.get("container", ""),
            "ContainerConfig": full_container_config(config.get("container_config")),
            "DockerVersion": config.get("docker_version", ""),
            "Author": config.get("author", ""),
            "Config": full_container_config(config.get("config")),
            "Architecture": config.get("architecture", ""),
            **({"Variant": config["variant"]} if config.get("variant") else {}),
            "Os": config.get("os", ""),
            "Size": self.size,
            "VirtualSize": self.size,
            "GraphDriver": {"Data": graph_data or None, "Name": "overlay2"},
            "RootFS": {"Type": "layers", "Layers": list(self.diff_ids)},
            "Metadata": {"LastTagTime": self.last_tag_time or "0001-01-01T00:00:00Z"},
        }


def full_container_config(config: dict | None) -> dict:
    """A container config with every field Docker shows, missing ones at their zero value."""
    return {**CONTAINER_CONFIG_DEFAULTS, **(config or {})}


# --- blobs ------------------------------------------------------------------------------------------


class BlobWriter:
    """A blob being written: bytes go to a temporary file and through sha256.

    ``digest`` and ``size`` are set when the ``with`` block of
    :meth:`ImageStore.blob_writer` ends and the blob is in place.
    """

    def __init__(self, temp_path: str):
        self.temp_path = temp_path
        self._fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self._sha256 = hashlib.sha256()
        self.size = 0
        self.digest: str | None = None

    def write(self, data) -> int:
        self._sha256.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        self.size += len(data)
        return len(data)

    def _close(self) -> str:
        os.close(self._fd)
        return "sha256:" + self._sha256.hexdigest()

    def _abort(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp_path)


class _TeeReader:
    """Reads from ``source`` and passes every byte read to ``sink`` (a BlobWriter)."""

    def __init__(self, source: BinaryIO, sink: BlobWriter):
        self.source = source
        self.sink = sink

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        if data:
            self.sink.write(data)
        return data

    def drain(self) -> None:
        """Read to the end: the digest covers the whole stream, padding after the tar's end included."""
        while self.read(_CHUNK):
            pass


class _CountingReader:
    """Counts and hashes what passes through (the compressed bytes of a layer)."""

    def __init__(self, source: BinaryIO):
        self.source = source
        self.size = 0
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.size += len(data)
        self.sha256.update(data)
        return data


# --- the store ----------------------------------------------------------------------------------------


class ImageStore:
    """Images, layers and blobs under one data root (layout: docs/ARCHITECTURE.md).  Thread-safe."""

    def __init__(self, data_root: str):
        self.root = os.path.abspath(data_root)
        self.blobs_dir = os.path.join(self.root, "blobs", "sha256")
        self.layers_dir = os.path.join(self.root, "layers")
        self.links_dir = os.path.join(self.root, "l")
        self.images_dir = os.path.join(self.root, "images")
        self.tmp_dir = os.path.join(self.root, "tmp")
        self.repositories_path = os.path.join(self.root, "repositories.json")
        for directory in (self.blobs_dir, self.layers_dir, self.links_dir, self.images_dir, self.tmp_dir):
            os.makedirs(directory, exist_ok=True)
        self._lock = threading.RLock()
        self._unpack_locks: dict[str, threading.Lock] = {}
        self._refs: dict[str, str] = self._read_repositories()  # normalized reference -> image id
        self._images: dict[str, dict] = self._read_image_metadata()  # image id -> {"parent", "stored", ...}
        self._configs: dict[str, dict] = {}

    # After a crash --------------------------------------------------------------------------------

    def reconcile(self) -> list[str]:
        """What a daemon killed mid-write left, removed at start; returns the paths removed.

        Call it only while no one else uses the data root (the daemon holds its
        lock, and nothing has started yet).  Everything is written under
        ``tmp/`` and renamed into place (a blob as it is received, a layer as it
        is unpacked, a build context as it is uploaded), so ``tmp/`` is emptied.
        What was renamed into place but never got used (a layer whose image
        config was not yet written when a commit or a pull was killed) is
        removed too: a layer no image lists, then a blob that is neither an
        image config nor a form of a remaining layer, then a short link to no
        layer.  Nothing an image needs goes: the images are the roots.
        """
        removed = []
        with self._lock:
            for name in os.listdir(self.tmp_dir):
                path = os.path.join(self.tmp_dir, name)
                remove_tree(path)
                removed.append(path)
            try:
                used = {d for image_id in self._images for d in self.config(image_id)["rootfs"]["diff_ids"]}
            except (OSError, ValueError, KeyError, NotFound):
                return removed  # an image whose config cannot be read: which layers it needs is unknown, keep them all
            for diff_id in self._all_layer_ids():
                if diff_id not in used:
                    self._remove_layer(diff_id)
                    removed.append(self._layer_home(diff_id))
            for name in os.listdir(self.layers_dir):  # a layer directory without its record: not a layer
                if not os.path.exists(os.path.join(self.layers_dir, name, "layer.json")):
                    remove_tree(os.path.join(self.layers_dir, name))
                    removed.append(os.path.join(self.layers_dir, name))
            kept = {hex_of(image_id) for image_id in self._images}
            for diff_id in self._all_layer_ids():
                kept.update(hex_of(d) for d in [diff_id, *self._layer_record(diff_id)["compressed"]])
            for name in os.listdir(self.blobs_dir):
                if name not in kept:
                    os.unlink(os.path.join(self.blobs_dir, name))
                    removed.append(os.path.join(self.blobs_dir, name))
            for name in os.listdir(self.links_dir):
                link = os.path.join(self.links_dir, name)
                if not os.path.exists(link):  # follows the link: its layer is gone
                    os.unlink(link)
                    removed.append(link)
        return removed

    # Temporary files --------------------------------------------------------------------------------

    def temp_path(self, prefix: str) -> str:
        """A fresh name under ``tmp/`` (same file system as everything else, so rename works)."""
        return os.path.join(self.tmp_dir, f"{prefix}-{uuid.uuid4().hex}")

    def _write_json_atomically(self, path: str, value) -> None:
        temp = self.temp_path("json")
        with open(temp, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=1, sort_keys=True)
        os.replace(temp, path)

    # Blobs ------------------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.blobs_dir, hex_of(digest))

    def has_blob(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def read_blob(self, digest: str) -> bytes:
        try:
            with open(self.blob_path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def put_blob(self, data: bytes) -> str:
        with self.blob_writer() as writer:
            writer.write(data)
        return writer.digest

    @contextlib.contextmanager
    def blob_writer(self, expected_digest: str | None = None) -> Iterator[BlobWriter]:
        """Write a blob; it appears under its digest only if the block ends without error.

        With ``expected_digest`` the content must hash to it (a download
        proves itself); a mismatch raises InvalidArgument and keeps nothing.
        """
        if expected_digest is not None:
            hex_of(expected_digest)
        writer = BlobWriter(self.temp_path("blob"))
        try:
            yield writer
            digest = writer._close()
        except BaseException:
            writer._abort()
            raise
        if expected_digest is not None and digest != expected_digest:
            os.unlink(writer.temp_path)
            raise InvalidArgument(f"digest mismatch: expected {expected_digest}, content hashes to {digest}")
        os.replace(writer.temp_path, self.blob_path(digest))
        writer.digest = digest

    # Layers -----------------------------------------------------------------------------------------

    def _layer_home(self, diff_id: str) -> str:
        return os.path.join(self.layers_dir, hex_of(diff_id))

    def has_layer(self, diff_id: str) -> bool:
        return os.path.exists(os.path.join(self._layer_home(diff_id), "layer.json"))

    def _layer_record(self, diff_id: str) -> dict:
        try:
            with open(os.path.join(self._layer_home(diff_id), "layer.json"), encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            raise NotFound(f"layer {diff_id} not found") from None

    def layer(self, diff_id: str) -> Layer:
        record = self._layer_record(diff_id)
        return Layer(diff_id=diff_id, size=record["size"], tar_path=self.blob_path(diff_id))

    def add_layer_from_tar(
        self, fileobj: BinaryIO, *, compressed_digest: str | None = None, expected_diff_id: str | None = None
    ) -> Layer:
        """Store a layer from a tar stream (plain, gzip, bzip2, xz or zstd) and unpack it.

        One pass over the stream: decompress, hash (the DiffID), keep the
        uncompressed tar as a blob, and unpack into overlay form, refusing
        hostile members.  ``compressed_digest`` is the digest of the bytes as
        given (a registry's layer digest); it is checked and remembered so a
        later push can reuse the same compressed blob.  With
        ``expected_diff_id`` (an image config's claim) a mismatch raises
        InvalidArgument and nothing is kept.
        """
        counted = _CountingReader(fileobj)
        stream, compression = tarsafe.decompressed(counted)
        staging = self.temp_path("layer")
        os.mkdir(staging)
        try:
            with self.blob_writer(expected_digest=expected_diff_id) as blob:
                tee = _TeeReader(stream, blob)
                report = tarsafe.extract_to_new_dir(tee, os.path.join(staging, "diff"), whiteouts=True)
                tee.drain()
                while counted.read(_CHUNK):  # the compressed digest covers trailing bytes too
                    pass
                actual = "sha256:" + counted.sha256.hexdigest()
                if compressed_digest is not None and actual != compressed_digest:
                    raise InvalidArgument(f"layer digest mismatch: expected {compressed_digest}, got {actual}")
            compressed = None
            if compressed_digest is not None:
                compressed = (compressed_digest, counted.size, _MEDIA_TYPE_OF_COMPRESSION.get(compression))
            return self._register_layer(blob.digest, staging, report.content_size, compressed)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def add_layer_from_dir(self, upper_dir: str, *, move: bool = False) -> Layer:
        """Turn an overlay upper directory (a container's changes) into a layer.

        The tar is written from the directory, whiteouts translated; the
        unpacked form is made on first use, or, with ``move=True``, the
        directory itself is renamed into place (it already is in overlay
        form; the caller must not use it afterwards).
        """
        ids = self._remapped_ids(upper_dir)
        with self.blob_writer() as blob:
            size = layerlib.write_layer_tar(upper_dir, blob, ids)
        staging = self.temp_path("layer")
        os.mkdir(staging)
        try:
            if move and ids is None and not self.has_layer(blob.digest):
                os.rename(upper_dir, os.path.join(staging, "diff"))
            return self._register_layer(blob.digest, staging, size, None)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _register_layer(self, diff_id: str, staging: str, size: int, compressed: tuple | None) -> Layer:
        """Make a staged layer (``staging/diff`` if unpacked) visible, unless it is already known."""
        with self._lock:
            if self.has_layer(diff_id):
                if compressed:
                    self._remember_compressed(diff_id, *compressed)
                return self.layer(diff_id)
            record = {"diff_id": diff_id, "size": size, "compressed": {}}
            if compressed:
                digest, compressed_size, media_type = compressed
                record["compressed"][digest] = {"size": compressed_size, "media_type": media_type}
            with open(os.path.join(staging, "layer.json"), "w", encoding="utf-8") as f:
                json.dump(record, f, indent=1, sort_keys=True)
            os.rename(staging, self._layer_home(diff_id))
            self._short_link(diff_id)
            return self.layer(diff_id)

    def _short_link(self, diff_id: str) -> str:
        """``l/<short>`` -> ``../layers/<hex>/diff``: short names keep many lowerdirs within one page.

        The name is the DiffID's first hex digits, more of them when another
        layer already has the prefix (at 64 digits the name is unique).
        """
        hex_id = hex_of(diff_id)
        target = os.path.join("..", "layers", hex_id, "diff")
        length = _SHORT_LINK_LEN
        while True:
            link = os.path.join(self.links_dir, hex_id[:length])
            try:
                os.symlink(target, link)
                return link
            except FileExistsError:
                if os.readlink(link) == target:
                    return link
                length += 4

    def _remember_compressed(self, diff_id: str, digest: str, size: int, media_type: str) -> None:
        with self._lock:
            record = self._layer_record(diff_id)
            record["compressed"][digest] = {"size": size, "media_type": media_type}
            self._write_json_atomically(os.path.join(self._layer_home(diff_id), "layer.json"), record)

    def layer_dir(self, diff_id: str) -> str:
        """The layer unpacked in overlay form, unpacking it from its tar blob on first use."""
        path = os.path.join(self._layer_home(diff_id), "diff")
        if os.path.isdir(path):
            return path
        if not self.has_layer(diff_id):
            raise NotFound(f"layer {diff_id} not found")
        with self._lock:
            unpack_lock = self._unpack_locks.setdefault(diff_id, threading.Lock())
        with unpack_lock:
            if not os.path.isdir(path):
                staging = self.temp_path("unpack")
                with open(self.blob_path(diff_id), "rb") as tar:
                    tarsafe.extract_to_new_dir(tar, staging, whiteouts=True)
                os.rename(staging, path)
        return path

    def lowerdirs(self, image_id: str) -> list[str]:
        """The image's layer directories for an overlay mount, top-most first, as short ``l/`` paths.

        An image deleted with ``force`` while a container used it keeps its
        config and layers, so its full ID still works here.
        """
        if not (reference.SHA256_DIGEST_RE.match(image_id) and self.has_blob(image_id)):
            image_id = self.resolve(image_id)
        diff_ids = self.config(image_id)["rootfs"]["diff_ids"]
        result = []
        for diff_id in reversed(diff_ids):
            self.layer_dir(diff_id)
            result.append(self._short_link(diff_id))
        return result

    #: With --userns-remap, the daemon's runtime.userns.RemappedRoot (set by the engine).
    remapped_root = None

    def _remapped_ids(self, upper_dir: str):
        """For the upper directory of a user-namespaced container (its top is owned by the remapped root,
        see engine/remap.py): the translation of its owners back to the container's ids; else None."""
        root = self.remapped_root
        if root is None or os.stat(upper_dir).st_uid != root.uid:
            return None
        return root.ids_inside

    def remapped_lowerdirs(self, image_id: str, remapped_root) -> list[str]:
        """The image's layers with every owner shifted into a remapped root's ids (``--userns-remap``
        on a kernel without idmapped mounts), top-most first.

        Docker's layout: one copy per remapped root, under
        ``<data-root>/<uid>.<gid>/layers/<hex>/diff``, made on first use
        (staged in tmp/, then renamed into place) and shared by every
        container of that root.  ``remapped_root`` is a runtime.userns.RemappedRoot, handed over by
        the engine: it makes the copy itself (the store never imports the runtime).
        """
        home = os.path.join(self.root, remapped_root.directory_name, "layers")
        os.makedirs(home, exist_ok=True)
        result = []
        for lower in self.lowerdirs(image_id):
            hex_id = os.path.basename(os.path.dirname(os.path.realpath(lower)))
            target = os.path.join(home, hex_id, "diff")
            with self._lock:
                lock = self._unpack_locks.setdefault("remap:" + target, threading.Lock())
            with lock:
                if not os.path.isdir(target):
                    staging = self.temp_path("remap")
                    os.mkdir(staging)
                    remapped_root.shifted_copy(os.path.realpath(lower), os.path.join(staging, "diff"))
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    os.rename(os.path.join(staging, "diff"), target)
                    os.rmdir(staging)
            result.append(target)
        return result

    def compressed_layer(self, diff_id: str) -> tuple[str, int, str]:
        """(digest, size, media type) of the layer's gzip form, for a push.  Made once, then reused."""
        for digest, info in self._layer_record(diff_id)["compressed"].items():
            if info["media_type"] == MEDIA_TYPE_DOCKER_LAYER_GZIP and self.has_blob(digest):
                return digest, info["size"], info["media_type"]
        with self.blob_writer() as blob:
            # mtime=0 and no file name: the same layer always compresses to the same bytes.
            with gzip.GzipFile(fileobj=blob, mode="wb", compresslevel=6, mtime=0, filename="") as gz:
                with open(self.blob_path(diff_id), "rb") as tar:
                    shutil.copyfileobj(tar, gz, _CHUNK)
        self._remember_compressed(diff_id, blob.digest, blob.size, MEDIA_TYPE_DOCKER_LAYER_GZIP)
        return blob.digest, blob.size, MEDIA_TYPE_DOCKER_LAYER_GZIP

    def layer_changes(self, diff_id: str, *, lower_diff_ids: list[str] = ()) -> list[dict]:
        """Every entry of a layer, for the notebook's layer tree.

        ``kind`` is D for a whiteout, C when one of ``lower_diff_ids`` (the
        layers below it, bottom-most first as in an image config) already
        has the path, A otherwise.
        """
        upper = self.layer_dir(diff_id)
        below = layerlib.LowerView([self.layer_dir(d) for d in reversed(list(lower_diff_ids))])
        entries = []
        for path, name, st in layerlib.walk_tree(upper):
            if layerlib.is_whiteout(st):
                kind = "D"
            else:
                kind = "C" if below.lookup(name) is not None else "A"
            entries.append({
                "path": "/" + name,
                "kind": kind,
                "opaque": stat.S_ISDIR(st.st_mode) and layerlib.is_opaque(path),
                "size": 0 if kind == "D" else st.st_size,
                "mode": st.st_mode,
            })
        return entries

    # Image metadata on disk -------------------------------------------------------------------------

    def _read_repositories(self) -> dict[str, str]:
        """repositories.json, in Docker's shape: {"Repositories": {"busybox": {"busybox:latest": id}}}."""
        try:
            with open(self.repositories_path, encoding="utf-8") as f:
                stored = json.load(f)
        except FileNotFoundError:
            return {}
        refs = {}
        for by_ref in stored.get("Repositories", {}).values():
            for ref, image_id in by_ref.items():
                refs[str(reference.parse(ref))] = image_id
        return refs

    def _save_repositories(self) -> None:
        repositories: dict[str, dict[str, str]] = {}
        for ref, image_id in sorted(self._refs.items()):
            parsed = reference.parse(ref)
            repositories.setdefault(parsed.familiar_name, {})[parsed.familiar()] = image_id
        self._write_json_atomically(self.repositories_path, {"Repositories": repositories})

    def _read_image_metadata(self) -> dict[str, dict]:
        images = {}
        for name in os.listdir(self.images_dir):
            if name.endswith(".json"):
                with open(os.path.join(self.images_dir, name), encoding="utf-8") as f:
                    images["sha256:" + name[: -len(".json")]] = json.load(f)
        return images

    def _save_image_metadata(self, image_id: str) -> None:
        self._write_json_atomically(os.path.join(self.images_dir, hex_of(image_id) + ".json"), self._images[image_id])

    def config(self, image_id: str) -> dict:
        if image_id not in self._configs:
            self._configs[image_id] = json.loads(self.read_blob(image_id))
        return self._configs[image_id]

    # Creating images --------------------------------------------------------------------------------

    def create_image(self, config: dict, *, parent: str | None = None) -> str:
        """Store an image config (serialized compactly, key order kept); returns the image ID."""
        return self.add_image_config(json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode(), parent=parent)

    def add_image_config(self, config_bytes: bytes, *, parent: str | None = None) -> str:
        """Store an image config's exact bytes (pull, load: the ID must stay the digest of those bytes).

        Every layer the config lists must already be in the store.
        """
        try:
            config = json.loads(config_bytes)
            diff_ids = list(config["rootfs"]["diff_ids"])
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument("invalid image config: not JSON with rootfs.diff_ids") from None
        for diff_id in diff_ids:
            if not self.has_layer(diff_id):
                raise NotFound(f"image config refers to layer {diff_id}, which is not in the store")
        if parent:
            parent = self.resolve(parent)
        image_id = self.put_blob(config_bytes)
        with self._lock:
            if image_id not in self._images:
                self._images[image_id] = {"parent": parent or "", "stored": format_time(time.time())}
                self._save_image_metadata(image_id)
            elif parent and not self._images[image_id].get("parent"):
                self._images[image_id]["parent"] = parent
                self._save_image_metadata(image_id)
        return image_id

    # Finding images ---------------------------------------------------------------------------------

    def resolve(self, ref_or_id: str) -> str:
        """An image ID for a reference or ID, as Docker's GetImage resolves it.

        Tried in order: a full ID (``sha256:<hex>`` or 64 hex digits), a
        tag or digest reference, a unique prefix of an ID.
        """
        with self._lock:
            if reference.IMAGE_ID_RE.match(ref_or_id) or reference.SHA256_DIGEST_RE.match(ref_or_id):
                image_id = ref_or_id if ref_or_id.startswith("sha256:") else "sha256:" + ref_or_id
                if image_id in self._images:
                    return image_id
                raise NotFound(f"No such image: {ref_or_id}")
            ref = reference.parse(ref_or_id).with_default_tag()
            image_id = self._refs.get(str(ref))
            if image_id in self._images:
                return image_id
            prefix = ref_or_id.removeprefix("sha256:")
            if all(c in "0123456789abcdef" for c in prefix):
                matches = [i for i in self._images if hex_of(i).startswith(prefix)]
                if len(matches) == 1:
                    return matches[0]
            raise NotFound(f"No such image: {ref.familiar()}")

    def get(self, ref_or_id: str) -> Image:
        with self._lock:
            return self._image(self.resolve(ref_or_id))

    def _image(self, image_id: str) -> Image:
        config = self.config(image_id)
        refs = [reference.parse(r) for r in self._refs_of(image_id)]
        diff_ids = list(config["rootfs"]["diff_ids"])
        meta = self._images[image_id]
        return Image(
            id=image_id,
            config=config,
            repo_tags=[r.familiar() for r in refs if r.tag],
            repo_digests=[r.familiar() for r in refs if r.digest],
            parent=meta.get("parent", ""),
            created=config.get("created", ""),
            size=sum(self.layer(d).size for d in diff_ids),
            diff_ids=diff_ids,
            last_tag_time=meta.get("last_tag_time", ""),
        )

    def references(self) -> dict[str, str]:
        """Every tag and digest reference (normalized) -> image ID."""
        with self._lock:
            return dict(self._refs)

    def _refs_of(self, image_id: str) -> list[str]:
        return sorted(ref for ref, target in self._refs.items() if target == image_id)

    def list(self, *, all: bool = False) -> list[Image]:
        """Images, newest first.  Without ``all``, untagged images that are parents (build steps) are hidden."""
        with self._lock:
            images = [self._image(i) for i in self._images]
            if not all:
                images = [i for i in images if i.repo_tags or i.repo_digests or not self.children(i.id)]
        return sorted(images, key=lambda i: parse_time(i.created), reverse=True)

    def children(self, image_id: str) -> list[str]:
        with self._lock:
            return sorted(i for i, meta in self._images.items() if meta.get("parent") == image_id)

    # Tags -------------------------------------------------------------------------------------------

    def tag(self, image_id: str, ref: str) -> str:
        """Point ``ref`` (``name`` means ``name:latest``) at an image; returns the familiar reference."""
        parsed = reference.parse(ref)
        if parsed.digest:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        parsed = parsed.with_default_tag()
        with self._lock:
            image_id = self.resolve(image_id)
            self._refs[str(parsed)] = image_id
            self._images[image_id]["last_tag_time"] = format_time(time.time())
            self._save_image_metadata(image_id)
            self._save_repositories()
        return parsed.familiar()

    def set_repo_digest(self, image_id: str, repository: str, digest: str) -> None:
        """Record that ``repository@digest`` (a registry manifest) is this image."""
        hex_of(digest)
        name = reference.parse(repository)
        with self._lock:
            self._refs[f"{name.name}@{digest}"] = self.resolve(image_id)
            self._save_repositories()

    def untag(self, ref: str) -> str:
        """Remove a tag or digest reference; returns it in familiar form."""
        parsed = reference.parse(ref).with_default_tag()
        with self._lock:
            if self._refs.pop(str(parsed), None) is None:
                raise NotFound(f"No such image: {parsed.familiar()}")
            self._save_repositories()
        return parsed.familiar()

    # Deleting ---------------------------------------------------------------------------------------

    def delete(
        self,
        ref_or_id: str,
        *,
        force: bool = False,
        in_use: Callable[[str], str | None] = lambda image_id: None,
        running: Callable[[str], str | None] = lambda image_id: None,
    ) -> list[dict]:
        """``docker rmi``: untag, and delete the image when nothing refers to it any more.

        ``in_use(image_id)`` names a container (running or not) created
        from the image, ``running(image_id)`` a running one.  The rules and
        messages are moby's (daemon/images/image_delete.go): a tag is only
        untagged while others remain; a single tag of an image a container
        uses cannot go without ``force``; a running container or child
        images block deletion even with ``force``.
        """
        with self._lock:
            image_id = self.resolve(ref_or_id)
            records: list[dict] = []
            refs = self._refs_of(image_id)
            if not _is_id_prefix(image_id, ref_or_id):
                ref = reference.parse(ref_or_id).with_default_tag()
                if not force and _is_single_reference(refs):
                    container = in_use(image_id)
                    if container:
                        raise Conflict(
                            f'conflict: unable to remove repository reference "{ref_or_id}" (must force) - '
                            f"container {container[:12]} is using its referenced image {hex_of(image_id)[:12]}")
                records.append({"Untagged": self.untag(str(ref))})
                refs = self._refs_of(image_id)
                if not ref.digest:
                    # The last tag of a repository is gone: its digest references go with it.
                    same_repo_tags = [r for r in refs if reference.parse(r).name == ref.name and not reference.parse(r).digest]
                    if not same_repo_tags:
                        for r in [r for r in refs if reference.parse(r).name == ref.name]:
                            records.append({"Untagged": self.untag(r)})
                        refs = self._refs_of(image_id)
                if refs:
                    return records
                # The last reference is gone; the image goes too, unless something still needs it
                # (child images, a container): then untagging was all (quietly, as Docker does).
                self._delete_image(image_id, records, force=force, quiet=True, in_use=in_use, running=running)
                return records
            if _is_single_reference(refs):
                # Deleting by ID an image with a single tag: the tag goes, unless a hard conflict forbids it.
                self._raise_if_conflict(image_id, hard=True, soft=not force, in_use=in_use, running=running, ignore_refs=True)
                for r in refs:
                    records.append({"Untagged": self.untag(r)})
            self._delete_image(image_id, records, force=force, quiet=False, in_use=in_use, running=running)
            return records

    def _raise_if_conflict(self, image_id, *, hard, soft, in_use, running, ignore_refs=False) -> None:
        """Raise Conflict with the first reason the image cannot be deleted (moby's checkImageDeleteConflict).

        Hard conflicts (child images, a running container) hold even with
        ``force``; soft ones (other references, a stopped container) do not.
        """
        if hard and self.children(image_id):
            self._conflict(image_id, "image has dependent child images", hard=True)
        if hard and running(image_id):
            self._conflict(image_id, f"image is being used by running container {running(image_id)[:12]}", hard=True)
        if soft and not ignore_refs and self._refs_of(image_id):
            self._conflict(image_id, "image is referenced in multiple repositories", hard=False)
        if soft and in_use(image_id):
            self._conflict(image_id, f"image is being used by stopped container {in_use(image_id)[:12]}", hard=False)

    @staticmethod
    def _conflict(image_id: str, reason: str, *, hard: bool) -> None:
        must = "cannot be forced" if hard else "must be forced"
        raise Conflict(f"conflict: unable to delete {hex_of(image_id)[:12]} ({must}) - {reason}")

    def _delete_image(self, image_id, records, *, force, quiet, in_use, running) -> None:
        """Delete one image (and, after a delete by name, parents nothing else keeps)."""
        try:
            self._raise_if_conflict(image_id, hard=True, soft=not force, in_use=in_use, running=running)
        except Conflict:
            if quiet:
                return  # pruning a parent quietly stops at the first image something still needs
            raise
        used_by_container = in_use(image_id) is not None
        parent = self._images[image_id].get("parent", "")
        for ref in self._refs_of(image_id):
            records.append({"Untagged": self.untag(ref)})
        diff_ids = self.config(image_id)["rootfs"]["diff_ids"]
        del self._images[image_id]
        self._configs.pop(image_id, None)
        os.unlink(os.path.join(self.images_dir, hex_of(image_id) + ".json"))
        records.append({"Deleted": image_id})
        if not used_by_container:  # else a container still mounts these layers: keep them and the config
            records.extend(self._remove_unused_layers(diff_ids))
            os.unlink(self.blob_path(image_id))
        if parent and parent in self._images:
            self._delete_image(parent, records, force=False, quiet=True, in_use=in_use, running=running)

    def _remove_unused_layers(self, diff_ids: list[str]) -> list[dict]:
        """Remove the layers of a deleted image that no other image has; Docker lists them by ChainID."""
        still_used = {d for other in self._images for d in self.config(other)["rootfs"]["diff_ids"]}
        removed = []
        for diff_id, chain_id in reversed(list(zip(diff_ids, chain_ids(diff_ids)))):
            if diff_id in still_used or not self.has_layer(diff_id):
                continue
            self._remove_layer(diff_id)
            removed.append({"Deleted": chain_id})
        return removed

    def _remove_layer(self, diff_id: str) -> None:
        """Remove a layer's short link, directory and blobs."""
        record = self._layer_record(diff_id)
        with contextlib.suppress(FileNotFoundError):  # a crash may have come between the rename and the link
            os.unlink(self._short_link(diff_id))
        # Rename first, then delete: the layer disappears at once, even if the delete is slow.
        doomed = self.temp_path("deleted-layer")
        os.rename(self._layer_home(diff_id), doomed)
        shutil.rmtree(doomed)
        for name in os.listdir(self.root):  # its chowned copies for remapped roots (remapped_lowerdirs)
            copy = os.path.join(self.root, name, "layers", hex_of(diff_id))
            if re.fullmatch(r"[0-9]+\.[0-9]+", name) and os.path.isdir(copy):
                doomed = self.temp_path("deleted-layer")
                os.rename(copy, doomed)
                shutil.rmtree(doomed)
        for digest in [diff_id, *record["compressed"]]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.blob_path(digest))
        self._unpack_locks.pop(diff_id, None)

    def prune(self, *, in_use: Callable[[str], str | None]) -> tuple[list[dict], int]:
        """``docker image prune``: delete dangling images (no tag, no child) no container uses."""
        with self._lock:
            sizes_before = {d: self.layer(d).size for d in self._all_layer_ids()}
            records: list[dict] = []
            dangling = [i for i in self._images if not self._refs_of(i) and not self.children(i) and not in_use(i)]
            for image_id in dangling:
                if image_id in self._images:
                    self._delete_image(image_id, records, force=False, quiet=True, in_use=in_use, running=lambda i: None)
            remaining = set(self._all_layer_ids())
            reclaimed = sum(size for d, size in sizes_before.items() if d not in remaining)
            return records, reclaimed

    def _all_layer_ids(self) -> list[str]:
        return ["sha256:" + name for name in os.listdir(self.layers_dir) if os.path.exists(os.path.join(self.layers_dir, name, "layer.json"))]

    # History ----------------------------------------------------------------------------------------

    def history(self, image_id: str) -> list[dict]:
        """``GET /images/{name}/history``: newest step first, each with the size of the layer it made.

        Steps are matched to images by walking the parent chain; steps whose
        image is not stored here (pulled images) get the ID ``<missing>``.
        """
        with self._lock:
            image = self.get(image_id)
            steps = []
            layer_index = 0
            for step in image.config.get("history") or []:
                size = 0
                if not step.get("empty_layer"):
                    if layer_index >= len(image.diff_ids):
                        raise InvalidArgument(f"image {image.id}: more non-empty history entries than layers")
                    size = self.layer(image.diff_ids[layer_index]).size
                    layer_index += 1
                steps.insert(0, {
                    "Comment": step.get("comment", ""),
                    "Created": int(parse_time(step.get("created", ""))),
                    "CreatedBy": step.get("created_by", ""),
                    "Id": "<missing>",
                    "Size": size,
                    "Tags": None,
                })
            current = image.id
            for step in steps:
                step["Id"] = current
                tags = [reference.parse(r).familiar() for r in self._refs_of(current) if reference.parse(r).tag]
                step["Tags"] = tags or None
                current = self._images[current].get("parent", "")
                if current not in self._images:
                    break
            return steps


def _is_id_prefix(image_id: str, text: str) -> bool:
    """Whether the user named the image by (a prefix of) its ID rather than by a reference."""
    return image_id.startswith(text) or image_id[len("sha256:"):].startswith(text)


def _is_single_reference(refs: list[str]) -> bool:
    """At most one tag, and every reference in one repository (moby's isSingleReference)."""
    if len(refs) <= 1:
        return len(refs) == 1
    parsed = [reference.parse(r) for r in refs]
    if sum(1 for p in parsed if not p.digest) > 1:
        return False
    return len({p.name for p in parsed if p.digest}) <= 1


__all__ = ["ImageStore", "Image", "Layer", "BlobWriter", "EMPTY_LAYER_DIFF_ID", "chain_ids", "format_time", "parse_time"]


def remove_tree(path: str) -> None:
    """``rm -r path``, never into another file system mounted below it.

    ``shutil.rmtree`` follows no symlinks but does descend into mount points:
    a bind mount left under a scratch directory (of a host folder, a volume)
    would have its *contents* deleted.  So whatever is mounted below ``path``
    is detached first (MNT_DETACH: gone from the tree at once, the deepest
    first), and only the directories themselves are removed.
    """
    for mount_point in sorted(mounts_under(path), key=len, reverse=True):
        libc.umount2(mount_point, libc.MNT_DETACH)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def mounts_under(path: str) -> list[str]:
    """The mount points at or below ``path`` in this process's mount namespace (from /proc/self/mountinfo)."""
    path = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # field 5 is the mount point, with space, tab, newline and backslash octal-escaped
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == path or point.startswith(path.rstrip("/") + "/"):
                found.append(point)
    return found
