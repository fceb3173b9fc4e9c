"""Which URLs a registry name means: HTTPS or HTTP, mirrors, offline."""

import pytest

from nbdock.errors import InvalidArgument
from nbdock.registry import RegistryConfig
from nbdock.registry.config import Endpoint, server_domain


def test_loopback_registries_are_insecure_and_tried_over_https_then_http():
    config = RegistryConfig()
    for domain in ("localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"):
        assert config.endpoints(domain) == [
            Endpoint(f"https://{domain}", verify_tls=False),
            Endpoint(f"http://{domain}", verify_tls=False),
        ]


def test_other_registries_need_verified_https():
    config = RegistryConfig()
    assert config.endpoints("ghcr.io") == [Endpoint("https://ghcr.io", verify_tls=True)]
    assert config.endpoints("10.0.0.5:5000") == [Endpoint("https://10.0.0.5:5000", verify_tls=True)]


def test_insecure_registries_by_name_and_by_cidr():
    config = RegistryConfig(insecure_registries=["registry.lan:5000", "10.0.0.0/8"])
    assert config.is_insecure("registry.lan:5000")
    assert config.is_insecure("10.1.2.3:443")
    assert not config.is_insecure("registry.lan:6000")
    assert not config.is_insecure("11.0.0.1")


def test_docker_hub_goes_to_registry_1_with_mirrors_first_for_pulls_only():
    config = RegistryConfig(mirrors=["http://127.0.0.1:5001", "https://mirror.example"])
    assert config.endpoints("docker.io") == [
        Endpoint("http://127.0.0.1:5001", verify_tls=False, is_mirror=True),
        Endpoint("https://mirror.example", verify_tls=True, is_mirror=True),
        Endpoint("https://registry-1.docker.io", verify_tls=True),
    ]
    assert config.endpoints("docker.io", for_push=True) == [Endpoint("https://registry-1.docker.io", verify_tls=True)]


def test_offline_allows_only_this_machine():
    config = RegistryConfig(offline=True)
    assert config.allows("http://127.0.0.1:5000/v2/")
    assert config.allows("https://localhost/v2/")
    assert not config.allows("https://registry-1.docker.io/v2/")
    assert RegistryConfig().allows("https://registry-1.docker.io/v2/")


def test_login_server_spellings():
    for hub in ("", "docker.io", "https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"):
        assert server_domain(hub) == "docker.io"
    assert server_domain("http://127.0.0.1:5000/") == "127.0.0.1:5000"
    assert server_domain("localhost:5000") == "localhost:5000"


def test_bad_settings_are_refused():
    with pytest.raises(InvalidArgument, match="invalid registry mirror"):
        RegistryConfig(mirrors=["mirror.example"])
    with pytest.raises(InvalidArgument, match="invalid insecure registry"):
        RegistryConfig(insecure_registries=["10.0.0.0/99"])
