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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI every service is started, so a test that skips is a test that silently did not run.

    Skips still say why (the missing service or tool, by name); under CI=... they fail instead --
    except the ones whose reason starts with "host: ", which are about the machine itself (its cgroup
    version, its byte order) and so hold wherever CI runs.
    """
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if reason.removeprefix("Skipped: ").startswith("host: "):
            return
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where every service and tool is installed and started: {reason}"


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


@pytest.fixture(scope="session")
def nbdock_host(tmp_path_factory):
    """unix:// address of an nbdock daemon started for this test session.

    NBDOCK_TEST_HOST points the tests at an already running daemon instead.
    The daemon is ended by its pid (SIGTERM, then SIGKILL) when the session ends.
    """
    import signal
    import subprocess
    import sys
    import time

    if os.environ.get("NBDOCK_TEST_HOST"):
        yield os.environ["NBDOCK_TEST_HOST"]
        return
    base = tmp_path_factory.mktemp("nbdockd")
    socket_path = base / "nbdock.sock"
    log = open(base / "daemon.log", "w")
    process = subprocess.Popen(
        # --offline: tests never reach a registry on the internet; busybox comes from the host.
        [sys.executable, "-m", "nbdock", "daemon", "--host", f"unix://{socket_path}", "--data-root", str(base / "root"),
         "--offline"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    host = f"unix://{socket_path}"
    deadline = time.time() + 60
    while not _pings(str(socket_path)):
        if process.poll() is not None or time.time() > deadline:
            log.flush()
            pytest.fail(f"nbdock daemon did not start:\n{(base / 'daemon.log').read_text()[-3000:]}")
        time.sleep(0.1)
    # The embedded default, made now from the host's busybox (the daemon is offline): tests that
    # run busybox then see what a user sees the second time, not the first pull's messages.
    import docker

    client = docker.APIClient(base_url=host, version="auto")
    for _ in client.pull("busybox", tag="latest", stream=True, decode=True):
        pass
    client.close()
    yield host
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def _pings(socket_path: str) -> bool:
    import socket

    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(socket_path)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: nbdock\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@pytest.fixture(scope="session")
def docker_cli():
    """``docker_cli(host, *args)``: the real docker CLI against ``host`` (classic builder), its result;
    a non-zero exit fails the test with the CLI's stderr unless ``check=False``."""
    import subprocess

    def run(host: str, *args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(["docker", *args], env={**os.environ, "DOCKER_HOST": host, "DOCKER_BUILDKIT": "0"},
                                capture_output=True, input=input, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr.decode()}")
        return result

    return run
