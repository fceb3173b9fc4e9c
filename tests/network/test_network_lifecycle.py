"""Start, shutdown and recovery from a crash: nbdock leaves nothing on the host.

Each test runs its own managers on its own data root, one at a time.
"""

from __future__ import annotations

import os
import sys

import pytest

from nbdock.network import NetworkManager
from nbdock.network.instance import HostNames

sys.path.insert(0, os.path.dirname(__file__))
from network_helpers import crash_a_daemon, host_state, listening  # noqa: E402

pytestmark = pytest.mark.root

RESOLVER_SOCKET = "0B00007F:0035"  # 127.0.0.11:53 as /proc/net/udp shows it


@pytest.fixture
def data_root(tmp_path, host_resolv_conf):
    return str(tmp_path / "data-root")


def test_shutdown_removes_everything_and_start_restores_the_networks(data_root, host_resolv_conf, namespaces):
    first = NetworkManager(data_root, host_resolv_conf=host_resolv_conf)
    first.start()
    try:
        network_id = first.create("nbtest-persist", subnet="10.215.0.0/24")["Id"]
        bridge_id = first.get("bridge")["Id"]
        ns = namespaces()
        endpoint = first.connect("nbtest-persist", "c" * 64, name="kept")
        first.setup_loopback(ns.path)
        first.plug(endpoint, ns.path)
        port = int(first.publish("c" * 64, endpoint, {"80/tcp": [{"HostPort": ""}]}, ["80/tcp"], False)
                   ["80/tcp"][0]["HostPort"])
        assert listening(port) and RESOLVER_SOCKET in ns.run("cat", "/proc/net/udp").stdout
    finally:
        first.shutdown()
    names = first.host_names
    assert host_state(names) == ([], [])
    assert not listening(port)
    assert RESOLVER_SOCKET not in ns.run("cat", "/proc/net/udp").stdout
    assert ns.run("ip", "-o", "link").stdout.count("\n") == 1  # the container kept only lo

    second = NetworkManager(data_root, host_resolv_conf=host_resolv_conf)
    second.start()
    try:
        restored = second.get("nbtest-persist")
        assert restored["Id"] == network_id and restored["IPAM"]["Config"][0]["Subnet"] == "10.215.0.0/24"
        assert restored["Containers"] == {}  # endpoints do not outlive the daemon
        assert second.get("bridge")["Id"] == bridge_id
        assert second.host_names == names  # the same data root: the same names
        assert names.user_bridge(network_id) in host_state(names)[0]
        second.remove("nbtest-persist")
    finally:
        second.shutdown()
    assert host_state(names) == ([], [])


def test_start_removes_what_a_crashed_run_left(data_root, host_resolv_conf, namespaces):
    ns = namespaces()
    port, host_veth = crash_a_daemon(data_root, host_resolv_conf, ns)
    names = HostNames.for_data_root(data_root)
    links, rules = host_state(names)
    assert names.default_bridge in links and host_veth in links
    assert any(f"--dport {port}" in rule for rule in rules)

    manager = NetworkManager(data_root, host_resolv_conf=host_resolv_conf)
    manager.start()
    try:
        links, rules = host_state(names)
        assert host_veth not in links
        assert not any(f"--dport {port}" in rule for rule in rules)
        assert ns.run("ip", "-o", "link").stdout.count("\n") == 1
        assert manager.get("nbtest-crash")["Containers"] == {}
        # The crashed run's address is free again.
        again = manager.connect("nbtest-crash", "e" * 64, name="next")
        assert again.ip_address.endswith(".2")
        manager.disconnect("nbtest-crash", "e" * 64)
        manager.remove("nbtest-crash")
    finally:
        manager.shutdown()
    assert host_state(names) == ([], [])
