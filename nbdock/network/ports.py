"""Port publishing, the pure part: reading ``-p``/``-P`` requests and reserving host ports.

The engine hands over Docker's own shapes::

    port_bindings  {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "53/udp": [...]}
    exposed_ports  {"80/tcp": {}, "443/tcp": {}}          (Config.ExposedPorts, or a list of keys)
    publish_all    True for -P: every exposed port without a binding gets an ephemeral one

A host port is *reserved* by binding the userland proxy's listening socket
to it: the kernel is the allocator, so a port held by any other program
(another container, another nbdock daemon) is refused, and the reservation
lasts exactly as long as the socket.  An empty HostIp means "every address", which Docker 20.10
publishes twice, on 0.0.0.0 and on ``::``.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Iterable, Mapping

from nbdock.network.errors import InvalidNetworkArgument, NetworkHostError

PROTOCOLS = ("tcp", "udp")
ANY_IPV4 = "0.0.0.0"
ANY_IPV6 = "::"
EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"


@dataclass(frozen=True)
class PortRequest:
    """One binding to make: container port/proto, host address, and host ports to choose from."""

    container_port: int
    proto: str
    host_ip: str  # "" means every address (0.0.0.0 and ::)
    host_ports: tuple[int, int] | None  # an inclusive range; None: any ephemeral port

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


def parse_port_key(key: str) -> tuple[int, str]:
    """``"80/tcp"`` -> (80, "tcp"); a bare ``"80"`` is TCP."""
    number, _, proto = key.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise InvalidNetworkArgument(f"invalid port {key!r}: protocol must be tcp or udp")
    return _port_number(number, key), proto


def _port_number(text: str, context: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidNetworkArgument(f"invalid port {context!r}: ports are numbers from 1 to 65535")
    return int(text)


def parse_host_ports(text: str) -> tuple[int, int] | None:
    """``""`` -> None (ephemeral), ``"8080"`` -> (8080, 8080), ``"8000-8010"`` -> (8000, 8010)."""
    if not text:
        return None
    low, dash, high = text.partition("-")
    first = _port_number(low, text)
    last = _port_number(high, text) if dash else first
    if last < first:
        raise InvalidNetworkArgument(f"invalid host port range {text!r}")
    return first, last


def parse_host_ip(text: str) -> str:
    if not text:
        return ""
    try:
        return str(ip_address(text))
    except ValueError:
        raise InvalidNetworkArgument(f"invalid host IP {text!r} in a port binding") from None


def plan(
    port_bindings: Mapping[str, Iterable[Mapping[str, str]] | None] | None,
    exposed_ports: Iterable[str] | None,
    publish_all: bool,
) -> list[PortRequest]:
    """Every binding to make, in a stable order: explicit ones, then -P's for exposed ports."""
    requests: list[PortRequest] = []
    bound_keys = set()
    for key, bindings in sorted((port_bindings or {}).items()):
        container_port, proto = parse_port_key(key)
        bound_keys.add((container_port, proto))
        for binding in bindings or [{}]:
            requests.append(
                PortRequest(
                    container_port,
                    proto,
                    parse_host_ip(binding.get("HostIp") or ""),
                    parse_host_ports(binding.get("HostPort") or ""),
                )
            )
    if publish_all:
        for key in sorted(exposed_ports or ()):
            container_port, proto = parse_port_key(key)
            if (container_port, proto) not in bound_keys:
                requests.append(PortRequest(container_port, proto, "", None))
    return requests


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for ports nobody asked for by number (Docker uses the same one)."""
    with open(EPHEMERAL_RANGE_FILE) as f:
        low, high = f.read().split()
    return int(low), int(high)


def open_listener(host_ip: str, port: int, proto: str) -> socket.socket:
    """Bind (and for TCP, listen on) host_ip:port: this is what reserves the port.  Raises OSError."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family, kind | socket.SOCK_CLOEXEC)
    try:
        if family == socket.AF_INET6:
            # Without V6ONLY a socket on :: also takes the IPv4 port, which 0.0.0.0 holds.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if proto == "tcp":
            # Lets a port be published again while old connections sit in TIME_WAIT.
            # But it also lets a second SO_REUSEADDR socket bind the port as long as
            # the first does not listen yet -- so the reservation listens at once:
            # from then on Linux refuses the port to everyone else, this daemon or another.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host_ip, port))
        if proto == "tcp":
            sock.listen()
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass
class Reservation:
    """A host port held by a bound socket, waiting to become a proxy."""

    host_ip: str  # as reported: "0.0.0.0", "::", "127.0.0.1"
    host_port: int
    proto: str
    container_port: int
    sock: socket.socket


def already_allocated(host_ip: str, port: int | str) -> NetworkHostError:
    shown = host_ip or ANY_IPV4
    return NetworkHostError(f"Bind for {shown}:{port} failed: port is already allocated")


def _unavailable(err: OSError) -> bool:
    """True when the address family itself is unusable here (no IPv6 on the host)."""
    return err.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL)


class PortAllocator:
    """Finds and reserves host ports.  Like Docker's, it hands out ephemeral
    ports in rising order from where it stopped last time, so a port just
    freed is not immediately handed to someone else."""

    def __init__(self) -> None:
        self._next_ephemeral: dict[str, int] = {}

    def reserve(self, request: PortRequest) -> list[Reservation]:
        """Bind the sockets for one request (two for an empty HostIp: 0.0.0.0 and ::)."""
        if request.host_ports is not None:
            first, last = request.host_ports
            for port in range(first, last + 1):
                reserved = self._try_port(request, port)
                if reserved is not None:
                    return reserved
            raise already_allocated(request.host_ip, first if first == last else f"{first}-{last}")
        low, high = ephemeral_range()
        start = self._next_ephemeral.get(request.proto, low)
        span = high - low + 1
        for step in range(span):
            port = low + (start - low + step) % span
            reserved = self._try_port(request, port)
            if reserved is not None:
                self._next_ephemeral[request.proto] = port + 1 if port < high else low
                return reserved
        raise NetworkHostError(f"no free ephemeral {request.proto} port in {low}-{high}")

    def _try_port(self, request: PortRequest, port: int) -> list[Reservation] | None:
        addresses = [request.host_ip] if request.host_ip else [ANY_IPV4, ANY_IPV6]
        reserved: list[Reservation] = []
        for address in addresses:
            try:
                sock = open_listener(address, port, request.proto)
            except OSError as err:
                if address == ANY_IPV6 and _unavailable(err):
                    continue  # a host without IPv6: publish on IPv4 only
                for r in reserved:
                    r.sock.close()
                if err.errno == errno.EADDRINUSE:
                    return None
                raise NetworkHostError(f"cannot bind {address}:{port}/{request.proto}: {err.strerror}") from None
            reserved.append(Reservation(address, port, request.proto, request.container_port, sock))
        return reserved


def ports_report(
    reservations: Iterable[Reservation], exposed_ports: Iterable[str] | None
) -> dict[str, list[dict[str, str]] | None]:
    """NetworkSettings.Ports: each exposed or published port, with its bindings or None."""
    report: dict[str, list[dict[str, str]] | None] = {}
    for key in exposed_ports or ():
        port, proto = parse_port_key(key)
        report[f"{port}/{proto}"] = None
    for r in reservations:
        entries = report.get(f"{r.container_port}/{r.proto}") or []
        entries.append({"HostIp": r.host_ip, "HostPort": str(r.host_port)})
        report[f"{r.container_port}/{r.proto}"] = entries
    return report
