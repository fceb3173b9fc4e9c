"""Pushing from a real image store to a real docker-registry on 127.0.0.1."""

import asyncio
import gzip
import json

import pytest

from nbdock.errors import InvalidArgument, NotFound
from nbdock.registry import RegistryClient, RegistryConfig
from nbdock.registry.manifest import sha256_digest

pytestmark = pytest.mark.root

OFFLINE = RegistryConfig(offline=True)


def run(operation, store, ref):
    async def collect():
        client = RegistryClient(store, OFFLINE)
        return [message async for message in getattr(client, operation)(ref)]

    return asyncio.run(collect())


def layer_statuses(messages):
    """{layer id: [statuses]}, in the order the messages came."""
    by_layer = {}
    for message in messages:
        if "id" in message:
            by_layer.setdefault(message["id"], []).append(message["status"])
    return by_layer


def test_push_uploads_layers_config_and_manifest(store, anonymous_registry, busybox_image, new_image, raw):
    address = anonymous_registry.address
    ref = f"{address}/pushed/app:1"
    image_id = new_image({"hello.txt": b"pushed by nbdock\n"}, base=busybox_image, tag=ref)
    image = store.get(image_id)

    messages = run("push", store, ref)

    assert messages[0] == {"status": f"The push refers to repository [{address}/pushed/app]"}
    # Layers are announced top-most first, by DiffID.
    top, bottom = (diff_id[7:19] for diff_id in reversed(image.diff_ids))
    assert [m["id"] for m in messages if m.get("status") == "Preparing"] == [top, bottom]
    for statuses in layer_statuses(messages).values():
        assert statuses[0] == "Preparing"
        assert "Pushing" in statuses
        assert statuses[-1] == "Pushed"

    manifest = raw(anonymous_registry).manifest("pushed/app", "1")
    digest = sha256_digest(manifest)
    assert messages[-2] == {"status": f"1: digest: {digest} size: {len(manifest)}"}
    assert messages[-1] == {"progressDetail": {}, "aux": {"Tag": "1", "Digest": digest, "Size": len(manifest)}}

    # What landed in the registry is the image: its config, and gzip layers that unpack to its DiffIDs.
    document = json.loads(manifest)
    assert document["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert document["config"]["digest"] == image_id
    assert raw(anonymous_registry).blob("pushed/app", image_id) == store.read_blob(image_id)
    for layer, diff_id in zip(document["layers"], image.diff_ids):
        assert layer["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
        assert sha256_digest(gzip.decompress(raw(anonymous_registry).blob("pushed/app", layer["digest"]))) == diff_id
    assert store.get(ref).repo_digests == [f"{ref.rsplit(':', 1)[0]}@{digest}"]


def test_a_second_push_finds_every_layer_already_there(store, anonymous_registry, busybox_image, new_image):
    ref = f"{anonymous_registry.address}/pushed/twice:1"
    new_image({"twice.txt": b"again\n"}, base=busybox_image, tag=ref)
    first = run("push", store, ref)
    second = run("push", store, ref)
    assert all(statuses == ["Preparing", "Layer already exists"] for statuses in layer_statuses(second).values())
    assert second[-2] == first[-2]  # the same manifest digest: the gzip blobs are reused, not redone


def test_blobs_are_mounted_from_the_repository_the_image_came_from(store, seeded_registry):
    address = seeded_registry.address
    asyncio.run(_drain(RegistryClient(store, OFFLINE).pull(f"{address}/nbdock/app:1")))
    image = store.get(f"{address}/nbdock/app:1")
    store.tag(image.id, f"{address}/elsewhere/app:1")

    messages = run("push", store, f"{address}/elsewhere/app:1")
    assert all(statuses == ["Preparing", "Mounted from nbdock/app"] for statuses in layer_statuses(messages).values())
    # The manifest is byte for byte the one pulled: same layers, same config, same digest.
    assert messages[-1]["aux"]["Digest"] == image.repo_digests[0].split("@")[1]


def test_push_without_tag_pushes_every_tag_of_the_repository(store, anonymous_registry, busybox_image):
    repository = f"{anonymous_registry.address}/pushed/tags"
    store.tag(busybox_image, f"{repository}:a")
    store.tag(busybox_image, f"{repository}:b")
    messages = run("push", store, repository)
    pushed = [m["aux"]["Tag"] for m in messages if "aux" in m]
    assert pushed == ["a", "b"]


def test_push_of_a_missing_image_or_a_digest(store, anonymous_registry):
    address = anonymous_registry.address
    with pytest.raises(NotFound, match=f"An image does not exist locally with the tag: {address}/pushed/nothing"):
        run("push", store, f"{address}/pushed/nothing:1")
    with pytest.raises(InvalidArgument, match="cannot push a digest reference"):
        run("push", store, f"{address}/pushed/app@sha256:" + "a" * 64)


async def _drain(messages):
    async for _ in messages:
        pass
