"""Fixtures of the client tests: a daemon (tests/conftest.py's nbdock_host), the CLI, an IPython shell.

Every container, image, volume and network a test names through ``names``
is removed after it, whatever happened.
"""

import subprocess
import sys
import uuid

import docker
import pytest


@pytest.fixture(scope="session")
def api(nbdock_host):
    client = docker.APIClient(base_url=nbdock_host, version="auto")
    yield client
    client.close()


@pytest.fixture(scope="session")
def nbdock_endpoints(api):
    """Skip when the fixture points at the reference dockerd: the /nbdock/v1 views need nbdock's daemon."""
    components = [component.get("Name") for component in api.version().get("Components") or []]
    if "containerd" in components or "Docker Engine" in (api.version().get("Platform") or {}).get("Name", ""):
        pytest.skip("this daemon is Docker's, which has no /nbdock/v1 endpoints")


class DaemonObjects:
    """What the daemon holds (containers, images, volumes, networks): to remove what a run added to it."""

    def __init__(self, api: docker.APIClient):
        self.api = api

    def now(self) -> dict[str, list[str]]:
        api = self.api
        return {
            "containers": [container["Id"] for container in api.containers(all=True)],
            # Newest first: an image's children go before it, or removing it would be refused.
            "images": [image["Id"] for image in sorted(api.images(all=True), key=lambda image: -image["Created"])],
            "volumes": [volume["Name"] for volume in api.volumes().get("Volumes") or []],
            "networks": [network["Id"] for network in api.networks()],
        }

    def remove_new(self, before: dict[str, list[str]]) -> dict[str, list[str]]:
        """Remove what appeared since ``before`` (containers first: they hold images, volumes, networks); return it."""
        api = self.api
        new = {kind: [name for name in names if name not in before[kind]] for kind, names in self.now().items()}
        removers = {"containers": lambda id_: api.remove_container(id_, force=True, v=True),
                    "images": lambda id_: api.remove_image(id_, force=True),
                    "volumes": lambda name: api.remove_volume(name, force=True),
                    "networks": api.remove_network}
        for kind, remove in removers.items():
            for name in new[kind]:
                _ignore_missing(remove, name)  # an image may already be gone with its child
        return new


@pytest.fixture(scope="session")
def daemon_objects(api):
    return DaemonObjects(api)


class Names:
    """Unique names for what a test creates, so it can all be removed afterwards."""

    def __init__(self):
        self.prefix = f"nbt{uuid.uuid4().hex[:8]}"
        self.count = 0
        self.created = {"container": [], "image": [], "volume": [], "network": []}

    def __call__(self, kind: str) -> str:
        self.count += 1
        name = f"{self.prefix}-{kind[0]}{self.count}"
        self.created[kind].append(f"{name}:latest" if kind == "image" else name)
        return name


@pytest.fixture
def names(api):
    made = Names()
    yield made
    for name in made.created["container"]:
        _ignore_missing(api.remove_container, name, force=True, v=True)
    for name in made.created["image"]:
        _ignore_missing(api.remove_image, name, force=True)
    for name in made.created["volume"]:
        _ignore_missing(api.remove_volume, name, force=True)
    for name in made.created["network"]:
        _ignore_missing(api.remove_network, name)


def _ignore_missing(action, *args, **kwargs):
    try:
        action(*args, **kwargs)
    except docker.errors.NotFound:
        pass


@pytest.fixture
def nbdock_cli(nbdock_host):
    """Run ``python -m nbdock -H HOST ...``; returns the CompletedProcess (text)."""

    def run(*args, input=None, timeout=120):
        return subprocess.run(
            [sys.executable, "-m", "nbdock", "-H", nbdock_host, *args],
            input=input, capture_output=True, text=True, timeout=timeout,
        )

    return run


@pytest.fixture
def shell(nbdock_host):
    """An IPython shell with ``%load_ext nbdock`` done and the test daemon configured."""
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()  # one InteractiveShell for the session, as in a kernel
    ip.run_line_magic("load_ext", "nbdock")
    ip.run_line_magic("config", f'NbdockMagics.host = "{nbdock_host}"')
    ip.run_line_magic("config", "NbdockMagics.show_api = False")
    yield ip
