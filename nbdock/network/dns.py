"""Just enough of the DNS wire format (RFC 1035) for Docker's embedded resolver.

A container on a user-defined network has ``nameserver 127.0.0.11`` in its
/etc/resolv.conf.  nbdock answers there itself for the names of the
containers that share a network with it, and passes every other query,
untouched, to the host's resolvers.  So it only has to read the question of
a query and write answers of two kinds (A and PTR records); everything else
is relayed as opaque bytes.

A DNS message is a 12-byte header, then the question, then resource records::

    header    id(16) flags(16) qdcount(16) ancount(16) nscount(16) arcount(16)
    question  name  type(16) class(16)
    answer    name  type(16) class(16) ttl(32) rdlength(16) rdata

A name is a sequence of labels, each a length byte and that many bytes,
ended by a zero byte: ``\\x03web\\x05local\\x00``.  To save space, a name may
end instead with a two-byte *pointer* (top two bits set) to a name earlier
in the message.  Queries come from the container and are untrusted: every
length and pointer is checked against the message's end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

TYPE_A = 1
TYPE_PTR = 12
TYPE_AAAA = 28
CLASS_IN = 1

RCODE_FORMERR = 1
RCODE_SERVFAIL = 2

FLAG_QR = 0x8000  # this message is a response
FLAG_RD = 0x0100  # recursion desired (copied from the query)
FLAG_RA = 0x0080  # recursion available (we forward)
OPCODE_MASK = 0x7800

#: Docker's embedded DNS answers with a TTL of 600 seconds.
ANSWER_TTL = 600

_HEADER = struct.Struct("!HHHHHH")
_MAX_POINTER_JUMPS = 32


class DnsFormatError(ValueError):
    """The bytes are not a DNS query nbdock can read."""


@dataclass(frozen=True)
class Question:
    name: str  # lower-case, without the trailing dot
    qtype: int
    qclass: int


@dataclass(frozen=True)
class Query:
    id: int
    flags: int
    question: Question
    question_bytes: bytes  # the question section exactly as sent, echoed in the reply


def parse_query(message: bytes) -> Query:
    """The id, flags and (single) question of a query."""
    if len(message) < _HEADER.size:
        raise DnsFormatError("shorter than a DNS header")
    ident, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(message)
    if flags & FLAG_QR:
        raise DnsFormatError("a response, not a query")
    if qdcount != 1:
        raise DnsFormatError(f"{qdcount} questions (resolvers send exactly one)")
    name, offset = read_name(message, _HEADER.size)
    if offset + 4 > len(message):
        raise DnsFormatError("question cut short")
    qtype, qclass = struct.unpack_from("!HH", message, offset)
    return Query(ident, flags, Question(name.lower(), qtype, qclass), message[_HEADER.size : offset + 4])


def read_name(message: bytes, offset: int) -> tuple[str, int]:
    """The dotted name at ``offset`` and the offset just past it (following pointers safely)."""
    labels: list[str] = []
    end_of_name = None  # where the name ends in the message, once we have jumped
    jumps = 0
    while True:
        if offset >= len(message):
            raise DnsFormatError("name runs past the end of the message")
        length = message[offset]
        if length & 0xC0 == 0xC0:  # a pointer to the rest of the name
            if offset + 1 >= len(message):
                raise DnsFormatError("pointer cut short")
            jumps += 1
            if jumps > _MAX_POINTER_JUMPS:
                raise DnsFormatError("compression pointers loop")
            if end_of_name is None:
                end_of_name = offset + 2
            offset = ((length & 0x3F) << 8) | message[offset + 1]
            continue
        if length & 0xC0:
            raise DnsFormatError(f"unknown label type {length:#x}")
        offset += 1
        if length == 0:
            return ".".join(labels), end_of_name if end_of_name is not None else offset
        if offset + length > len(message):
            raise DnsFormatError("label runs past the end of the message")
        labels.append(message[offset : offset + length].decode("ascii", errors="replace"))
        offset += length


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.strip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"cannot encode DNS label {label!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def _reply(query: Query, answers: list[bytes]) -> bytes:
    # Like Docker's resolver, nbdock does not claim to be authoritative (no AA flag):
    # it only relays what the engine knows.
    flags = FLAG_QR | FLAG_RA | (query.flags & (OPCODE_MASK | FLAG_RD))
    header = _HEADER.pack(query.id, flags, 1, len(answers), 0, 0)
    return header + query.question_bytes + b"".join(answers)


def _record(rtype: int, rdata: bytes) -> bytes:
    # 0xC00C: a pointer to offset 12, where the question's name starts.
    return struct.pack("!HHHIH", 0xC00C, rtype, CLASS_IN, ANSWER_TTL, len(rdata)) + rdata


def a_reply(query: Query, addresses: list[IPv4Address | IPv6Address]) -> bytes:
    """Answer with one A record per IPv4 address, one AAAA per IPv6 (none: the name exists but has no such record)."""
    return _reply(query, [_record(TYPE_A if address.version == 4 else TYPE_AAAA, address.packed)
                          for address in addresses])


def ptr_reply(query: Query, target: str) -> bytes:
    return _reply(query, [_record(TYPE_PTR, encode_name(target))])


def error_reply(message: bytes, rcode: int) -> bytes | None:
    """A reply carrying only an error code, or None if ``message`` has no usable header."""
    if len(message) < _HEADER.size:
        return None
    ident, flags = struct.unpack_from("!HH", message)
    reply_flags = FLAG_QR | FLAG_RA | (flags & (OPCODE_MASK | FLAG_RD)) | rcode
    return _HEADER.pack(ident, reply_flags, 0, 0, 0, 0)


def build_query(ident: int, name: str, qtype: int = TYPE_A) -> bytes:
    """A standard recursive query (used by tests and by nbdock's own checks)."""
    return _HEADER.pack(ident, FLAG_RD, 1, 0, 0, 0) + encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)


@dataclass(frozen=True)
class Reply:
    id: int
    rcode: int
    answers: list[tuple[int, bytes]]  # (type, rdata)


def parse_reply(message: bytes) -> Reply:
    """The answers of a reply (used by tests to check what the resolver said)."""
    if len(message) < _HEADER.size:
        raise DnsFormatError("shorter than a DNS header")
    ident, flags, qdcount, ancount, _ns, _ar = _HEADER.unpack_from(message)
    offset = _HEADER.size
    for _ in range(qdcount):
        _, offset = read_name(message, offset)
        offset += 4
    answers = []
    for _ in range(ancount):
        _, offset = read_name(message, offset)
        if offset + 10 > len(message):
            raise DnsFormatError("record cut short")
        rtype, _cls, _ttl, rdlength = struct.unpack_from("!HHIH", message, offset)
        offset += 10
        answers.append((rtype, message[offset : offset + rdlength]))
        offset += rdlength
    return Reply(ident, flags & 0xF, answers)
