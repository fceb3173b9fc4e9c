"""The embedded resolver's DNS handling, without root or sockets."""

import socket
import struct
from ipaddress import IPv4Address

import pytest

from nbdock.network import dns
from nbdock.network.services import DnsServer, NameTable

NET = "n" * 64
TABLE = NameTable(
    networks_of={"c1": (NET,), "c2": (NET,), "loner": ()},
    members={
        NET: ("appnet", [
            (frozenset({"web", "www", "web.appnet", "www.appnet"}), IPv4Address("10.5.0.2")),
            (frozenset({"db", "db.appnet"}), IPv4Address("10.5.0.3")),
        ])
    },
)


def server_for(container_id):
    udp, tcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket()
    server = DnsServer(container_id, udp, tcp, names=lambda: TABLE, upstreams=lambda: [])
    yield server
    udp.close()
    tcp.close()


@pytest.fixture
def c1_server():
    yield from server_for("c1")


def test_query_round_trip():
    query = dns.parse_query(dns.build_query(0x1234, "Web.AppNet.", dns.TYPE_A))
    assert (query.id, query.question.name, query.question.qtype) == (0x1234, "web.appnet", dns.TYPE_A)


def test_container_name_and_alias_resolve(c1_server):
    for name in ("db", "www", "WEB", "db.appnet"):
        reply = dns.parse_reply(c1_server.local_answer(dns.build_query(7, name)))
        assert reply.id == 7 and reply.rcode == 0
        assert [IPv4Address(rdata) for _, rdata in reply.answers] in (
            [IPv4Address("10.5.0.3")], [IPv4Address("10.5.0.2")],
        )


def test_aaaa_for_a_container_name_is_answered_empty_not_forwarded(c1_server):
    reply = dns.parse_reply(c1_server.local_answer(dns.build_query(8, "db", dns.TYPE_AAAA)))
    assert reply.rcode == 0 and reply.answers == []


def test_unknown_names_are_left_for_the_host_resolvers(c1_server):
    assert c1_server.local_answer(dns.build_query(9, "example.org")) is None


def test_names_are_only_visible_to_members_of_the_network():
    server = next(server_for("loner"))
    assert server.local_answer(dns.build_query(10, "db")) is None


def test_reverse_lookup_of_a_container_address(c1_server):
    reply = dns.parse_reply(c1_server.local_answer(dns.build_query(11, "3.0.5.10.in-addr.arpa", dns.TYPE_PTR)))
    assert reply.answers[0][0] == dns.TYPE_PTR
    name, _ = dns.read_name(reply.answers[0][1], 0)
    assert name == "db.appnet"


@pytest.mark.parametrize(
    "message",
    [
        b"\x00\x01",  # shorter than a header
        struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x05abc",  # label past the end
        struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",  # pointer to itself
        struct.pack("!HHHHHH", 1, 0, 2, 0, 0, 0) + b"\x00\x00\x01\x00\x01",  # two questions
    ],
)
def test_hostile_queries_raise_format_errors(message):
    with pytest.raises(dns.DnsFormatError):
        dns.parse_query(message)


def test_malformed_query_gets_formerr_with_its_id(c1_server):
    message = struct.pack("!HHHHHH", 0xBEEF, 0, 1, 0, 0, 0) + b"\x3fab"
    reply = dns.parse_reply(c1_server.local_answer(message))
    assert (reply.id, reply.rcode) == (0xBEEF, dns.RCODE_FORMERR)
