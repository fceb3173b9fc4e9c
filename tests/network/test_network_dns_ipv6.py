"""The embedded DNS on a network made with --ipv6: A records for A queries, AAAA for AAAA, without root."""

import socket
from ipaddress import IPv4Address, IPv6Address

from nbdock.network import dns
from nbdock.network.services import DnsServer, NameTable

NET = "n" * 64
NAMES = frozenset({"web", "web.appnet"})
TABLE = NameTable(
    networks_of={"client": (NET,)},
    members={NET: ("appnet", [(NAMES, IPv4Address("10.5.0.2")), (NAMES, IPv6Address("2001:db8:5::2"))])},
)


def answer(name: str, qtype: int) -> dns.Reply | None:
    udp, tcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket()
    try:
        server = DnsServer("client", udp, tcp, names=lambda: TABLE, upstreams=lambda: [])
        reply = server.local_answer(dns.build_query(7, name, qtype))
        return None if reply is None else dns.parse_reply(reply)
    finally:
        udp.close()
        tcp.close()


def test_an_aaaa_query_gets_the_containers_ipv6_address_and_an_a_query_its_ipv4():
    assert answer("web", dns.TYPE_AAAA).answers == [(dns.TYPE_AAAA, IPv6Address("2001:db8:5::2").packed)]
    assert answer("web.appnet", dns.TYPE_A).answers == [(dns.TYPE_A, IPv4Address("10.5.0.2").packed)]


def test_a_container_without_ipv6_answers_aaaa_with_no_record_not_with_the_host_resolvers():
    table = NameTable(networks_of=TABLE.networks_of, members={NET: ("appnet", [(NAMES, IPv4Address("10.5.0.2"))])})
    assert table.addresses("client", "web", 6) == []
    assert table.addresses("client", "nobody", 6) is None


def test_an_unknown_name_goes_to_the_host_resolvers():
    assert answer("example.org", dns.TYPE_AAAA) is None
