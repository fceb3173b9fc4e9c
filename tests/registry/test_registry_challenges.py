"""Credentials from clients and challenges from registries: pure parsing, no registry needed."""

import base64
import json

import pytest

from nbdock.errors import InvalidArgument
from nbdock.registry import AuthConfig, decode_auth_header
from nbdock.registry.challenges import Challenge, parse_challenges


def test_docker_hub_bearer_challenge_with_commas_inside_quotes():
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:samalba/my-app:pull,push"'
    )
    assert parse_challenges([header]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:samalba/my-app:pull,push",
            },
        )
    ]


def test_several_challenges_in_one_header_and_across_headers():
    headers = ['Basic realm="a", Bearer realm="https://t/x",error="insufficient_scope"', "Negotiate"]
    challenges = parse_challenges(headers)
    assert [c.scheme for c in challenges] == ["basic", "bearer", "negotiate"]
    assert challenges[0].params == {"realm": "a"}
    assert challenges[1].params == {"realm": "https://t/x", "error": "insufficient_scope"}


def test_escaped_quotes_and_unquoted_values():
    [challenge] = parse_challenges(['Basic realm="say \\"hi\\"", charset=UTF-8'])
    assert challenge.params == {"realm": 'say "hi"', "charset": "UTF-8"}


def _header(document) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def test_x_registry_auth_as_the_docker_cli_sends_it():
    header = _header({"username": "alice", "password": "p+/?=", "serveraddress": "localhost:5000"})
    assert decode_auth_header(header) == AuthConfig("alice", "p+/?=", "localhost:5000")
    # Go's decoder accepts missing padding; so do we.
    assert decode_auth_header(header.rstrip("=")) == AuthConfig("alice", "p+/?=", "localhost:5000")


def test_x_registry_auth_when_not_logged_in():
    assert decode_auth_header("e30=") == AuthConfig()  # "{}"
    assert decode_auth_header(None) is None
    assert decode_auth_header("") is None


def test_x_registry_auth_with_tokens_and_auth_field():
    header = _header({"auth": base64.b64encode(b"bob:pw:with:colons").decode(), "identitytoken": "refresh"})
    assert decode_auth_header(header) == AuthConfig("bob", "pw:with:colons", identity_token="refresh")
    assert decode_auth_header(_header({"registrytoken": "abc"})).registry_token == "abc"


@pytest.mark.parametrize("header", ["!!!not base64!!!", base64.urlsafe_b64encode(b"not json").decode(), _header([1])])
def test_malformed_x_registry_auth_is_refused(header):
    with pytest.raises(InvalidArgument, match="X-Registry-Auth"):
        decode_auth_header(header)
