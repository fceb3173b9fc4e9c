"""Manifest formats and platform selection: pure logic, no registry needed."""

import json

import pytest

from nbdock.errors import InvalidArgument, RegistryError
from nbdock.registry.manifest import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageManifest,
    ManifestIndex,
    Platform,
    parse_manifest,
    schema2_manifest,
    select_manifest,
    sha256_digest,
)

# A manifest exactly as Docker 20.10 pushed it (captured from a registry), with the digest it got.
DOCKER_PUSHED = b"""{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 1731,
      "digest": "sha256:97e1d8d35ef4ffec7b95f0b8cb739fccf6a1aa9b0fac686899fa9c9c40830303"
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 1069115,
         "digest": "sha256:ad27c6862b7aac9e22b2cc711798a45e4f91f5d260a1e4705aa1b701d10281fd"
      },
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 187,
         "digest": "sha256:7001db872a7e38fda61d518be0043c0634e9cef721760b28d2e1b1d9803269c6"
      },
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 148,
         "digest": "sha256:948bbcbc01ae0c7423f0f6b04cd7c834c1f8c8f58df2415bd7b604ac4734ad52"
      }
   ]
}"""
DOCKER_PUSHED_DIGEST = "sha256:524e3b548865f072721356ac4bb6029fe0f2be276b028199e8d536358f7a1a52"

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64
DIGEST_D = "sha256:" + "d" * 64


def entry(digest, os="linux", architecture="amd64", variant=None, annotations=None):
    platform = {"os": os, "architecture": architecture}
    if variant:
        platform["variant"] = variant
    descriptor = {"mediaType": OCI_MANIFEST, "size": 500, "digest": digest, "platform": platform}
    if annotations:
        descriptor["annotations"] = annotations
    return descriptor


def index(*entries) -> ManifestIndex:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(entries)}).encode()
    parsed = parse_manifest(body, OCI_INDEX)
    assert isinstance(parsed, ManifestIndex)
    return parsed


def test_docker_manifest_is_parsed_and_written_back_byte_for_byte():
    parsed = parse_manifest(DOCKER_PUSHED, DOCKER_MANIFEST)
    assert isinstance(parsed, ImageManifest)
    assert parsed.config.size == 1731
    assert [layer.size for layer in parsed.layers] == [1069115, 187, 148]
    written = schema2_manifest(parsed.config, parsed.layers)
    assert written == DOCKER_PUSHED
    assert sha256_digest(written) == DOCKER_PUSHED_DIGEST


def test_oci_manifest_type_may_come_from_the_body_alone():
    body = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": DIGEST_A},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "size": 9, "digest": DIGEST_B}],
    }).encode()
    parsed = parse_manifest(body, "application/octet-stream")
    assert isinstance(parsed, ImageManifest) and parsed.media_type == OCI_MANIFEST


@pytest.mark.parametrize("bad_digest", ["sha256:../../etc/passwd", "sha256:" + "A" * 64, "md5:abc", 42, None])
def test_digests_that_could_escape_the_store_are_refused(bad_digest):
    body = json.dumps({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": bad_digest},
        "layers": [],
    }).encode()
    with pytest.raises(RegistryError, match="invalid digest"):
        parse_manifest(body, DOCKER_MANIFEST)


def test_negative_sizes_and_foreign_layers_are_refused():
    def manifest(layer):
        return json.dumps({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": DIGEST_A},
            "layers": [layer],
        }).encode()

    with pytest.raises(RegistryError, match="invalid size -1"):
        parse_manifest(manifest({"mediaType": "x", "size": -1, "digest": DIGEST_B}), DOCKER_MANIFEST)
    foreign = {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "size": 1, "digest": DIGEST_B}
    with pytest.raises(RegistryError, match="unsupported layer type"):
        parse_manifest(manifest(foreign), DOCKER_MANIFEST)


def test_schema1_and_garbage_are_refused_with_a_reason():
    schema1 = json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}).encode()
    with pytest.raises(RegistryError, match="unsupported manifest type"):
        parse_manifest(schema1, "application/vnd.docker.distribution.manifest.v1+prettyjws")
    with pytest.raises(RegistryError, match="not valid JSON"):
        parse_manifest(b"<html>", "text/html")


def test_content_type_and_declared_type_must_agree():
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode()
    with pytest.raises(RegistryError, match="served it as"):
        parse_manifest(body, DOCKER_MANIFEST)


def test_host_platform_is_chosen_and_attestations_skipped():
    listing = index(
        entry(DIGEST_A, "unknown", "unknown", annotations={"vnd.docker.reference.type": "attestation-manifest"}),
        entry(DIGEST_B, architecture="arm64", variant="v8"),
        entry(DIGEST_C, architecture="amd64"),
    )
    assert select_manifest(listing, Platform("linux", "amd64")).digest == DIGEST_C
    assert select_manifest(listing, Platform.parse("linux/arm64")).digest == DIGEST_B
    assert select_manifest(listing, Platform.parse("linux/aarch64")).digest == DIGEST_B


def test_an_index_of_only_attestations_and_other_platforms_has_no_match():
    listing = index(entry(DIGEST_A, "unknown", "unknown"), entry(DIGEST_B, architecture="s390x"))
    with pytest.raises(RegistryError, match="no matching manifest for linux/amd64 in the manifest list entries"):
        select_manifest(listing, Platform("linux", "amd64"))


def test_arm_prefers_its_own_variant_then_older_ones():
    listing = index(
        entry(DIGEST_A, architecture="arm", variant="v5"),
        entry(DIGEST_B, architecture="arm", variant="v6"),
        entry(DIGEST_D, architecture="arm", variant="v8"),
    )
    # A v7 CPU runs v6 and v5 code, not v8; v6 is the closest.
    assert select_manifest(listing, Platform.parse("linux/arm/v7")).digest == DIGEST_B
    assert select_manifest(listing, Platform.parse("linux/arm/v5")).digest == DIGEST_A
    # "linux/arm" means v7, as in containerd.
    assert Platform.parse("linux/arm") == Platform("linux", "arm", "v7")


def test_entries_without_platform_fit_anything():
    listing = index({"mediaType": OCI_MANIFEST, "size": 1, "digest": DIGEST_A})
    assert select_manifest(listing, Platform("linux", "riscv64")).digest == DIGEST_A


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "linux/arm/v7/extra"])
def test_malformed_platforms_are_refused(text):
    with pytest.raises(InvalidArgument, match="invalid platform"):
        Platform.parse(text)
