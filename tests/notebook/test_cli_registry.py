"""push and pull through a registry on 127.0.0.1 (docker-registry, run for the test)."""

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

pytestmark = pytest.mark.root

REGISTRY_BINARY = "/usr/bin/docker-registry"


@contextlib.contextmanager
def running_registry(directory, auth=""):
    """``127.0.0.1:PORT`` of a registry: loopback, which Docker (and nbdock) speak to over plain HTTP."""
    if not os.path.exists(REGISTRY_BINARY):
        pytest.fail("docker-registry is not installed (apt-get install docker-registry)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = directory / "config.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {directory}/storage\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n  secret: nbdock-test\n{auth}")
    with open(directory / "log", "w") as log:
        process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    pytest.fail(f"docker-registry did not start: {(directory / 'log').read_text()[-2000:]}")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with running_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(scope="module")
def password_registry(tmp_path_factory):
    """A registry that wants alice's password (HTTP basic auth, an htpasswd file with a bcrypt hash)."""
    directory = tmp_path_factory.mktemp("registry-basic")
    (directory / "htpasswd").write_text(f"alice:{bcrypt_hash('s3cret')}\n")
    auth = f"auth:\n  htpasswd:\n    realm: nbdock-test\n    path: {directory}/htpasswd\n"
    with running_registry(directory, auth) as address:
        yield address


def bcrypt_hash(password):
    """The registry's htpasswd only takes bcrypt; libxcrypt (libcrypt1) makes it."""
    libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt"))
    libcrypt.crypt_gensalt.restype = libcrypt.crypt.restype = ctypes.c_char_p
    libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return libcrypt.crypt(password.encode(), libcrypt.crypt_gensalt(b"$2b$", 5, None, 0)).decode()


def test_push_then_pull_back(nbdock_cli, names, registry, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no saved logins: X-Registry-Auth is "{}"
    name = names("image")
    remote = f"{registry}/{name}:1"
    names.created["image"].append(remote)
    assert nbdock_cli("tag", "busybox", remote).returncode == 0
    pushed = nbdock_cli("push", remote)
    assert pushed.returncode == 0, pushed.stderr
    assert "The push refers to repository" in pushed.stdout and "digest: sha256:" in pushed.stdout
    assert nbdock_cli("rmi", remote).returncode == 0
    pulled = nbdock_cli("pull", remote)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.endswith(f"{remote}\n") and "Digest: sha256:" in pulled.stdout
    assert nbdock_cli("run", "--rm", remote, "echo", "from the registry").stdout == "from the registry\n"


def test_pull_of_a_missing_image_fails_with_the_registrys_answer(nbdock_cli, registry):
    done = nbdock_cli("pull", f"{registry}/no-such-image:1")
    assert done.returncode == 1
    assert "no-such-image" in done.stderr or "not found" in done.stderr


def test_login_push_logout_keep_credentials_like_docker(nbdock_cli, names, password_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    remote = f"{password_registry}/{names('image')}:1"
    names.created["image"].append(remote)
    assert nbdock_cli("tag", "busybox", remote).returncode == 0
    refused = nbdock_cli("push", remote)
    assert refused.returncode == 1 and "auth" in refused.stderr.lower()
    wrong = nbdock_cli("login", "-u", "alice", "--password-stdin", password_registry, input="wrong\n")
    assert wrong.returncode == 1 and not (tmp_path / "config.json").exists()
    logged_in = nbdock_cli("login", "-u", "alice", "--password-stdin", password_registry, input="s3cret\n")
    assert (logged_in.returncode, logged_in.stdout) == (0, "Login Succeeded\n"), logged_in.stderr
    saved = json.loads((tmp_path / "config.json").read_text())
    assert list(saved["auths"]) == [password_registry]
    pushed = nbdock_cli("push", remote)  # the saved login travels in X-Registry-Auth
    assert pushed.returncode == 0, pushed.stderr
    assert nbdock_cli("logout", password_registry).stdout == f"Removing login credentials for {password_registry}\n"
    assert json.loads((tmp_path / "config.json").read_text())["auths"] == {}
