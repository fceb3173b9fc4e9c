"""Fixtures shared by every test package.

The suite runs as root against the real kernel.  Tests that need the
reference Docker engine read its address from NBDOCK_REF_DOCKER_HOST (the CI
script starts a dockerd and sets it); tests that need a local registry start
their own on 127.0.0.1.
"""

import os
import shutil

import pytest


def pytest_collection_modifyitems(config, items):
    # Tests marked `root` cannot mean anything without root: fail loudly rather than skip.
    if os.geteuid() != 0:
        for item in items:
            if "root" in item.keywords:
                item.add_marker(pytest.mark.skip(reason="needs root (namespaces, mounts, cgroups)"))


@pytest.fixture(scope="session")
def ref_docker_host():
    """unix:// address of the reference dockerd, or skip when none is configured."""
    host = os.environ.get("NBDOCK_REF_DOCKER_HOST")
    if not host:
        if os.environ.get("CI"):
            pytest.fail("NBDOCK_REF_DOCKER_HOST is not set: .ci/run should have started dockerd")
        pytest.skip("no reference dockerd (set NBDOCK_REF_DOCKER_HOST)")
    return host


@pytest.fixture(scope="session")
def host_busybox():
    """Path of the host's static busybox binary."""
    path = shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(path):
        pytest.fail("busybox-static is not installed (apt-get install busybox-static)")
    return path
