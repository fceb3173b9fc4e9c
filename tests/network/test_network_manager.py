"""NetworkManager against the real kernel: bridges, veths, DNS, isolation, published ports.

Network namespaces made with ``unshare --net`` stand in for containers.
One manager serves the whole module; its data root is a temporary directory,
so its names carry a tag and other nbdock daemons on the host are left alone.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from ipaddress import IPv4Address, IPv4Network

import pytest

from nbdock.network import NetworkManager
from nbdock.network.errors import (
    InvalidNetworkArgument,
    NetworkConflict,
    NetworkError,
    NetworkForbidden,
    NetworkHostError,
    NetworkNotFound,
)
from nbdock.runtime.trace import Trace, read_trace

from network_helpers import (
    UPSTREAM_ADDRESS, UPSTREAM_NAME, a_records, host_address, host_state, listening, query, wait_for_port,
    without_counters,
)

pytestmark = pytest.mark.root

HTTP_SERVER = "import http.server,sys; http.server.HTTPServer(('0.0.0.0', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()"
UDP_ECHO = "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('0.0.0.0',int(sys.argv[1])))\nwhile True:\n d,a=s.recvfrom(2048); s.sendto(b'echo:'+d,a)"


@pytest.fixture(scope="module")
def manager(tmp_path_factory, host_resolv_conf):
    nm = NetworkManager(str(tmp_path_factory.mktemp("data-root")), host_resolv_conf=host_resolv_conf)
    nm.start()
    yield nm
    nm.shutdown()
    links, rules = host_state(nm.host_names)
    assert links == [] and rules == [], (links, rules)


@pytest.fixture
def trace(tmp_path):
    with Trace(str(tmp_path / "trace.jsonl")) as t:
        yield t


@pytest.fixture
def network(manager):
    """A user-defined network with a unique name, removed afterwards."""
    made = []

    def make(**options):
        name = f"nbtest-{os.getpid()}-{len(made)}-{time.monotonic_ns() % 10**6}"
        made.append(manager.create(name, **options)["Id"])
        return made[-1], name

    yield make
    for network_id in made:
        manager.remove(network_id)


@pytest.fixture
def containers(manager, namespaces, trace):
    """Start a stand-in container: ``containers(network, name, aliases=...)`` -> (namespace, endpoint)."""
    plugged = []

    def start(network, name, **connect_options):
        ns = namespaces()
        container_id = os.urandom(32).hex()
        endpoint = manager.connect(network, container_id, name=name, trace=trace, **connect_options)
        manager.setup_loopback(ns.path, trace=trace)
        manager.plug(endpoint, ns.path, trace=trace)
        plugged.append(endpoint)
        return ns, endpoint

    yield start
    for endpoint in plugged:
        manager.unpublish(endpoint.container_id, trace=trace)
        for attached in manager.endpoints(endpoint.container_id):
            manager.disconnect(attached.network_id, attached.container_id, trace=trace)


def ping(ns, address) -> bool:
    return ns.run("busybox", "ping", "-c", "1", "-W", "1", str(address)).returncode == 0


# ---------------------------------------------------------------------------
# Networks


def test_predefined_networks_exist_with_dockers_shapes(manager):
    by_name = {n["Name"]: n for n in manager.list()}
    assert {"bridge", "host", "none"} <= set(by_name)
    bridge = by_name["bridge"]
    assert re.fullmatch("[0-9a-f]{64}", bridge["Id"])
    assert (bridge["Driver"], bridge["Scope"], by_name["host"]["Driver"], by_name["none"]["Driver"]) == (
        "bridge", "local", "host", "null")
    subnet = IPv4Network(bridge["IPAM"]["Config"][0]["Subnet"])
    bridge_name = manager.host_names.default_bridge
    assert re.fullmatch("nbdock0-[0-9a-f]{5}", bridge_name)  # a temporary data root's tag
    assert bridge["Options"]["com.docker.network.bridge.name"] == bridge_name
    # The subnet is the bridge's alone: no other route of the host overlaps it.
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "main"], capture_output=True, text=True).stdout
    for line in routes.splitlines():
        destination = line.split()[0]
        if destination != "default" and f"dev {bridge_name} " not in line:
            assert not subnet.overlaps(IPv4Network(destination)), line
    assert f"inet {subnet.network_address + 1}/{subnet.prefixlen}" in subprocess.run(
        ["ip", "addr", "show", bridge_name], capture_output=True, text=True).stdout


def test_create_inspect_and_remove_a_network(manager):
    name = f"nbtest-life-{os.getpid()}"
    created = manager.create(name, labels={"purpose": "test"}, subnet="10.213.0.0/24")
    network_id = created["Id"]
    bridge = manager.host_names.user_bridge(network_id)
    try:
        assert created["IPAM"] == {"Driver": "default", "Options": None,
                                   "Config": [{"Subnet": "10.213.0.0/24", "Gateway": "10.213.0.1"}]}
        assert created["Labels"] == {"purpose": "test"} and created["Containers"] == {}
        assert manager.get(name)["Id"] == manager.get(network_id[:10])["Id"] == network_id
        assert "inet 10.213.0.1/24" in subprocess.run(["ip", "addr", "show", bridge], capture_output=True, text=True).stdout
        rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
        postrouting = manager.host_names.chains.postrouting
        assert f"-A {postrouting} -s 10.213.0.0/24 ! -o {bridge} -j MASQUERADE" in rules
        with pytest.raises(NetworkConflict, match=f"network with name {name} already exists"):
            manager.create(name)
        with pytest.raises(NetworkForbidden, match="Pool overlaps"):
            manager.create(name + "-b", subnet="10.213.0.128/25")
    finally:
        manager.remove(name)
    assert subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode != 0
    assert bridge not in subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert not os.path.exists(os.path.join(manager.state_dir, f"{network_id}.json"))
    with pytest.raises(NetworkNotFound, match=f"^network {name} not found$"):
        manager.get(name)


def test_bad_create_requests_are_refused(manager):
    with pytest.raises(NetworkForbidden, match="bridge is a pre-defined network and cannot be removed"):
        manager.remove("bridge")
    with pytest.raises(NetworkNotFound, match='plugin "overlay" not found'):
        manager.create("nbtest-x", driver="overlay")
    with pytest.raises(NetworkForbidden, match='only one instance of "host" network is allowed'):
        manager.create("nbtest-x", driver="host")
    with pytest.raises(InvalidNetworkArgument, match="no matching subnet for gateway 10.97.0.1"):
        manager.create("nbtest-x", subnet="10.98.0.0/16", gateway="10.97.0.1")
    with pytest.raises(NetworkConflict):
        manager.create("bridge", check_duplicate=False)
    assert "nbtest-x" not in {n["Name"] for n in manager.list()}


# ---------------------------------------------------------------------------
# Containers on networks


def test_containers_on_one_network_reach_each_other_and_the_host_reaches_them(manager, network, containers, trace):
    network_id, name = network()
    ns1, ep1 = containers(name, "one")
    ns2, ep2 = containers(name, "two")
    assert ep1.ifname == "eth0" and ep1.mac_address == "02:42:" + ":".join(
        f"{b:02x}" for b in IPv4Address(ep1.ip_address).packed)
    addr = ns1.run("ip", "-o", "addr", "show", "eth0").stdout
    assert f"inet {ep1.ip_address}/{ep1.prefix_len}" in addr
    assert ep1.mac_address in ns1.run("ip", "link", "show", "eth0").stdout
    assert f"default via {ep1.gateway} dev eth0" in ns1.run("ip", "route").stdout
    assert ping(ns1, ep2.ip_address) and ping(ns2, ep1.ip_address)
    assert subprocess.run(["busybox", "ping", "-c", "1", "-W", "1", ep1.ip_address]).returncode == 0
    containers_json = manager.get(network_id)["Containers"]
    assert containers_json[ep1.container_id] == {
        "Name": "one", "EndpointID": ep1.endpoint_id, "MacAddress": ep1.mac_address,
        "IPv4Address": f"{ep1.ip_address}/{ep1.prefix_len}", "IPv6Address": ""}
    api = ep1.to_api()
    assert (api["NetworkID"], api["IPAddress"], api["Gateway"]) == (network_id, ep1.ip_address, ep1.gateway)
    assert api["Aliases"] == [ep1.container_id[:12]]
    ops = [(e["kind"], e["op"]) for e in read_trace(trace.path)]
    for step in ["link_add", "link_set", "addr_add", "route_add"]:
        assert ("network", step) in ops


def test_networks_are_isolated_from_each_other(network, containers):
    _, net_a = network()
    _, net_b = network()
    ns_a, ep_a = containers(net_a, "a")
    ns_b, ep_b = containers(net_b, "b")
    assert ping(ns_a, ep_a.gateway) and ping(ns_b, ep_b.gateway)  # each reaches its own network
    assert not ping(ns_a, ep_b.ip_address)
    assert not ping(ns_b, ep_a.ip_address)


def test_second_network_is_eth1_without_a_second_default_route(manager, network, containers, trace):
    _, first = network()
    _, second = network()
    ns, ep1 = containers(first, "multi")
    ep2 = manager.connect(second, ep1.container_id, name="multi", trace=trace)
    manager.plug(ep2, ns.path, trace=trace)
    assert ep2.ifname == "eth1"
    routes = ns.run("ip", "route").stdout
    assert routes.count("default") == 1 and f"default via {ep1.gateway}" in routes
    assert [e.network_name for e in manager.endpoints(ep1.container_id)] == [first, second]


def test_internal_network_gets_no_default_route_and_no_masquerade(manager, network, containers):
    network_id, name = network(internal=True)
    ns, ep = containers(name, "inside")
    assert "default" not in ns.run("ip", "route").stdout
    subnet = manager.get(network_id)["IPAM"]["Config"][0]["Subnet"]
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    chains, bridge = manager.host_names.chains, manager.host_names.user_bridge(network_id)
    assert f"-A {chains.postrouting} -s {subnet}" not in rules  # no MASQUERADE for it
    assert f"-A {chains.isolation_1} ! -d {subnet} -i {bridge} -j DROP" in rules


def test_default_bridge_has_no_embedded_dns(manager, containers):
    ns, ep = containers("bridge", "plain")
    assert ep.ifname == "eth0" and f"default via {ep.gateway}" in ns.run("ip", "route").stdout
    assert ping(ns, ep.gateway)
    assert "0B00007F:0035" not in ns.run("cat", "/proc/net/udp").stdout
    assert manager.resolv_conf([ep]) != "" and "127.0.0.11" not in manager.resolv_conf([ep])
    assert ep.to_api()["Aliases"] is None


def test_none_mode_has_only_loopback_up(manager, namespaces, trace):
    ns = namespaces()
    endpoint = manager.connect("none", "f" * 64, name="lonely", trace=trace)
    manager.setup_loopback(ns.path, trace=trace)
    manager.plug(endpoint, ns.path, trace=trace)
    links = ns.run("ip", "-o", "link").stdout.splitlines()
    assert len(links) == 1 and "lo:" in links[0] and "UP" in links[0]
    assert endpoint.to_api()["IPAddress"] == "" and manager.get("none")["Containers"]["f" * 64]["Name"] == "lonely"
    manager.disconnect("none", "f" * 64)


def test_connect_refuses_what_docker_refuses(manager, network, containers, trace):
    with pytest.raises(InvalidNetworkArgument, match="aliases are only supported for user-defined networks"):
        manager.connect("bridge", "a" * 64, name="x", aliases=["y"], trace=trace)
    with pytest.raises(InvalidNetworkArgument, match="supported on user defined networks only"):
        manager.connect("bridge", "a" * 64, name="x", ip="172.18.0.9", trace=trace)
    _, auto = network()
    with pytest.raises(InvalidNetworkArgument, match="user configured subnets"):
        manager.connect(auto, "a" * 64, name="x", ip="172.30.0.9", trace=trace)
    _, fixed = network(subnet="10.214.0.0/24")
    ns, ep = containers(fixed, "pinned", ip="10.214.0.50")
    assert ep.ip_address == "10.214.0.50" and ep.to_api()["IPAMConfig"] == {"IPv4Address": "10.214.0.50"}
    with pytest.raises(NetworkConflict, match="^Address already in use$"):
        manager.connect(fixed, "b" * 64, name="y", ip="10.214.0.50", trace=trace)
    with pytest.raises(NetworkForbidden, match=f"endpoint with name pinned already exists in network {fixed}"):
        manager.connect(fixed, ep.container_id, name="pinned", trace=trace)
    with pytest.raises(NetworkError, match="is not connected to the network"):
        manager.disconnect(fixed, "c" * 64)
    with pytest.raises(NetworkForbidden, match="has active endpoints"):
        manager.remove(fixed)


def test_unplug_and_disconnect_leave_nothing_behind(manager, network, containers, trace):
    _, name = network()
    ns, ep = containers(name, "brief")
    host_veth, address = ep.host_ifname, ep.ip_address
    assert "0B00007F:0035" in ns.run("cat", "/proc/net/udp").stdout  # 127.0.0.11:53, the resolver
    manager.unplug(ep, trace=trace)
    manager.disconnect(name, ep.container_id, trace=trace)
    assert subprocess.run(["ip", "link", "show", host_veth], capture_output=True).returncode != 0
    assert ns.run("ip", "-o", "link").stdout.count("\n") == 1  # only lo
    assert "0B00007F:0035" not in ns.run("cat", "/proc/net/udp").stdout
    assert "0B00007F:0035" not in ns.run("cat", "/proc/net/tcp").stdout
    with pytest.raises(NetworkNotFound, match="is not connected"):
        manager.plug(ep, ns.path, trace=trace)  # a stale endpoint
    # The address is free again: the next container gets it.
    again = manager.connect(name, "e" * 64, name="next", trace=trace)
    assert again.ip_address == address
    # A failed plug (the namespace is gone) leaves no veth behind.
    with pytest.raises(NetworkHostError, match="connecting next to"):
        manager.plug(again, "/proc/999999999/ns/net", trace=trace)
    names = manager.host_names
    assert not again.plugged and host_state(names)[0] == [names.default_bridge, names.user_bridge(again.network_id)]
    manager.disconnect(name, "e" * 64)


# ---------------------------------------------------------------------------
# Embedded DNS


def test_dns_resolves_names_and_aliases_on_shared_networks_only(manager, network, containers, fake_upstream):
    _, shared = network()
    _, other = network()
    ns1, ep1 = containers(shared, "web", aliases=["www"])
    _, ep2 = containers(shared, "db")
    _, ep3 = containers(other, "hidden")
    assert a_records(query(ns1, "db")) == [IPv4Address(ep2.ip_address)]
    assert a_records(query(ns1, "www")) == [IPv4Address(ep1.ip_address)]
    assert a_records(query(ns1, ep2.container_id[:12])) == [IPv4Address(ep2.ip_address)]
    assert a_records(query(ns1, f"db.{shared}")) == [IPv4Address(ep2.ip_address)]
    assert a_records(query(ns1, "db", tcp=True)) == [IPv4Address(ep2.ip_address)]
    # A container on another network is unknown here: the question goes upstream, which says NXDOMAIN.
    hidden = query(ns1, "hidden")
    assert hidden.answers == [] and hidden.rcode == 3
    assert "hidden" in fake_upstream.queries
    # busybox's resolver, as a program in a container would use it:
    lookup = ns1.run("busybox", "nslookup", "db", "127.0.0.11")
    assert ep2.ip_address in lookup.stdout, lookup


def test_dns_forwards_other_names_to_the_host_resolvers(network, containers, fake_upstream):
    _, name = network()
    ns, _ = containers(name, "asker")
    assert a_records(query(ns, UPSTREAM_NAME)) == [UPSTREAM_ADDRESS]
    assert a_records(query(ns, UPSTREAM_NAME, tcp=True)) == [UPSTREAM_ADDRESS]
    assert fake_upstream.queries.count(UPSTREAM_NAME) >= 1


def test_resolv_conf_and_hosts_file(manager, network, trace, host_resolv_conf, fake_upstream):
    _, name = network()
    user_ep = manager.connect(name, "1" * 64, name="u", trace=trace)
    default_ep = manager.connect("bridge", "2" * 64, name="d", trace=trace)
    try:
        assert manager.resolv_conf([user_ep]).startswith("nameserver 127.0.0.11\n")
        assert "options ndots:0" in manager.resolv_conf([user_ep])
        # The host's only resolver is on its loopback: unreachable from a container.
        assert "nameserver 8.8.8.8" in manager.resolv_conf([default_ep])
        hosts = manager.hosts_file("web1", [default_ep], ["gw:host-gateway"])
        assert hosts.endswith(f"{default_ep.gateway}\tgw\n{default_ep.ip_address}\tweb1\n")
        assert manager.hosts_file("h", []).count("\n") == 6  # none: only the localhost lines
    finally:
        manager.disconnect(name, "1" * 64)
        manager.disconnect("bridge", "2" * 64)


# ---------------------------------------------------------------------------
# Published ports


def test_publish_tcp_via_loopback_and_host_address(manager, network, containers, namespaces, trace):
    _, name = network()
    ns, ep = containers(name, "httpd")
    server = ns.start("python3", "-c", HTTP_SERVER, "80")
    try:
        wait_for_port(ns, 80)
        port = _free_port()
        bindings = manager.publish(ep.container_id, ep, {"80/tcp": [{"HostIp": "", "HostPort": str(port)}]},
                                   ["80/tcp"], False, trace=trace)
        assert bindings["80/tcp"][0] == {"HostIp": "0.0.0.0", "HostPort": str(port)}
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status == 200
        address = host_address()
        if address is not None:  # DNAT carries this one: its packet counter moves
            before = _dnat_packets(manager, port)
            assert urllib.request.urlopen(f"http://{address}:{port}/", timeout=5).status == 200
            assert _dnat_packets(manager, port) > before
        published = [e["args"] for e in read_trace(trace.path) if e["op"] == "publish"]
        assert "iptables DNAT" in published[0]["carried_by"] and "userland proxy" in published[0]["carried_by"]
        manager.unpublish(ep.container_id, trace=trace)
        assert not listening(port)
        assert f"--dport {port}" not in subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        server.kill()
        server.wait()


def test_publish_udp_on_an_ephemeral_loopback_port(manager, network, containers, trace):
    _, name = network()
    ns, ep = containers(name, "echo")
    server = ns.start("python3", "-c", UDP_ECHO, "9999")
    try:
        wait_for_port(ns, 9999, "udp")
        bindings = manager.publish(ep.container_id, ep, {"9999/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
                                   ["9999/udp"], False, trace=trace)
        (binding,) = bindings["9999/udp"]
        assert binding["HostIp"] == "127.0.0.1"
        low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
        assert low <= int(binding["HostPort"]) <= high
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"hello", ("127.0.0.1", int(binding["HostPort"])))
            assert client.recvfrom(100)[0] == b"echo:hello"
        published = [e["args"] for e in read_trace(trace.path) if e["op"] == "publish"]
        assert list(published[0]["carried_by"]) == ["userland proxy"]  # no DNAT for loopback
    finally:
        server.kill()
        server.wait()


def test_a_neighbour_reaches_a_published_port_through_the_gateway(manager, network, containers, trace):
    _, name = network()
    server_ns, server_ep = containers(name, "server")
    client_ns, _ = containers(name, "client")
    server = server_ns.start("python3", "-c", HTTP_SERVER, "8080")
    try:
        wait_for_port(server_ns, 8080)
        port = _free_port()
        manager.publish(server_ep.container_id, server_ep, {"8080/tcp": [{"HostPort": str(port)}]}, [], False,
                        trace=trace)
        # Not DNAT'ed (it comes in on the bridge): the userland proxy carries it.
        fetched = client_ns.run("busybox", "wget", "-q", "-O", "-", f"http://{server_ep.gateway}:{port}/")
        assert fetched.returncode == 0 and "Directory listing" in fetched.stdout, fetched.stderr
    finally:
        server.kill()
        server.wait()


def test_publish_all_gives_every_exposed_port_an_ephemeral_port(manager, network, containers, trace):
    _, name = network()
    _, ep = containers(name, "exposer")
    bindings = manager.publish(ep.container_id, ep, {}, ["7000/tcp", "7001/udp"], True, trace=trace)
    assert set(bindings) == {"7000/tcp", "7001/udp"}
    for key, proto in (("7000/tcp", "tcp"), ("7001/udp", "udp")):
        assert bindings[key][0]["HostIp"] == "0.0.0.0"
        assert listening(int(bindings[key][0]["HostPort"]), proto)
    without_p = manager.publish("9" * 64, ep, {}, ["443/tcp"], False, trace=trace)
    assert without_p == {"443/tcp": None}
    manager.unpublish("9" * 64)


def test_port_already_allocated_leaves_nothing_behind(manager, network, containers, trace):
    _, name = network()
    _, ep = containers(name, "blocked")
    holder = socket.socket()
    holder.bind(("0.0.0.0", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    free = _free_port()
    rules_before = host_state(manager.host_names)[1]
    try:
        with pytest.raises(NetworkHostError, match=f"Bind for 0.0.0.0:{taken} failed: port is already allocated"):
            manager.publish(ep.container_id, ep, {
                "80/tcp": [{"HostIp": "", "HostPort": str(free)}],
                "81/tcp": [{"HostIp": "", "HostPort": str(taken)}],
            }, ["80/tcp", "81/tcp"], False, trace=trace)
        assert not listening(free)
        rules_after = host_state(manager.host_names)[1]
        assert without_counters(rules_after) == without_counters(rules_before)
        # Nothing is recorded either: publishing again works.
        manager.publish(ep.container_id, ep, {"80/tcp": [{"HostIp": "", "HostPort": str(free)}]}, [], False, trace=trace)
        with pytest.raises(NetworkHostError, match=f"Bind for 0.0.0.0:{free} failed: port is already allocated"):
            manager.publish("8" * 64, ep, {"80/tcp": [{"HostIp": "", "HostPort": str(free)}]}, [], False, trace=trace)
    finally:
        holder.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def _dnat_packets(manager, port: int) -> int:
    chain = manager.host_names.chains.dnat
    out = subprocess.run(["iptables", "-t", "nat", "-L", chain, "-v", "-x", "-n"], capture_output=True, text=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines() if f"dpt:{port} " in line + " ")


def test_network_json_has_the_keys_docker_sends(manager, network, ref_docker_host):
    import docker

    client = docker.APIClient(base_url=ref_docker_host)
    reference = client.create_network(f"nbtest-ref-{os.getpid()}")
    try:
        docker_json = client.inspect_network(reference["Id"])
    finally:
        client.remove_network(reference["Id"])
    network_id, _ = network()
    ours = manager.get(network_id)
    assert set(ours) == set(docker_json)
    assert set(ours["IPAM"]) == set(docker_json["IPAM"])
    assert set(ours["IPAM"]["Config"][0]) == set(docker_json["IPAM"]["Config"][0])
    assert json.dumps(ours)  # plain JSON, as the daemon will send it


def test_a_subnet_the_user_names_may_overlap_a_host_route_as_in_docker(manager):
    """Docker checks a named subnet against its own networks only; a chosen one avoids every route."""
    dummy = f"nbtrt{os.getpid() % 100000}"  # a veth pair's end: this kernel may lack the dummy module
    subprocess.run(["ip", "link", "add", dummy, "type", "veth", "peer", "name", dummy + "p"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.214.7.1/24", "dev", dummy], check=True)
        subprocess.run(["ip", "link", "set", dummy, "up"], check=True)
        name = f"nbtest-route-{os.getpid()}"
        created = manager.create(name, subnet="10.214.7.0/24", ip_range="10.214.7.128/25",
                                 aux_addresses={"gw2": "10.214.7.128"}, ipam_options={})
        try:
            assert created["IPAM"] == {"Driver": "default", "Options": {}, "Config": [{
                "Subnet": "10.214.7.0/24", "IPRange": "10.214.7.128/25", "Gateway": "10.214.7.1",
                "AuxiliaryAddresses": {"gw2": "10.214.7.128"}}]}
            # Its own networks still count.
            with pytest.raises(NetworkForbidden, match="Pool overlaps"):
                manager.create(name + "-b", subnet="10.214.7.64/26")
            # A subnet nbdock chooses avoids the route.
            chosen = manager.create(name + "-c")
            try:
                assert not IPv4Network(chosen["IPAM"]["Config"][0]["Subnet"]).overlaps(IPv4Network("10.214.7.0/24"))
            finally:
                manager.remove(name + "-c")
        finally:
            manager.remove(name)
    finally:
        subprocess.run(["ip", "link", "del", dummy], check=False)
