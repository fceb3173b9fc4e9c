"""Finding the daemon, starting one, watching requests, registry credentials."""

import os
import signal

import pytest

import nbdock.daemon
from nbdock.client import connection as connection_module
from nbdock.client.connection import Connection, answers, resolve_host, start_embedded_daemon
from nbdock.errors import HostError, InvalidArgument
from nbdock.registry import credentials


def test_host_resolution_order(monkeypatch):
    monkeypatch.delenv("NBDOCK_HOST", raising=False)
    assert resolve_host() == "unix:///run/nbdock/nbdock.sock"
    monkeypatch.setenv("NBDOCK_HOST", "unix:///tmp/env.sock")
    assert resolve_host() == "unix:///tmp/env.sock"
    assert resolve_host("unix:///tmp/flag.sock") == "unix:///tmp/flag.sock"
    with pytest.raises(InvalidArgument, match="ftp://x"):
        resolve_host("ftp://x")


def test_nobody_answers_at_a_missing_socket(tmp_path):
    assert answers(f"unix://{tmp_path}/none.sock") is False


def test_registry_auth_comes_from_the_docker_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert Connection.registry_auth("localhost:5000/app:1") == {}  # sent as e30= ("{}"), like the CLI
    credentials.save("localhost:5000", "alice", "s3cret")
    assert Connection.registry_auth("localhost:5000/app:1") == {
        "username": "alice", "password": "s3cret", "serveraddress": "localhost:5000"}


@pytest.mark.root
def test_every_request_is_observed(nbdock_host):
    connection = Connection(nbdock_host)
    seen = []
    connection.observe(seen.append)
    connection.api.containers(all=True)
    connection.unobserve(seen.append)
    connection.api.images()
    connection.close()
    assert len(seen) == 1
    assert seen[0].method == "GET" and "/containers/json?" in seen[0].path and seen[0].status == 200
    assert str(seen[0]).endswith("-> 200 OK")


@pytest.mark.root
def test_embedded_daemon_starts_at_the_default_address(tmp_path, monkeypatch):
    host = f"unix://{tmp_path}/run/nbdock.sock"
    monkeypatch.setattr(connection_module, "DEFAULT_HOST", host)
    monkeypatch.setattr(connection_module, "DEFAULT_DATA_ROOT", str(tmp_path / "root"))
    monkeypatch.delenv("NBDOCK_HOST", raising=False)
    said = []
    connection = Connection.open(announce=said.append)
    pid = None
    try:
        assert said and said[0].startswith("nbdock: started the embedded daemon (pid ")
        pid = int(said[0].split("(pid ")[1].split(")")[0])
        # The announcement says where it is, that it outlives the client, where its log is, how to stop it.
        pid_file = tmp_path / "run" / "nbdock.pid"
        assert f") at {host}; it keeps running after this program ends." in said[0]
        assert f"Its log: {tmp_path}/root/daemon.log." in said[0]
        assert said[0].endswith(f"To stop it: kill $(cat {pid_file})")
        assert connection.api.ping()
        assert (tmp_path / "root" / "daemon.log").exists()
        assert pid_file.read_text().strip() == str(pid)
    finally:
        connection.close()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid)
    assert not (tmp_path / "run" / "nbdock.pid").exists()  # the daemon removes it when it stops


def _wait_gone(pid, timeout=30.0):
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            # Our own child (Popen in this process): reap it, or it stays a zombie that kill(pid, 0) still finds.
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def test_an_unusable_data_root_is_named(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(HostError, match=f"cannot create {blocker}/root"):
        start_embedded_daemon(f"unix://{tmp_path}/x.sock", str(blocker / "root"))
