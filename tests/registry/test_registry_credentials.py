"""Saved logins in ~/.docker/config.json, shared with the docker CLI."""

import base64
import json
import os
import stat

import pytest

from nbdock.errors import InvalidArgument
from nbdock.registry import AuthConfig, credentials


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dotdocker"))
    return tmp_path / "dotdocker" / "config.json"


def test_saved_as_the_docker_cli_saves_it(docker_config):
    credentials.save("localhost:5000", "alice", "s3cret")
    credentials.save("docker.io", "bob", "hunter2")
    saved = json.loads(docker_config.read_text())
    assert saved["auths"]["localhost:5000"] == {"auth": base64.b64encode(b"alice:s3cret").decode()}
    assert saved["auths"]["https://index.docker.io/v1/"] == {"auth": base64.b64encode(b"bob:hunter2").decode()}
    assert stat.S_IMODE(os.stat(docker_config).st_mode) == 0o600
    assert os.listdir(docker_config.parent) == ["config.json"]  # no temporary file left


def test_loaded_under_any_spelling_of_the_server(docker_config):
    credentials.save("http://localhost:5000/", "alice", "s3cret")
    expected = AuthConfig("alice", "s3cret", server_address="localhost:5000")
    assert credentials.load("localhost:5000") == expected
    credentials.save("https://index.docker.io/v1/", "bob", "pw")
    assert credentials.load("docker.io").username == "bob"
    assert credentials.load("ghcr.io") is None


def test_other_settings_in_the_file_are_kept(docker_config):
    docker_config.parent.mkdir()
    docker_config.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "eDp5"}}, "currentContext": "default"}))
    credentials.save("localhost:5000", "alice", "s3cret")
    assert credentials.remove("ghcr.io")
    saved = json.loads(docker_config.read_text())
    assert saved["currentContext"] == "default"
    assert list(saved["auths"]) == ["localhost:5000"]


def test_logout_of_an_unknown_server(docker_config):
    assert credentials.remove("localhost:5000") is False
    assert not docker_config.exists()


def test_identity_token_replaces_the_password(docker_config):
    credentials.save("localhost:5000", "alice", "s3cret", identity_token="refresh-me")
    loaded = credentials.load("localhost:5000")
    assert (loaded.username, loaded.password, loaded.identity_token) == ("alice", "", "refresh-me")


def test_broken_config_file_is_reported(docker_config):
    docker_config.parent.mkdir()
    docker_config.write_text("{not json")
    with pytest.raises(InvalidArgument, match="config.json is not valid JSON"):
        credentials.load("localhost:5000")
    with pytest.raises(InvalidArgument, match="may not contain ':'"):
        credentials.save("localhost:5000", "a:b", "pw")
