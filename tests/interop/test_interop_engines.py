"""Images cross between nbdock and Docker both ways: through a registry, and through save/load.

Every step goes through the real docker CLI, once against each engine's daemon.
"""

import os
import subprocess
import uuid

import pytest

pytestmark = [pytest.mark.root, pytest.mark.docker]


def docker(host, *args, input=None, check=True):
    env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")
    result = subprocess.run(["docker", "-H", host, *args], input=input, capture_output=True, env=env, timeout=180)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stderr.decode()}")
    return result


def _commit_with_whiteout(host, name):
    """An image whose top layer deletes a busybox file (a whiteout) and adds one."""
    container = f"mk-{uuid.uuid4().hex[:8]}"
    docker(host, "run", "--name", container, "busybox", "sh", "-c", "rm /bin/vi && echo crossed > /crossed")
    docker(host, "commit", container, name)
    docker(host, "rm", container)


def _check_image(host, name):
    result = docker(host, "run", "--rm", name, "sh", "-c", "cat /crossed; ls /bin/vi 2>/dev/null || echo vi-gone")
    assert result.stdout.decode().split() == ["crossed", "vi-gone"]


@pytest.mark.parametrize("source,target", [("nbdock", "docker"), ("docker", "nbdock")])
def test_push_on_one_engine_pull_and_run_on_the_other(nbdock_host, ref_docker_host, registry, source, target):
    hosts = {"nbdock": nbdock_host, "docker": ref_docker_host}
    name = f"{registry}/interop/{source}-made:{uuid.uuid4().hex[:6]}"
    _commit_with_whiteout(hosts[source], name)
    pushed = docker(hosts[source], "push", name).stdout.decode()
    assert "digest: sha256:" in pushed
    docker(hosts[target], "rmi", "-f", name, check=False)
    docker(hosts[target], "pull", name)
    _check_image(hosts[target], name)
    for host in hosts.values():
        docker(host, "rmi", "-f", name, check=False)


@pytest.mark.parametrize("source,target", [("nbdock", "docker"), ("docker", "nbdock")])
def test_save_on_one_engine_load_and_run_on_the_other(nbdock_host, ref_docker_host, tmp_path, source, target):
    hosts = {"nbdock": nbdock_host, "docker": ref_docker_host}
    name = f"interop-archive-{source}:{uuid.uuid4().hex[:6]}"
    _commit_with_whiteout(hosts[source], name)
    archive = tmp_path / "image.tar"
    docker(hosts[source], "save", "-o", str(archive), name)
    loaded = docker(hosts[target], "load", "-i", str(archive)).stdout.decode()
    assert f"Loaded image: {name}" in loaded
    _check_image(hosts[target], name)
    for host in hosts.values():
        docker(host, "rmi", "-f", name, check=False)
