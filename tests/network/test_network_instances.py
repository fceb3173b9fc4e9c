"""Several nbdock instances on one host: each keeps to its own names, subnets, rules and ports.

The first tests read the naming rule (no root needed); the others run two
NetworkManagers with different data roots side by side against the real
kernel, with network namespaces made by the test standing in for containers.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import urllib.request
from ipaddress import IPv4Network

import pytest

from nbdock.network import NetworkManager, instance
from nbdock.network.errors import NetworkHostError
from nbdock.network.instance import HostNames

sys.path.insert(0, os.path.dirname(__file__))
from network_helpers import crash_a_daemon, host_state, listening, wait_for_port, without_counters  # noqa: E402

AN_ID = "0123456789abcdef" * 4  # a network or endpoint id
HTTP_SERVER = (
    "import http.server,sys; "
    "http.server.HTTPServer(('0.0.0.0', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()"
)


# ---------------------------------------------------------------------------
# The naming rule


def test_the_default_data_root_keeps_the_plain_names():
    for spelling in ("/var/lib/nbdock", "/var/lib/nbdock/", "/var/lib/../lib/nbdock"):
        names = HostNames.for_data_root(spelling)
        assert names.tag == "" and names.default_bridge == "nbdock0"
    assert names.user_bridge(AN_ID) == "nb-0123456789ab"
    assert names.veth_pair(AN_ID) == ("nbv0123456789ab", "nbp0123456789ab")
    assert [chain for _table, chain in names.chains.all()] == [
        "NBDOCK-ISOLATION-2", "NBDOCK-ISOLATION-1", "NBDOCK-FORWARD", "NBDOCK", "NBDOCK-POSTROUTING"]


def test_the_tag_is_a_hash_of_the_absolute_data_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = hashlib.sha256(f"{tmp_path}/root".encode()).hexdigest()[:5]
    for spelling in ("root", "./root/", f"{tmp_path}/root", f"{tmp_path}/x/../root"):
        assert HostNames.for_data_root(spelling).tag == expected
    names = HostNames(expected)
    assert names.default_bridge == f"nbdock0-{expected}"
    assert names.user_bridge(AN_ID) == f"nb-012345-{expected}"
    assert names.veth_pair(AN_ID) == (f"nbv012345-{expected}", f"nbp012345-{expected}")
    assert names.chains.forward == f"NBDOCK-FORWARD-{expected}" and names.chains.dnat == f"NBDOCK-{expected}"
    assert HostNames.for_data_root(f"{tmp_path}/other").tag != expected


@pytest.mark.parametrize("data_root", ["/var/lib/nbdock", "/tmp/a", "/srv/" + "very-long-path/" * 20])
def test_every_name_fits_the_kernels_limits(data_root):
    names = HostNames.for_data_root(data_root)
    links = [names.default_bridge, names.user_bridge("f" * 64), *names.veth_pair("f" * 64)]
    assert all(len(link) <= instance.MAX_IFNAME for link in links), links
    assert all(link.startswith(instance.LINK_PREFIX) for link in links)
    chains = [chain for _table, chain in names.chains.all()]
    assert all(len(chain) <= instance.MAX_CHAIN_NAME for chain in chains), chains


def test_each_instance_owns_its_own_links_and_no_one_elses():
    default, first, second = HostNames(""), HostNames("3fa9c"), HostNames("b0b0b")
    dockers = ["docker0", "br-0123456789ab", "veth1a2b3c4", "eth0", "lo", "nbd0"]
    for names in (default, first, second):
        own = [names.default_bridge, names.user_bridge(AN_ID), *names.veth_pair(AN_ID)]
        assert all(names.owns_link(link) for link in own)
        others = [n for n in (default, first, second) if n != names]
        for other in others:
            assert not any(other.owns_link(link) for link in own), (names, other)
        assert not any(names.owns_link(link) for link in dockers)


# ---------------------------------------------------------------------------
# Two managers side by side


@pytest.fixture
def managers(tmp_path, host_resolv_conf):
    """``managers("a")`` -> a started NetworkManager on its own data root; all are shut down at the end."""
    made: list[NetworkManager] = []

    def make(name: str) -> NetworkManager:
        manager = NetworkManager(str(tmp_path / name), host_resolv_conf=host_resolv_conf)
        manager.start()
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.shutdown()
        assert host_state(manager.host_names) == ([], [])


def plug(manager, namespaces, network, name):
    """A stand-in container on ``network``: (namespace, endpoint)."""
    ns = namespaces()
    endpoint = manager.connect(network, os.urandom(32).hex(), name=name)
    manager.setup_loopback(ns.path)
    manager.plug(endpoint, ns.path)
    return ns, endpoint


def ping(ns, address) -> bool:
    return ns.run("busybox", "ping", "-c", "1", "-W", "1", str(address)).returncode == 0


def udp_delivered(sender_ns, receiver_ns, address, port) -> bool:
    """Whether a datagram sent from ``sender_ns`` to address:port arrives in ``receiver_ns`` (UDP needs no reply)."""
    receive = ("import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
               "s.bind(('0.0.0.0', int(sys.argv[1]))); s.settimeout(3); sys.stdout.write(s.recvfrom(100)[0].decode())")
    receiver = subprocess.Popen(["nsenter", f"--net={receiver_ns.path}", "python3", "-c", receive, str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_for_port(receiver_ns, port, "udp")
        send = ("import socket,sys;"
                "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'hello', (sys.argv[1], int(sys.argv[2])))")
        assert sender_ns.run("python3", "-c", send, address, str(port)).returncode == 0
        return receiver.communicate(timeout=10)[0] == "hello"
    finally:
        receiver.kill()
        receiver.wait()


def subnets(manager) -> list[IPv4Network]:
    return [IPv4Network(n["IPAM"]["Config"][0]["Subnet"]) for n in manager.list() if n["Driver"] == "bridge"]


def assert_disjoint(subnet_list):
    for i, one in enumerate(subnet_list):
        for other in subnet_list[i + 1:]:
            assert not one.overlaps(other), (one, other)


@pytest.mark.root
def test_stopping_one_instance_leaves_the_others_bridges_rules_and_traffic(managers, namespaces):
    a, b = managers("a"), managers("b")
    a.create("nbtest-a")
    b.create("nbtest-b")
    a_ns, a_ep = plug(a, namespaces, "nbtest-a", "a1")
    a_bridge_ns, a_bridge_ep = plug(a, namespaces, "bridge", "a2")
    b_ns, b_ep = plug(b, namespaces, "nbtest-b", "b1")
    b_peer_ns, b_peer_ep = plug(b, namespaces, "nbtest-b", "b2")
    b_bridge_ns, b_bridge_ep = plug(b, namespaces, "bridge", "b3")
    assert a.host_names.default_bridge != b.host_names.default_bridge
    assert_disjoint(subnets(a) + subnets(b))
    links_a, _ = host_state(a.host_names)
    links_b, _ = host_state(b.host_names)
    assert a_ep.host_ifname in links_a and b_ep.host_ifname in links_b and not set(links_a) & set(links_b)

    # Each instance's containers reach their own network...
    assert ping(a_ns, a_ep.gateway) and ping(a_bridge_ns, a_bridge_ep.gateway)
    assert ping(b_ns, b_peer_ep.ip_address) and ping(b_bridge_ns, b_bridge_ep.gateway)
    # ... and nothing of the other instance's, as two networks of one instance.
    assert not ping(a_ns, b_ep.ip_address) and not ping(b_ns, a_ep.ip_address)
    assert not ping(a_bridge_ns, b_bridge_ep.ip_address) and not ping(b_bridge_ns, a_bridge_ep.ip_address)

    links_before, rules_before = host_state(b.host_names)
    a.shutdown()
    assert host_state(a.host_names) == ([], [])
    links_after, rules_after = host_state(b.host_names)
    assert links_after == links_before and without_counters(rules_after) == without_counters(rules_before)
    assert ping(b_ns, b_peer_ep.ip_address) and ping(b_ns, b_ep.gateway) and ping(b_bridge_ns, b_bridge_ep.gateway)


@pytest.mark.root
def test_a_crashed_instance_is_cleaned_up_by_its_restart_and_by_no_one_else(
    tmp_path, managers, namespaces, host_resolv_conf
):
    crashed_root = str(tmp_path / "crashed")
    crashed_names = HostNames.for_data_root(crashed_root)
    port, host_veth = crash_a_daemon(crashed_root, host_resolv_conf, namespaces())
    leftovers = host_state(crashed_names)
    assert host_veth in leftovers[0] and any(f"--dport {port}" in rule for rule in leftovers[1])

    survivor = managers("survivor")  # starting another instance removes none of the crashed one's state
    survivor.create("nbtest-survivor")
    ns, endpoint = plug(survivor, namespaces, "nbtest-survivor", "s1")
    assert without_counters(host_state(crashed_names)[1]) == without_counters(leftovers[1])
    assert host_state(crashed_names)[0] == leftovers[0]

    links_before, rules_before = host_state(survivor.host_names)
    restarted = NetworkManager(crashed_root, host_resolv_conf=host_resolv_conf)
    restarted.start()  # finds the crashed run's leftovers by its tag
    try:
        links, rules = host_state(crashed_names)
        assert host_veth not in links and not any(f"--dport {port}" in rule for rule in rules)
        links_after, rules_after = host_state(survivor.host_names)
        assert links_after == links_before and without_counters(rules_after) == without_counters(rules_before)
        assert ping(ns, endpoint.gateway)
    finally:
        restarted.shutdown()
    assert host_state(crashed_names) == ([], [])


@pytest.mark.root
def test_instances_starting_and_creating_at_once_never_share_a_subnet(tmp_path, host_resolv_conf):
    started = [NetworkManager(str(tmp_path / name), host_resolv_conf=host_resolv_conf) for name in "abc"]
    errors: list[BaseException] = []

    def run_together(work) -> None:
        barrier = threading.Barrier(len(started))

        def thread_main(manager, index):
            barrier.wait()
            try:
                work(manager, index)
            except BaseException as err:  # reported below, on the test's thread
                errors.append(err)

        threads = [threading.Thread(target=thread_main, args=(m, i)) for i, m in enumerate(started)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []

    try:
        run_together(lambda manager, _: manager.start())
        for round_number in range(3):
            run_together(lambda manager, index: manager.create(f"nbtest-race-{index}-{round_number}"))
        all_subnets = [subnet for manager in started for subnet in subnets(manager)]
        assert len(all_subnets) == 3 * 4
        assert_disjoint(all_subnets)
    finally:
        for manager in started:
            manager.shutdown()
            assert host_state(manager.host_names) == ([], [])


@pytest.mark.root
def test_a_restarted_instance_moves_off_a_subnet_taken_while_it_was_down(managers, tmp_path, host_resolv_conf):
    first = NetworkManager(str(tmp_path / "first"), host_resolv_conf=host_resolv_conf)
    first.start()
    try:
        network_id = first.create("nbtest-moving")["Id"]
        old_subnet = first.get(network_id)["IPAM"]["Config"][0]["Subnet"]
    finally:
        first.shutdown()
    other = managers("other")
    other.create("nbtest-taker", subnet=old_subnet)  # free now: the first instance is down
    first.start()
    try:
        moved = first.get(network_id)["IPAM"]["Config"][0]
        assert moved["Subnet"] != old_subnet and moved["Gateway"] == str(IPv4Network(moved["Subnet"])[1])
        assert_disjoint(subnets(first) + subnets(other))
    finally:
        first.shutdown()


@pytest.mark.root
def test_no_instance_lets_another_instances_container_reach_its_published_port(managers, namespaces):
    """Not even one way: a published port's ACCEPT rule must not let in a packet from another instance's bridge."""
    b = managers("b")  # started first: a's FORWARD jump sits above b's, so a's rules see the packets first
    a = managers("a")
    a.create("nbtest-a")
    b.create("nbtest-b")
    server_ns, server_ep = plug(a, namespaces, "nbtest-a", "server")
    neighbour_ns, _ = plug(a, namespaces, "nbtest-a", "neighbour")
    stranger_ns, _ = plug(b, namespaces, "nbtest-b", "stranger")
    # On every address: a's FORWARD chain now accepts packets for the container's port 5000.
    a.publish(server_ep.container_id, server_ep, {"5000/udp": [{"HostPort": ""}]}, [], False)
    assert udp_delivered(neighbour_ns, server_ns, server_ep.ip_address, 5000)
    assert not udp_delivered(stranger_ns, server_ns, server_ep.ip_address, 5000)


@pytest.mark.root
def test_a_port_one_instance_publishes_is_already_allocated_for_the_other(managers, namespaces):
    a, b = managers("a"), managers("b")
    a.create("nbtest-a")
    b.create("nbtest-b")
    server_ns, server_ep = plug(a, namespaces, "nbtest-a", "server")
    _, other_ep = plug(b, namespaces, "nbtest-b", "other")
    server = server_ns.start("python3", "-c", HTTP_SERVER, "80")
    try:
        wait_for_port(server_ns, 80)
        bindings = a.publish(server_ep.container_id, server_ep, {"80/tcp": [{"HostPort": ""}]}, ["80/tcp"], False)
        port = int(bindings["80/tcp"][0]["HostPort"])
        rules_before = host_state(b.host_names)[1]
        with pytest.raises(NetworkHostError, match=f"Bind for 0.0.0.0:{port} failed: port is already allocated"):
            b.publish(other_ep.container_id, other_ep, {"80/tcp": [{"HostPort": str(port)}]}, ["80/tcp"], False)
        assert without_counters(host_state(b.host_names)[1]) == without_counters(rules_before)
        # The first instance's port still works.
        assert listening(port)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status == 200
    finally:
        server.kill()
        server.wait()
