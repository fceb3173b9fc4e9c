"""Images in and out of the store as files: ``save``/``load``, OCI layouts, ``import``.

``docker save`` writes one tar that is, since Docker 25, two formats at once:

* an **OCI image layout** (image-spec ``image-layout.md``): ``oci-layout``,
  ``index.json`` listing one manifest per tag, and ``blobs/sha256/<hex>``
  holding the manifests, the configs and the layer tars;
* Docker's own **manifest.json**: ``[{"Config": ..., "RepoTags": [...],
  "Layers": [...]}]`` with paths inside the archive, which is all that
  ``docker load`` (20.10 as well as 25+) reads.

nbdock writes that combined form.  It loads both it and the older layout of
Docker 20.10 (``<v1 id>/layer.tar`` directories, ``<config hex>.json``): the
paths in manifest.json say where things are, so one loader reads both, and a
plain OCI layout (no manifest.json) is read through its index.

An archive is untrusted: it is unpacked with :mod:`tarsafe` into a staging
directory, and every path its manifest names is opened with
``RESOLVE_IN_ROOT``, so that no symlink in the archive can make nbdock read
a file of the host.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import tarfile
import time
import uuid
from typing import BinaryIO

from .. import __version__
from ..errors import InvalidArgument, NotFound
from ..kernel import saferoot
from . import reference, tarsafe
from .store import CONTAINER_CONFIG_DEFAULTS, ImageStore, format_time, hex_of

MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TYPE_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"

#: What nbdock writes as ``docker_version`` in the configs it makes.
DOCKER_VERSION = f"{__version__}-nbdock"


def host_architecture() -> str:
    """The host's architecture in Go's (and so the image config's) words."""
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


def _json_bytes(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# --- choosing what to save -----------------------------------------------------------------------


def _select(store: ImageStore, names: list[str]) -> list[tuple[str, list[str]]]:
    """[(image id, [tag references])] for ``docker save`` arguments, in the order first named.

    As Docker does: ``name`` alone means every tag of that repository, an
    image ID saves the image without tags, ``name:tag`` that one tag.
    """
    chosen: dict[str, list[str]] = {}

    def add(image_id: str, tag: str | None) -> None:
        tags = chosen.setdefault(image_id, [])
        if tag and tag not in tags:
            tags.append(tag)

    for name in names:
        if reference.IMAGE_ID_RE.match(name) or reference.SHA256_DIGEST_RE.match(name):
            add(store.resolve(name), None)
            continue
        parsed = reference.parse(name)
        if parsed.tag or parsed.digest:
            add(store.resolve(name), str(parsed) if parsed.tag else None)
            continue
        tagged = {ref: image_id for ref, image_id in store.references().items()
                  if reference.parse(ref).name == parsed.name and reference.parse(ref).tag}
        if not tagged:
            add(store.resolve(name), None)  # a short image ID
        for ref, image_id in sorted(tagged.items()):
            add(image_id, ref)
    if not chosen:
        raise InvalidArgument("no images to save")
    return list(chosen.items())


# --- writing archives ----------------------------------------------------------------------------


class _TarSink:
    """Writes archive entries into a tar stream: owned by root, dated 1970, as Docker does."""

    def __init__(self, out: BinaryIO):
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)

    def add_dir(self, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        self.tar.addfile(info)

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        self.tar.addfile(info, io.BytesIO(data))

    def add_file(self, name: str, path: str) -> None:
        info = tarfile.TarInfo(name)
        info.mode = 0o644
        with open(path, "rb") as f:
            info.size = os.fstat(f.fileno()).st_size
            self.tar.addfile(info, f)

    def close(self) -> None:
        self.tar.close()


class _DirSink:
    """Writes the same entries as files below a directory."""

    def __init__(self, root: str):
        self.root = root

    def add_dir(self, name: str) -> None:
        os.makedirs(os.path.join(self.root, name), exist_ok=True)

    def add_bytes(self, name: str, data: bytes) -> None:
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)

    def add_file(self, name: str, path: str) -> None:
        shutil.copyfile(path, os.path.join(self.root, name))

    def close(self) -> None:
        pass


def _write_layout(store: ImageStore, refs: list[str], sink, *, docker_manifest: bool) -> None:
    """The OCI layout of the chosen images, plus Docker's manifest.json and repositories if asked."""
    selection = _select(store, refs)
    sink.add_bytes("oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"}))
    sink.add_dir("blobs/")
    sink.add_dir("blobs/sha256/")
    written: set[str] = set()

    def add_blob(digest: str, *, data: bytes | None = None) -> None:
        if digest not in written:
            written.add(digest)
            name = f"blobs/sha256/{hex_of(digest)}"
            sink.add_bytes(name, data) if data is not None else sink.add_file(name, store.blob_path(digest))

    index_entries, docker_entries, repositories = [], [], {}
    for image_id, tags in selection:
        image = store.get(image_id)
        config_bytes = store.read_blob(image_id)
        add_blob(image_id, data=config_bytes)
        layer_descriptors = []
        for diff_id in image.diff_ids:
            add_blob(diff_id)
            layer_descriptors.append({"mediaType": MEDIA_TYPE_OCI_LAYER, "digest": diff_id,
                                      "size": os.path.getsize(store.blob_path(diff_id))})
        manifest = _json_bytes({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": {"mediaType": MEDIA_TYPE_OCI_CONFIG, "digest": image_id, "size": len(config_bytes)},
            "layers": layer_descriptors,
        })
        manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        add_blob(manifest_digest, data=manifest)
        descriptor = {"mediaType": MEDIA_TYPE_OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest)}
        for tag in tags:
            parsed = reference.parse(tag)
            index_entries.append({**descriptor, "annotations": {ANNOTATION_IMAGE_NAME: tag, ANNOTATION_REF_NAME: parsed.tag}})
            if image.diff_ids:
                repositories.setdefault(parsed.familiar_name, {})[parsed.tag] = hex_of(image.diff_ids[-1])
        if not tags:
            index_entries.append(descriptor)
        docker_entries.append({
            "Config": f"blobs/sha256/{hex_of(image_id)}",
            "RepoTags": [reference.parse(t).familiar() for t in tags] or None,
            "Layers": [f"blobs/sha256/{hex_of(d)}" for d in image.diff_ids],
        })
    sink.add_bytes("index.json", _json_bytes({"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": index_entries}))
    if docker_manifest:
        sink.add_bytes("manifest.json", _json_bytes(docker_entries))
        sink.add_bytes("repositories", _json_bytes(repositories))
    sink.close()


def save(store: ImageStore, refs: list[str], out: BinaryIO) -> None:
    """``docker save``: write the images as one tar (OCI layout + manifest.json) to ``out``."""
    _write_layout(store, refs, _TarSink(out), docker_manifest=True)


def export_oci(store: ImageStore, refs: list[str], out: BinaryIO | str) -> None:
    """Write an OCI image layout: into a tar stream, or (``out`` a path) as a new directory."""
    if not isinstance(out, str):
        _write_layout(store, refs, _TarSink(out), docker_manifest=False)
        return
    if os.path.lexists(out):
        raise InvalidArgument(f"cannot export to {out!r}: it already exists")
    # Build the layout beside its final place and rename it there: a failure leaves nothing.
    staging = os.path.join(os.path.dirname(os.path.abspath(out)), f".{os.path.basename(out)}.partial-{uuid.uuid4().hex[:8]}")
    os.mkdir(staging)
    try:
        _write_layout(store, refs, _DirSink(staging), docker_manifest=False)
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --- loading archives ----------------------------------------------------------------------------


class _Staged:
    """An unpacked archive; its files are opened as if its directory were ``/`` (``saferoot.Purpose.READ``)."""

    def __init__(self, root: str):
        self.root = root
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        os.close(self.root_fd)

    def exists(self, name: str) -> bool:
        try:
            self.open(name).close()
            return True
        except InvalidArgument:
            return False

    def open(self, name: str) -> BinaryIO:
        try:
            fd = saferoot.open_in_root(self.root_fd, name, os.O_RDONLY, saferoot.Purpose.READ)
        except OSError as exc:
            raise InvalidArgument(f"invalid archive: cannot open {name!r}: {os.strerror(exc.errno)}") from None
        return os.fdopen(fd, "rb")

    def read_json(self, name: str):
        with self.open(name) as f:
            try:
                return json.load(f)
            except ValueError as exc:
                raise InvalidArgument(f"invalid archive: {name} is not JSON: {exc}") from None


def load(store: ImageStore, fileobj: BinaryIO) -> list[str]:
    """``docker load``: store the images of a save archive; returns Docker's messages, one per line."""
    staging_dir = store.temp_path("load")
    report = tarsafe.extract_to_new_dir(fileobj, staging_dir)
    staged = _Staged(staging_dir)
    try:
        if staged.exists("manifest.json"):
            entries = staged.read_json("manifest.json")
        elif staged.exists("index.json"):
            entries = _entries_from_oci_index(staged)
        else:
            raise InvalidArgument("invalid archive: no manifest.json (and no OCI index.json) at its top level")
        if not isinstance(entries, list):
            raise InvalidArgument("invalid archive: manifest.json is not a list")
        messages = list(report.warnings)
        for entry in entries:
            messages += _load_image(store, staged, entry)
        return messages
    finally:
        staged.close()
        shutil.rmtree(staging_dir, ignore_errors=True)


def _load_image(store: ImageStore, staged: _Staged, entry: dict) -> list[str]:
    try:
        config_path, layer_paths, repo_tags = entry["Config"], list(entry["Layers"]), entry.get("RepoTags") or []
    except (KeyError, TypeError):
        raise InvalidArgument("invalid archive: a manifest.json entry lacks Config or Layers") from None
    tags = []
    for tag in repo_tags:  # check the tags before storing anything
        parsed = reference.parse(tag)
        if not parsed.tag:
            raise InvalidArgument(f"invalid tag {tag!r} in manifest.json")
        tags.append(parsed)
    with staged.open(config_path) as f:
        config_bytes = f.read()
    try:
        diff_ids = json.loads(config_bytes)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument(f"invalid archive: {config_path} is not an image config") from None
    if len(diff_ids) != len(layer_paths):
        raise InvalidArgument(f"invalid manifest, layers length mismatch: expected {len(diff_ids)}, got {len(layer_paths)}")
    for number, (diff_id, path) in enumerate(zip(diff_ids, layer_paths)):
        if store.has_layer(diff_id):
            continue
        with staged.open(path) as layer_tar:
            try:
                store.add_layer_from_tar(layer_tar, expected_diff_id=diff_id)
            except InvalidArgument as exc:
                raise InvalidArgument(f"layer {number} ({path}): {exc.message}") from None
    image_id = store.add_image_config(config_bytes)
    messages = []
    for parsed in tags:
        try:
            previous = store.resolve(str(parsed))
        except NotFound:
            previous = None
        if previous and previous != image_id:
            messages.append(f"The image {parsed.familiar()} already exists, renaming the old one with ID {previous} to empty string")
        store.tag(image_id, str(parsed))
        messages.append(f"Loaded image: {parsed.familiar()}")
    if not tags:
        messages.append(f"Loaded image ID: {image_id}")
    return messages


def _entries_from_oci_index(staged: _Staged) -> list[dict]:
    """manifest.json-style entries for a plain OCI layout (single-platform manifests)."""
    entries = []
    for descriptor in staged.read_json("index.json").get("manifests", []):
        if descriptor.get("mediaType") not in (MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST):
            raise InvalidArgument(f"unsupported manifest type in index.json: {descriptor.get('mediaType')}")
        manifest = staged.read_json(f"blobs/sha256/{hex_of(descriptor['digest'])}")
        name = (descriptor.get("annotations") or {}).get(ANNOTATION_IMAGE_NAME)
        entries.append({
            "Config": f"blobs/sha256/{hex_of(manifest['config']['digest'])}",
            "Layers": [f"blobs/sha256/{hex_of(layer['digest'])}" for layer in manifest.get("layers", [])],
            "RepoTags": [name] if name else [],
        })
    return entries


# --- import --------------------------------------------------------------------------------------


def import_rootfs(
    store: ImageStore,
    fileobj: BinaryIO,
    *,
    repo_tag: str | None = None,
    changes: dict | None = None,
    message: str = "",
) -> str:
    """``docker import``: a root file system tar (plain or compressed) becomes a one-layer image.

    ``changes`` are container-config fields to set (``{"Cmd": ["sh"]}``;
    the engine gets them from ``--change`` lines through the Dockerfile
    parser).  ``message`` becomes the comment; Docker's default is
    "Imported from -".  Returns the image ID.
    """
    tag = reference.parse(repo_tag).with_default_tag() if repo_tag else None
    unknown = set(changes or {}) - set(CONTAINER_CONFIG_DEFAULTS) - {"ExposedPorts", "StopSignal", "Healthcheck", "Shell"}
    if unknown:
        raise InvalidArgument(f"import: unknown container config field(s): {', '.join(sorted(unknown))}")
    layer = store.add_layer_from_tar(fileobj)
    created = format_time(time.time())
    comment = message or "Imported from -"
    config = {
        "architecture": host_architecture(),
        "comment": comment,
        "config": {**CONTAINER_CONFIG_DEFAULTS, **(changes or {})},
        "container_config": dict(CONTAINER_CONFIG_DEFAULTS),
        "created": created,
        "docker_version": DOCKER_VERSION,
        "history": [{"created": created, "comment": comment}],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
    }
    image_id = store.create_image(config)
    if tag:
        store.tag(image_id, str(tag))
    return image_id


__all__ = ["save", "load", "export_oci", "import_rootfs", "host_architecture", "DOCKER_VERSION"]
