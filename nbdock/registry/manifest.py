"""Manifests: what a registry says an image is made of.

A registry stores an image as blobs (the config JSON and one compressed tar
per layer) plus a *manifest* that names them by digest::

    {"schemaVersion": 2,
     "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "config": {"mediaType": "...", "size": 1731, "digest": "sha256:97e1..."},
     "layers": [{"mediaType": "...tar.gzip", "size": 1069115, "digest": "sha256:ad27..."}, ...]}

A multi-platform image adds one level: a manifest *list* (Docker) or *index*
(OCI) whose entries each point at one platform's manifest.  The puller
picks the entry that fits this machine (see :func:`select_manifest`).

Docker's formats and the OCI's are the same design under different media
types; nbdock reads both, and writes Docker's schema 2, as Docker 20.10
pushes it.

Everything a registry sends is untrusted: digests become file names in the
store, sizes bound how much we read, so both are checked here before anyone
uses them.
"""

from __future__ import annotations

import hashlib
import json
import platform as host_machine
import re
from dataclasses import dataclass, field

from nbdock.errors import InvalidArgument, RegistryError

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"

DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"

#: The manifest types we ask for, one ``Accept`` header each, as moby does.
#: Without them a registry may answer with the legacy schema 1 format.
ACCEPTED_MANIFEST_TYPES = (DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX)

IMAGE_MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
CONFIG_TYPES = (DOCKER_CONFIG, OCI_CONFIG)
LAYER_TYPES = (DOCKER_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_GZIP, OCI_LAYER_ZSTD)

#: Registries must accept manifests of at least 4 MB (distribution spec), so
#: nothing legitimate is bigger; the bound keeps a hostile server from
#: making us buffer without end.
MAX_MANIFEST_SIZE = 4 * 1024 * 1024

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def sha256_digest(data: bytes) -> str:
    """The content digest of ``data``: what registries and the store name it by."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def checked_digest(value: object, what: str) -> str:
    """``value`` if it is a well-formed sha256 digest, else a RegistryError naming ``what``.

    Digests end up as file names in the store (``blobs/sha256/<hex>``), so a
    registry must never be able to slip ``../`` or anything else into one.
    """
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise RegistryError(f"invalid digest {value!r} for {what}")
    return value


# --- platforms ------------------------------------------------------------------------------

#: Linux's names for CPU architectures (``uname -m``) -> Go's, which images use.
_MACHINE_TO_GOARCH = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}


@dataclass(frozen=True)
class Platform:
    """An os/architecture/variant triple, as in ``linux/arm/v7``."""

    os: str
    architecture: str
    variant: str = ""

    def __post_init__(self):
        # 64-bit ARM has only one variant in practice; images write it as
        # "v8" or leave it out, and both mean the same thing.
        if self.architecture == "arm64" and self.variant == "v8":
            object.__setattr__(self, "variant", "")
        # 32-bit ARM without a variant means v7, the common case (containerd's rule).
        if self.architecture == "arm" and not self.variant:
            object.__setattr__(self, "variant", "v7")

    @classmethod
    def parse(cls, text: str) -> "Platform":
        """``"linux/amd64"``, ``"linux/arm/v7"`` -> Platform (the ``--platform`` flag)."""
        parts = text.strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidArgument(f"invalid platform {text!r}: expected os/arch[/variant]")
        os_name, machine = parts[0], parts[1]
        architecture, default_variant = _MACHINE_TO_GOARCH.get(machine, (machine, ""))
        variant = parts[2] if len(parts) == 3 else default_variant
        return cls(os_name, architecture, variant)

    @classmethod
    def host(cls) -> "Platform":
        """The platform this machine runs: what ``docker pull`` picks by default."""
        machine = host_machine.machine()
        architecture, variant = _MACHINE_TO_GOARCH.get(machine, (machine, ""))
        return cls("linux", architecture, variant)

    @classmethod
    def from_json(cls, data: object) -> "Platform | None":
        if not isinstance(data, dict):
            return None
        return cls(str(data.get("os", "")), str(data.get("architecture", "")), str(data.get("variant", "")))

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


# --- descriptors and manifests --------------------------------------------------------------


@dataclass(frozen=True)
class Descriptor:
    """A pointer to a blob or manifest: its type, digest and size (plus a platform in an index)."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: object, what: str) -> "Descriptor":
        if not isinstance(data, dict):
            raise RegistryError(f"invalid {what} in manifest: expected a JSON object")
        size = data.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RegistryError(f"invalid size {size!r} for {what} in manifest")
        annotations = data.get("annotations")
        return cls(
            media_type=str(data.get("mediaType", "")),
            digest=checked_digest(data.get("digest"), what),
            size=size,
            platform=Platform.from_json(data.get("platform")),
            annotations=annotations if isinstance(annotations, dict) else {},
        )

    def is_attestation(self) -> bool:
        """BuildKit's provenance/SBOM entries: they sit in an index but are not images to run."""
        return (
            self.annotations.get("vnd.docker.reference.type") == "attestation-manifest"
            or (self.platform is not None and self.platform.os == "unknown" and self.platform.architecture == "unknown")
        )


@dataclass(frozen=True)
class ImageManifest:
    """One platform's image: a config blob and the layer blobs, bottom layer first."""

    media_type: str
    config: Descriptor
    layers: list[Descriptor]


@dataclass(frozen=True)
class ManifestIndex:
    """A manifest list / OCI index: one entry per platform."""

    media_type: str
    manifests: list[Descriptor]


def parse_manifest(body: bytes, content_type: str | None) -> ImageManifest | ManifestIndex:
    """Parse what a registry answered to ``GET /v2/<name>/manifests/<ref>``.

    The ``Content-Type`` header says which format the bytes are in; OCI
    manifests may also (or only) say it in their ``mediaType`` field.
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RegistryError(f"the registry sent a manifest that is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise RegistryError("the registry sent a manifest that is not a JSON object")

    declared = document.get("mediaType")
    served = (content_type or "").split(";")[0].strip()
    media_type = served if served in ACCEPTED_MANIFEST_TYPES else declared
    if declared and media_type and declared != media_type:
        raise RegistryError(f"manifest says it is {declared} but the registry served it as {served}")
    if document.get("schemaVersion") != 2 or media_type not in ACCEPTED_MANIFEST_TYPES:
        raise RegistryError(
            f"unsupported manifest type {media_type or served or 'unknown'!r} "
            f"(schemaVersion {document.get('schemaVersion')!r}): nbdock reads Docker schema 2 and OCI manifests"
        )

    if media_type in INDEX_TYPES:
        entries = document.get("manifests")
        if not isinstance(entries, list):
            raise RegistryError("manifest list has no 'manifests' array")
        return ManifestIndex(media_type, [Descriptor.from_json(entry, "manifest list entry") for entry in entries])

    layers = document.get("layers")
    if not isinstance(layers, list):
        raise RegistryError("image manifest has no 'layers' array")
    config = Descriptor.from_json(document.get("config"), "image config")
    if config.media_type not in CONFIG_TYPES:
        raise RegistryError(f"unsupported image config type {config.media_type!r}")
    layer_descriptors = [Descriptor.from_json(layer, "layer") for layer in layers]
    for layer in layer_descriptors:
        if layer.media_type not in LAYER_TYPES:
            # Foreign (Windows) and non-distributable layers live outside the
            # registry; a Linux engine has no use for them.
            raise RegistryError(f"unsupported layer type {layer.media_type!r} for layer {layer.digest}")
    return ImageManifest(media_type, config, layer_descriptors)


def select_manifest(index: ManifestIndex, wanted: Platform) -> Descriptor:
    """The entry of ``index`` to pull on ``wanted``, as moby chooses it.

    Attestation entries are skipped; an entry without a platform fits any.
    Among the rest the os and architecture must match, and the closest
    variant wins: the exact one, or for 32-bit ARM an older one the CPU can
    still run (a v7 machine runs v6 and v5 binaries).
    """
    candidates = []
    for entry in index.manifests:
        if entry.media_type not in IMAGE_MANIFEST_TYPES or entry.is_attestation():
            continue
        rank = _variant_rank(entry.platform, wanted)
        if rank is not None:
            candidates.append((rank, entry))
    if not candidates:
        raise RegistryError(f"no matching manifest for {wanted} in the manifest list entries")
    candidates.sort(key=lambda ranked: ranked[0])
    return candidates[0][1]


def _variant_rank(offered: Platform | None, wanted: Platform) -> int | None:
    """0 for a perfect fit, higher for a worse one, None if ``offered`` cannot run on ``wanted``."""
    if offered is None:
        return 0
    if offered.os != wanted.os or offered.architecture != wanted.architecture:
        return None
    if offered.variant == wanted.variant or not wanted.variant:
        return 0 if offered.variant == wanted.variant else 1
    if wanted.architecture == "arm" and _arm_level(offered.variant) < _arm_level(wanted.variant):
        return 1 + _arm_level(wanted.variant) - _arm_level(offered.variant)
    return None


def _arm_level(variant: str) -> int:
    digits = variant.lstrip("v")
    return int(digits) if digits.isdigit() else 0


def config_platform(config: dict) -> Platform:
    """The platform an image config says its binaries are for."""
    return Platform(str(config.get("os", "")), str(config.get("architecture", "")), str(config.get("variant", "")))


# --- writing ----------------------------------------------------------------------------------


def schema2_manifest(config: Descriptor, layers: list[Descriptor]) -> bytes:
    """A Docker schema 2 manifest, byte for byte as Docker 20.10 writes it.

    The manifest's digest is the sha256 of these exact bytes, so the layout
    matters: Go's ``json.MarshalIndent`` with a three-space indent and this
    key order.  Matching it means pushing an image Docker pushed before
    gives the very same digest.
    """
    document = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": config.size, "digest": config.digest},
        "layers": [{"mediaType": DOCKER_LAYER_GZIP, "size": layer.size, "digest": layer.digest} for layer in layers],
    }
    return json.dumps(document, indent=3).encode()
