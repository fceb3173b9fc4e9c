"""``docker system df``: a layer two images share is on disk once, and counted once.

Two images built FROM busybox stand on one busybox layer directory. Docker's
/system/df reports LayersSize as the sum of the distinct layers, each image's
Size as its full size, and SharedSize as the bytes of its layers another image
also uses; the docker CLI's "Images" SIZE is LayersSize. The same steps run
against nbdock and, when NBDOCK_REF_DOCKER_HOST is set, against Docker itself.
"""

from __future__ import annotations

import io
import uuid

import docker
import pytest

pytestmark = pytest.mark.root


def _build(client: docker.DockerClient, tag: str, kilobytes: int) -> dict:
    """An image FROM busybox with one layer of its own (``kilobytes`` of zeros); its /images/json summary."""
    dockerfile = f"FROM busybox\nRUN dd if=/dev/zero of=/filler bs=1024 count={kilobytes}\n"
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return _summary(client.df(), tag)


def _summary(usage: dict, tag: str) -> dict:
    return next(image for image in usage["Images"] if tag in (image.get("RepoTags") or []))


def _layers_counted_once(host: str) -> None:
    client = docker.DockerClient(base_url=host, timeout=120)
    tags = [f"pytest-df-{uuid.uuid4().hex[:8]}:{n}" for n in ("a", "b")]
    try:
        before = client.df()
        busybox = _summary(before, "busybox:latest")
        first = _build(client, tags[0], 300)
        second = _build(client, tags[1], 500)
        after = client.df()
        first, second = _summary(after, tags[0]), _summary(after, tags[1])
        own = [first["Size"] - busybox["Size"], second["Size"] - busybox["Size"]]
        assert own[0] >= 300 * 1024 and own[1] >= 500 * 1024
        # Only the two new layers are new bytes on disk: busybox's layer was already counted.
        assert after["LayersSize"] - before["LayersSize"] == sum(own)
        assert after["LayersSize"] < sum(image["Size"] for image in after["Images"])
        # Each image keeps its full size; what it shares with the others is busybox.
        for image in (first, second):
            assert image["SharedSize"] == busybox["Size"]
        assert _summary(after, "busybox:latest")["SharedSize"] == busybox["Size"]
    finally:
        for tag in tags:
            try:
                client.images.remove(tag, force=True)
            except docker.errors.ImageNotFound:
                pass
        client.close()


def test_shared_layer_counted_once(nbdock_host):
    _layers_counted_once(nbdock_host)


def test_shared_layer_counted_once_by_docker(ref_docker_host):
    """The same assertions hold for Docker 20.10: they describe Docker, not nbdock."""
    _layers_counted_once(ref_docker_host)
