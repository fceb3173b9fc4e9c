"""Pulling from a real docker-registry on 127.0.0.1 into a real image store."""

import asyncio
import gzip
import json
import os

import pytest
import zstandard

from nbdock.errors import NotFound, RegistryError
from nbdock.registry import RegistryClient, RegistryConfig
from nbdock.registry.manifest import OCI_INDEX, OCI_MANIFEST, Platform, sha256_digest

pytestmark = pytest.mark.root  # unpacking layers creates files owned by root, whiteout devices, trusted xattrs

OFFLINE = RegistryConfig(offline=True)


def pull(store, ref, config=OFFLINE, **options):
    async def run():
        return [message async for message in RegistryClient(store, config).pull(ref, **options)]

    return asyncio.run(run())


def push(store, ref):
    async def run():
        return [message async for message in RegistryClient(store, OFFLINE).push(ref)]

    return asyncio.run(run())


def statuses(messages, layer_id=None):
    return [m["status"] for m in messages if layer_id is None or m.get("id") == layer_id]


def steps(messages, layer_id):
    """A layer's statuses with repeats (progress updates) folded: the steps it went through."""
    folded = []
    for status in statuses(messages, layer_id):
        if not folded or folded[-1] != status:
            folded.append(status)
    return folded


def read_file(store, image_id, path):
    """A file as the image's merged layers show it (top-most layer that has it wins)."""
    for layer_dir in store.lowerdirs(image_id):
        candidate = os.path.join(layer_dir, path)
        if os.path.lexists(candidate):
            with open(candidate, "rb") as file:
                return file.read()
    raise FileNotFoundError(path)


def test_pull_streams_docker_progress_and_stores_the_image(store, seeded_registry, raw):
    address = seeded_registry.address
    messages = pull(store, f"{address}/nbdock/app:1")

    manifest = raw(seeded_registry).manifest("nbdock/app", "1")
    layers = [layer["digest"] for layer in json.loads(manifest)["layers"]]
    assert messages[0] == {"status": "Pulling from nbdock/app", "id": "1"}
    for digest in layers:
        assert steps(messages, digest[7:19]) == [
            "Pulling fs layer",
            "Downloading",
            "Verifying Checksum",
            "Download complete",
            "Extracting",
            "Pull complete",
        ]
    assert messages[-2] == {"status": f"Digest: {sha256_digest(manifest)}"}
    assert messages[-1] == {"status": f"Status: Downloaded newer image for {address}/nbdock/app:1"}

    image = store.get(f"{address}/nbdock/app:1")
    assert image.repo_digests == [f"{address}/nbdock/app@{sha256_digest(manifest)}"]
    assert read_file(store, image.id, "app/hello.txt") == b"hello from nbdock\n"
    assert os.listdir(store.tmp_dir) == []


def test_a_second_pull_is_up_to_date_and_fetches_no_layer(store, seeded_registry):
    ref = f"{seeded_registry.address}/nbdock/app:1"
    pull(store, ref)
    again = pull(store, ref)
    assert statuses(again) == [
        "Pulling from nbdock/app",
        again[1]["status"],
        f"Status: Image is up to date for {ref}",
    ]
    assert again[1]["status"].startswith("Digest: sha256:")


def test_a_layer_already_in_the_store_is_not_downloaded_again(store, seeded_registry, raw):
    address = seeded_registry.address
    pull(store, f"{address}/library/busybox")
    log_before = len(seeded_registry.log())
    messages = pull(store, f"{address}/nbdock/app:1")
    requests = seeded_registry.log()[log_before:]

    manifest = json.loads(raw(seeded_registry).manifest("nbdock/app", "1"))
    busybox_layer, app_layer = (layer["digest"] for layer in manifest["layers"])
    assert statuses(messages, busybox_layer[7:19]) == ["Already exists"]
    assert statuses(messages, app_layer[7:19])[-1] == "Pull complete"
    assert f"GET /v2/nbdock/app/blobs/{busybox_layer}" not in requests
    assert f"GET /v2/nbdock/app/blobs/{app_layer}" in requests


def test_pull_by_digest_records_the_digest_and_no_tag(store, seeded_registry, raw):
    address = seeded_registry.address
    digest = sha256_digest(raw(seeded_registry).manifest("nbdock/app", "1"))
    messages = pull(store, f"{address}/nbdock/app@{digest}")
    assert messages[0] == {"status": "Pulling from nbdock/app", "id": digest}
    assert messages[-1] == {"status": f"Status: Downloaded newer image for {address}/nbdock/app@{digest}"}
    image = store.get(f"{address}/nbdock/app@{digest}")
    assert image.repo_tags == []


def test_unknown_tag_or_repository_fails_before_any_message(store, seeded_registry):
    address = seeded_registry.address
    with pytest.raises(NotFound) as unknown_tag:
        pull(store, f"{address}/nbdock/app:nope")
    assert unknown_tag.value.message == (
        f"manifest for {address}/nbdock/app:nope not found: manifest unknown: manifest unknown"
    )
    with pytest.raises(NotFound, match=f"{address}/nobody/here:latest not found"):
        pull(store, f"{address}/nobody/here")


def test_a_registry_that_is_down_is_named_in_the_error(store):
    from socket import socket

    with socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(RegistryError, match=rf'Get "http://127.0.0.1:{port}/v2/": connection refused'):
        pull(store, f"127.0.0.1:{port}/some/image")


def test_a_corrupted_layer_is_refused_and_nothing_is_kept(store, fresh_registry, busybox_image, new_image):
    address = fresh_registry.address
    uploaded = new_image({"data.bin": os.urandom(4096)}, base=busybox_image, tag=f"{address}/broken/app:1")
    push(store, f"{address}/broken/app:1")
    layer_digest = store.compressed_layer(store.get(uploaded).diff_ids[-1])[0]

    # Damage the blob inside the registry's storage: same size, other bytes.
    with open(fresh_registry.blob_data_path(layer_digest), "r+b") as blob:
        original = blob.read()
        blob.seek(0)
        blob.write(bytes(byte ^ 0xFF for byte in original))

    from nbdock.image.store import ImageStore

    other = ImageStore(os.path.join(os.path.dirname(store.root), "other-root"))
    with pytest.raises(RegistryError, match=f"filesystem layer verification failed for digest {layer_digest}"):
        pull(other, f"{address}/broken/app:1")
    assert not other.has_blob(layer_digest)
    assert os.listdir(other.tmp_dir) == []
    with pytest.raises(NotFound):
        other.get(f"{address}/broken/app:1")


def _push_platform_image(store, new_image, registry, raw, architecture):
    """Push a one-file image claiming ``architecture``; returns (image id, manifest digest, manifest size)."""
    ref = f"{registry.address}/nbdock/multi:{architecture}"
    image_id = new_image({"arch": architecture.encode()}, architecture=architecture, tag=ref)
    push(store, ref)
    manifest = raw(registry).manifest("nbdock/multi", architecture)
    return image_id, sha256_digest(manifest), len(manifest)


def test_manifest_list_picks_this_machine_and_skips_attestations(store, new_image, anonymous_registry, raw, tmp_path):
    host = Platform.host().architecture
    other = "s390x" if host != "s390x" else "amd64"
    host_id, host_digest, host_size = _push_platform_image(store, new_image, anonymous_registry, raw, host)
    other_id, other_digest, other_size = _push_platform_image(store, new_image, anonymous_registry, raw, other)

    def descriptor(digest, size, os_name, architecture, **extra):
        return {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": digest,
                "size": size, "platform": {"os": os_name, "architecture": architecture}, **extra}

    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            # An attestation first: a puller that ignores its marks would pick it.
            descriptor(host_digest, host_size, "unknown", "unknown",
                       annotations={"vnd.docker.reference.type": "attestation-manifest"}),
            descriptor(other_digest, other_size, "linux", other),
            descriptor(host_digest, host_size, "linux", host),
        ],
    }).encode()
    index_digest = raw(anonymous_registry).put_manifest("nbdock/multi", "latest", index, OCI_INDEX)

    from nbdock.image.store import ImageStore

    fresh = ImageStore(str(tmp_path / "fresh"))
    ref = f"{anonymous_registry.address}/nbdock/multi:latest"
    messages = pull(fresh, ref)
    assert fresh.get(ref).id == host_id
    assert {"status": f"Digest: {index_digest}"} in messages  # the list's digest, as Docker reports it

    pull(fresh, ref, platform=f"linux/{other}")
    assert fresh.get(ref).id == other_id
    with pytest.raises(RegistryError, match="no matching manifest for linux/riscv64 in the manifest list entries"):
        pull(fresh, ref, platform="linux/riscv64")


def test_oci_image_with_a_zstd_layer(store, anonymous_registry, raw, tar_of):
    registry = raw(anonymous_registry)
    tar = tar_of({"etc/greeting": b"zstd says hi\n"})
    layer = zstandard.ZstdCompressor().compress(tar)
    config = json.dumps({
        "architecture": Platform.host().architecture,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                   "digest": registry.put_blob("nbdock/zstd", config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "size": len(layer),
                    "digest": registry.put_blob("nbdock/zstd", layer)}],
    }).encode()
    registry.put_manifest("nbdock/zstd", "1", manifest, OCI_MANIFEST)

    ref = f"{anonymous_registry.address}/nbdock/zstd:1"
    pull(store, ref)
    assert read_file(store, store.get(ref).id, "etc/greeting") == b"zstd says hi\n"


def test_a_layer_climbing_out_of_its_directory_stays_inside(store, anonymous_registry, raw, tmp_path):
    """A member ``../../tmp/x`` lands at ``tmp/x`` in the layer, as in Docker's chrooted extraction."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../../../../../../tmp/nbdock-escaped")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    tar_bytes = buffer.getvalue()
    layer = gzip.compress(tar_bytes, mtime=0)
    registry = raw(anonymous_registry)
    config = json.dumps({"architecture": Platform.host().architecture, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar_bytes)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                   "digest": registry.put_blob("nbdock/evil", config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                    "digest": registry.put_blob("nbdock/evil", layer)}],
    }).encode()
    registry.put_manifest("nbdock/evil", "1", manifest, "application/vnd.docker.distribution.manifest.v2+json")

    ref = f"{anonymous_registry.address}/nbdock/evil:1"
    pull(store, ref)
    assert read_file(store, store.get(ref).id, "tmp/nbdock-escaped") == b"bad"
    assert not os.path.exists("/tmp/nbdock-escaped")
    assert os.listdir(store.tmp_dir) == []


def test_docker_hub_images_come_from_the_mirror(store, seeded_registry):
    config = RegistryConfig(mirrors=[f"http://{seeded_registry.address}"], offline=True)
    messages = pull(store, "busybox", config)
    assert messages[0] == {"status": "Pulling from library/busybox", "id": "latest"}
    assert messages[-1] == {"status": "Status: Downloaded newer image for busybox:latest"}
    assert store.get("docker.io/library/busybox:latest").repo_tags == ["busybox:latest"]


def test_offline_never_reaches_docker_hub(store):
    with pytest.raises(RegistryError, match='"https://registry-1.docker.io/v2/": nbdock is offline'):
        pull(store, "alpine")


def test_at_most_three_layers_download_at_once(store, anonymous_registry, new_image, tmp_path):
    address = anonymous_registry.address
    image = None
    for index in range(5):
        image = new_image({f"layer{index}": os.urandom(2048)}, base=image)
    store.tag(image, f"{address}/nbdock/five:1")
    push(store, f"{address}/nbdock/five:1")

    from nbdock.image.store import ImageStore

    messages = pull(ImageStore(str(tmp_path / "fresh")), f"{address}/nbdock/five:1")
    downloading, most = set(), 0
    for message in messages:
        if message["status"] == "Downloading":
            downloading.add(message["id"])
        elif message["status"] == "Download complete":
            downloading.discard(message["id"])
        most = max(most, len(downloading))
    assert most <= 3
    waiting = [message["id"] for message in messages if message["status"] == "Waiting"]
    assert len(waiting) == 2  # the fourth and fifth layers queue behind the first three
