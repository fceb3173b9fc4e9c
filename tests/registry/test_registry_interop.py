"""Interoperability with the reference Docker 20.10, both ways, through a real registry.

dockerd treats 127.0.0.0/8 registries as insecure, so it reaches the test
registry over plain HTTP exactly as nbdock does.
"""

import asyncio
import io
import os
import stat
import subprocess
import uuid

import pytest

from nbdock.registry import RegistryClient, RegistryConfig

pytestmark = [pytest.mark.root, pytest.mark.docker]

OFFLINE = RegistryConfig(offline=True)


@pytest.fixture
def dockerd(ref_docker_host):
    import docker

    client = docker.DockerClient(base_url=ref_docker_host, version="auto")
    yield client
    client.close()


def run(operation, store, ref):
    async def collect():
        client = RegistryClient(store, OFFLINE)
        return [message async for message in getattr(client, operation)(ref)]

    return asyncio.run(collect())


def test_dockerd_pulls_and_runs_what_nbdock_pushes(store, anonymous_registry, busybox_image, new_image, dockerd):
    repository = f"{anonymous_registry.address}/interop/from-nbdock"
    tag = uuid.uuid4().hex[:12]
    new_image({"hello.txt": b"hello from nbdock\n"}, base=busybox_image, tag=f"{repository}:{tag}")
    pushed = run("push", store, f"{repository}:{tag}")
    try:
        image = dockerd.images.pull(repository, tag=tag)
        assert f"{repository}@{pushed[-1]['aux']['Digest']}" in image.attrs["RepoDigests"]
        output = dockerd.containers.run(f"{repository}:{tag}", ["cat", "/hello.txt"], remove=True)
        assert output == b"hello from nbdock\n"
    finally:
        dockerd.images.remove(f"{repository}:{tag}", force=True)


@pytest.fixture
def dockerd_whiteout_image(anonymous_registry, dockerd):
    """An image dockerd built (deleting a busybox file, replacing a directory) and pushed: (ref, digest)."""
    repository = f"{anonymous_registry.address}/interop/from-dockerd"
    tag = uuid.uuid4().hex[:12]
    dockerfile = (
        "FROM busybox:latest\n"
        "RUN rm /bin/ls && echo hi > /hello && mkdir -p /d && touch /d/x\n"
        "RUN rm -rf /d && mkdir /d && touch /d/y\n"
    )
    dockerd.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=f"{repository}:{tag}", rm=True)
    try:
        pushed = list(dockerd.images.push(repository, tag=tag, stream=True, decode=True))
        [digest] = [message["aux"]["Digest"] for message in pushed if "aux" in message]
        yield f"{repository}:{tag}", digest
    finally:
        dockerd.images.remove(f"{repository}:{tag}", force=True)


def test_nbdock_pulls_a_dockerd_push_with_its_whiteouts(store, dockerd_whiteout_image, tmp_path):
    ref, docker_digest = dockerd_whiteout_image
    messages = run("pull", store, ref)
    assert {"status": f"Digest: {docker_digest}"} in messages
    image = store.get(ref)

    # In the store, the deletions are in overlayfs form: a 0/0 character device and an opaque directory.
    rm_layer, replace_layer = (store.layer_dir(diff_id) for diff_id in image.diff_ids[1:])
    whiteout = os.lstat(os.path.join(rm_layer, "bin/ls"))
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(os.path.join(replace_layer, "d"), "trusted.overlay.opaque") == b"y"

    # Mounted as overlayfs, the image shows what the Dockerfile left.
    root = tmp_path / "rootfs"
    root.mkdir()
    lowerdir = ":".join(store.lowerdirs(image.id))
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={lowerdir}", str(root)], check=True)
    try:
        assert not os.path.lexists(root / "bin/ls")
        assert os.path.lexists(root / "bin/cat")
        assert (root / "hello").read_bytes() == b"hi\n"
        assert os.listdir(root / "d") == ["y"]
    finally:
        subprocess.run(["umount", str(root)], check=True)


def test_repushing_a_dockerd_image_reproduces_its_manifest(store, dockerd_whiteout_image):
    ref, docker_digest = dockerd_whiteout_image
    run("pull", store, ref)
    copy = ref.replace("/from-dockerd:", "/copied-by-nbdock:")
    store.tag(store.get(ref).id, copy)
    pushed = run("push", store, copy)
    # Same compressed blobs, same config, manifest written byte for byte as Docker does: same digest.
    assert pushed[-1]["aux"]["Digest"] == docker_digest
