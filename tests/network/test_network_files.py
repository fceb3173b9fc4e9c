"""/etc/resolv.conf and /etc/hosts contents, as Docker writes them."""

import pytest

from nbdock.network import files
from nbdock.network.errors import InvalidNetworkArgument

HOST = "search corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n"


def test_user_defined_networks_use_the_embedded_resolver():
    text = files.container_resolv_conf(HOST, embedded_dns=True)
    assert text == "nameserver 127.0.0.11\nsearch corp.example\noptions edns0\noptions ndots:0\n"


def test_default_bridge_drops_loopback_nameservers():
    text = files.container_resolv_conf(HOST, embedded_dns=False)
    assert files.nameservers(text) == ["10.0.0.2"]
    assert "search corp.example" in text


def test_only_loopback_nameservers_fall_back_to_dockers_defaults():
    text = files.container_resolv_conf("nameserver 127.0.0.53\n", embedded_dns=False)
    assert files.nameservers(text) == ["8.8.8.8", "8.8.4.4"]


def test_hosts_file_matches_docker():
    extras = [files.parse_extra_host("foo:1.2.3.4", None)]
    text = files.container_hosts_file("myhost", "example.org", ["172.17.0.2"], extras)
    assert text == (
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
        "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
        "1.2.3.4\tfoo\n172.17.0.2\tmyhost.example.org myhost\n"
    )


def test_host_gateway_and_bad_extra_hosts():
    assert files.parse_extra_host("gw:host-gateway", "172.18.0.1") == ("gw", "172.18.0.1")
    assert files.parse_extra_host("v6:::1", None) == ("v6", "::1")
    with pytest.raises(InvalidNetworkArgument, match="'nope'"):
        files.parse_extra_host("x:nope", None)
    with pytest.raises(InvalidNetworkArgument, match="NAME:IP"):
        files.parse_extra_host("justaname", None)
