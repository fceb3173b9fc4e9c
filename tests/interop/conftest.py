"""Cross-engine fixtures: a plain-HTTP registry on 127.0.0.1 that both engines push to and pull from."""

import os
import socket
import subprocess
import time

import pytest

REGISTRY_BINARY = "/usr/bin/docker-registry"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """``127.0.0.1:<port>`` of a docker-registry (distribution 2.8) started for these tests."""
    if not os.path.exists(REGISTRY_BINARY):
        pytest.fail("docker-registry is not installed (apt-get install docker-registry)")
    base = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = base / "config.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {base}/data\n"
                      f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
    log = open(base / "registry.log", "w")
    process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                pytest.fail(f"docker-registry did not start: {(base / 'registry.log').read_text()}")
            time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(10)
    log.close()
