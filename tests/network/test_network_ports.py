"""-p/-P requests and host port reservation (real sockets on loopback; no root needed)."""

import socket

import pytest

from nbdock.network import ports
from nbdock.network.errors import InvalidNetworkArgument, NetworkHostError


def test_plan_reads_dockers_shapes():
    requests = ports.plan(
        {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
        ["80/tcp", "53/udp", "443/tcp"],
        publish_all=True,
    )
    assert requests == [
        ports.PortRequest(53, "udp", "127.0.0.1", None),
        ports.PortRequest(80, "tcp", "", (8080, 8080)),
        ports.PortRequest(443, "tcp", "", None),  # -P: exposed, not bound
    ]


def test_plan_without_publish_all_ignores_exposed_ports():
    assert ports.plan({}, ["443/tcp"], publish_all=False) == []


@pytest.mark.parametrize(
    "bindings, message",
    [
        ({"80/sctp": None}, "protocol must be tcp or udp"),
        ({"0/tcp": None}, "ports are numbers"),
        ({"80/tcp": [{"HostPort": "70000"}]}, "'70000'"),
        ({"80/tcp": [{"HostPort": "90-80"}]}, "range '90-80'"),
        ({"80/tcp": [{"HostIp": "localhost"}]}, "invalid host IP 'localhost'"),
    ],
)
def test_bad_requests_name_the_culprit(bindings, message):
    with pytest.raises(InvalidNetworkArgument, match=message):
        ports.plan(bindings, [], False)


def close_all(reservations):
    for r in reservations:
        r.sock.close()


def test_ephemeral_ports_come_from_the_kernel_range_in_rising_order():
    allocator = ports.PortAllocator()
    low, high = ports.ephemeral_range()
    first = allocator.reserve(ports.PortRequest(80, "tcp", "127.0.0.1", None))
    second = allocator.reserve(ports.PortRequest(80, "tcp", "127.0.0.1", None))
    try:
        assert low <= first[0].host_port <= high
        assert second[0].host_port != first[0].host_port
    finally:
        close_all(first + second)


def test_a_taken_port_is_already_allocated_in_dockers_words():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(NetworkHostError, match=f"^Bind for 127.0.0.1:{port} failed: port is already allocated$"):
            ports.PortAllocator().reserve(ports.PortRequest(80, "tcp", "127.0.0.1", (port, port)))
    finally:
        holder.close()


def test_any_address_is_published_on_ipv4_and_ipv6_with_one_port():
    reserved = ports.PortAllocator().reserve(ports.PortRequest(53, "udp", "", None))
    try:
        assert {r.host_port for r in reserved} == {reserved[0].host_port}
        assert [r.host_ip for r in reserved][0] == "0.0.0.0"
        report = ports.ports_report(reserved, ["53/udp", "80/tcp"])
        assert report["80/tcp"] is None
        assert report["53/udp"][0] == {"HostIp": "0.0.0.0", "HostPort": str(reserved[0].host_port)}
    finally:
        close_all(reserved)


def test_a_reserved_port_is_refused_to_a_second_allocator_before_any_proxy_runs():
    """Two daemons (two allocators) asking for one port: the second gets Docker's error.

    The first reservation must exclude the second at once, not only once its
    proxy starts listening (SO_REUSEADDR lets two sockets bind a port nobody listens on).
    """
    first = ports.PortAllocator().reserve(ports.PortRequest(80, "tcp", "127.0.0.1", None))
    port = first[0].host_port
    try:
        with pytest.raises(NetworkHostError, match=f"^Bind for 127.0.0.1:{port} failed: port is already allocated$"):
            ports.PortAllocator().reserve(ports.PortRequest(80, "tcp", "127.0.0.1", (port, port)))
        with pytest.raises(NetworkHostError, match=f"^Bind for 0.0.0.0:{port} failed: port is already allocated$"):
            ports.PortAllocator().reserve(ports.PortRequest(80, "tcp", "", (port, port)))
    finally:
        close_all(first)
