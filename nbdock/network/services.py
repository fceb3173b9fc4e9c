"""The network services nbdock runs itself: userland proxies and the embedded DNS resolver.

They all live on one thread running an asyncio event loop, started by
``NetworkManager.start()``.  The manager's methods run on the engine's
worker threads and hand work to this loop with :meth:`ServiceThread.call`.

**Userland proxy.**  iptables DNAT rewrites packets arriving for a published
port to the container's address, but it cannot carry traffic sent to
127.0.0.1: the rewritten packet would leave for the bridge with a loopback
source address, which the kernel refuses to route ("martian").  So, as
docker-proxy does, nbdock also listens on the published port itself and
copies bytes between each client and the container.  The listening socket
doubles as the port's reservation.

**Embedded DNS.**  For a container on a user-defined network, nbdock opens
a UDP and a TCP socket bound to 127.0.0.11:53 *inside the container's
network namespace* (see netlink.run_in_netns), and answers them here: names
of containers sharing a network come from the manager's name table, other
questions go to the host's resolvers.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Awaitable, Callable, TypeVar

from nbdock.network import dns

T = TypeVar("T")

COPY_CHUNK = 65536
#: A UDP "connection" through the proxy is forgotten after this long without traffic (docker-proxy: 90s).
UDP_FLOW_IDLE_SECONDS = 90.0
#: How long the resolver waits for one upstream server before trying the next.
UPSTREAM_TIMEOUT_SECONDS = 2.0
DNS_PORT = 53


class ServiceThread:
    """An asyncio event loop on a thread of its own."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(loop,), name="nbdock-network-services", daemon=True)
        self.loop = loop
        self._thread.start()

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    def call(self, make: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run the coroutine ``make()`` on the loop and wait for its result."""
        if self.loop is None:
            raise RuntimeError("the network service thread is not running: call NetworkManager.start() first")

        async def runner() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result(timeout)

    def stop(self) -> None:
        """Cancel what still runs (connections being torn down), then end the loop and its thread."""
        if self.loop is None:
            return
        self.call(_cancel_other_tasks)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
        self.loop = None
        self._thread = None


async def _cancel_other_tasks() -> None:
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


# ---------------------------------------------------------------------------
# Userland proxies


class TcpProxy:
    """Accept on a published port; for each client, connect to the container and copy both ways."""

    def __init__(self, listener: socket.socket, container: tuple[str, int]):
        self.listener = listener
        self.container = container
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, sock=self.listener)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._writers.add(client_writer)
        try:
            try:
                reader, writer = await asyncio.open_connection(*self.container)
            except OSError:
                return  # the container does not listen (yet): the client sees the connection close
            self._writers.add(writer)
            try:
                await asyncio.gather(_copy(client_reader, writer), _copy(reader, client_writer))
            finally:
                self._writers.discard(writer)
                writer.close()
        finally:
            self._writers.discard(client_writer)
            client_writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        self.listener.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of file, then pass the end on (a half-close), as TCP allows."""
    try:
        while data := await reader.read(COPY_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


@dataclass
class _UdpFlow:
    sock: socket.socket
    idle_timer: asyncio.TimerHandle | None = None


class UdpProxy:
    """Relay datagrams between clients and the container.

    UDP has no connections, so the proxy invents them: each client address
    gets its own socket connected to the container, and what the container
    sends back on it is returned to that client from the published port.
    """

    def __init__(self, listener: socket.socket, container: tuple[str, int]):
        self.listener = listener
        self.container = container
        self._flows: dict[tuple, _UdpFlow] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.listener.setblocking(False)
        self._loop.add_reader(self.listener, self._from_client)

    def _from_client(self) -> None:
        try:
            data, client = self.listener.recvfrom(COPY_CHUNK)
        except OSError:
            return
        flow = self._flows.get(client) or self._open_flow(client)
        self._touch(client, flow)
        try:
            flow.sock.send(data)
        except OSError:
            pass  # e.g. ICMP port unreachable from an earlier datagram: UDP just loses it

    def _open_flow(self, client: tuple) -> _UdpFlow:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        sock.connect(self.container)
        flow = self._flows[client] = _UdpFlow(sock)
        self._loop.add_reader(sock, self._from_container, client, sock)
        return flow

    def _from_container(self, client: tuple, sock: socket.socket) -> None:
        try:
            data = sock.recv(COPY_CHUNK)
            self.listener.sendto(data, client)
        except OSError:
            return
        flow = self._flows.get(client)
        if flow is not None:
            self._touch(client, flow)

    def _touch(self, client: tuple, flow: _UdpFlow) -> None:
        if flow.idle_timer is not None:
            flow.idle_timer.cancel()
        flow.idle_timer = self._loop.call_later(UDP_FLOW_IDLE_SECONDS, self._close_flow, client)

    def _close_flow(self, client: tuple) -> None:
        flow = self._flows.pop(client, None)
        if flow is None:
            return
        if flow.idle_timer is not None:
            flow.idle_timer.cancel()
        self._loop.remove_reader(flow.sock)
        flow.sock.close()

    async def close(self) -> None:
        for client in list(self._flows):
            self._close_flow(client)
        if self._loop is not None:
            self._loop.remove_reader(self.listener)
        self.listener.close()


# ---------------------------------------------------------------------------
# Embedded DNS


@dataclass(frozen=True)
class NameTable:
    """Who can resolve whom: an immutable snapshot, replaced whole whenever endpoints change.

    The resolver reads it without a lock (swapping one reference is atomic),
    so a DNS query never waits for, or deadlocks with, a manager operation.
    """

    #: container id -> ids of the user-defined networks it is attached to
    networks_of: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: network id -> (network name, [(names, address)]) of every endpoint on it: an entry per
    #: address, so an endpoint with an IPv6 address too has two
    members: dict[str, tuple[str, list[tuple[frozenset[str], IPv4Address | IPv6Address]]]] = field(default_factory=dict)
    #: (container id, network id) -> {link alias: linked container's name}.  A legacy ``--link``
    #: on a user-defined network writes no /etc/hosts line: Docker's resolver answers the alias
    #: for the linking container only, with the linked container's address on that network.
    link_aliases: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def addresses(self, container_id: str, name: str, version: int = 4) -> list[IPv4Address | IPv6Address] | None:
        """The IPv``version`` addresses ``name`` has for this container's networks; None if it is not a container name."""
        found: list[IPv4Address | IPv6Address] = []
        known = False
        for network_id in self.networks_of.get(container_id, ()):
            _, endpoints = self.members.get(network_id, ("", []))
            name_here = self.link_aliases.get((container_id, network_id), {}).get(name, name)
            for names, address in endpoints:
                if name_here in names:
                    known = True
                    if address.version == version and address not in found:
                        found.append(address)
        return found if known else None

    def reverse(self, container_id: str, address: IPv4Address) -> str | None:
        """``name.network`` for an address on one of this container's networks (Docker's PTR answer)."""
        for network_id in self.networks_of.get(container_id, ()):
            network_name, endpoints = self.members.get(network_id, ("", []))
            for names, member_address in endpoints:
                if member_address == address:
                    return f"{min(names, key=len)}.{network_name}"
        return None


class DnsServer:
    """127.0.0.11:53 (UDP and TCP) for one container."""

    def __init__(
        self,
        container_id: str,
        udp: socket.socket,
        tcp: socket.socket,
        names: Callable[[], NameTable],
        upstreams: Callable[[], list[str]],
    ):
        self.container_id = container_id
        self.udp = udp
        self.tcp = tcp
        self._names = names
        self._upstreams = upstreams
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.udp.setblocking(False)
        self._loop.add_reader(self.udp, self._udp_query)
        self._server = await asyncio.start_server(self._tcp_client, sock=self.tcp)

    def _udp_query(self) -> None:
        try:
            message, client = self.udp.recvfrom(COPY_CHUNK)
        except OSError:
            return
        task = self._loop.create_task(self._answer_udp(message, client))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_udp(self, message: bytes, client: tuple) -> None:
        reply = self.local_answer(message)
        if reply is None:
            reply = await forward_udp(message, self._upstreams())
        if not reply:
            return  # not even a header to answer to
        try:
            self.udp.sendto(reply, client)
        except OSError:
            pass

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Over TCP each message is preceded by its length in two bytes.
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                message = await reader.readexactly(length)
                reply = self.local_answer(message)
                if reply is None:
                    reply = await forward_tcp(message, self._upstreams())
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def local_answer(self, message: bytes) -> bytes | None:
        """Our answer to ``message``, or None if it must go to the host's resolvers."""
        try:
            query = dns.parse_query(message)
        except dns.DnsFormatError:
            return dns.error_reply(message, dns.RCODE_FORMERR) or b""
        question = query.question
        table = self._names()
        if question.qtype == dns.TYPE_PTR and question.name.endswith(".in-addr.arpa"):
            target = table.reverse(self.container_id, _address_of_reverse_name(question.name))
            return dns.ptr_reply(query, target) if target else None
        version = {dns.TYPE_A: 4, dns.TYPE_AAAA: 6}.get(question.qtype, 0)
        addresses = table.addresses(self.container_id, question.name, version)
        if addresses is None:
            return None
        # A container name: A records for A queries, AAAA for AAAA (its IPv6 addresses, on
        # networks made with --ipv6), an empty answer for the rest (the name exists, it just
        # has no record of that type).
        return dns.a_reply(query, addresses)

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.udp)
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        self.udp.close()
        self.tcp.close()


def _address_of_reverse_name(name: str) -> IPv4Address | None:
    parts = name[: -len(".in-addr.arpa")].split(".")
    if len(parts) != 4:
        return None
    try:
        return ip_address(".".join(reversed(parts)))
    except ValueError:
        return None


async def forward_udp(message: bytes, upstreams: list[str]) -> bytes:
    """Ask each upstream resolver in turn; SERVFAIL if none answers."""
    loop = asyncio.get_running_loop()
    for server in upstreams:
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as sock:
            try:
                sock.connect((server, DNS_PORT))
                await loop.sock_sendall(sock, message)
                reply = await asyncio.wait_for(loop.sock_recv(sock, COPY_CHUNK), UPSTREAM_TIMEOUT_SECONDS)
            except (OSError, asyncio.TimeoutError):
                continue
            if reply[:2] == message[:2]:
                return reply
    return dns.error_reply(message, dns.RCODE_SERVFAIL) or b""


async def forward_tcp(message: bytes, upstreams: list[str]) -> bytes:
    for server in upstreams:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(server, DNS_PORT), UPSTREAM_TIMEOUT_SECONDS)
        except (OSError, asyncio.TimeoutError):
            continue
        try:
            writer.write(struct.pack("!H", len(message)) + message)
            (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), UPSTREAM_TIMEOUT_SECONDS))
            return await asyncio.wait_for(reader.readexactly(length), UPSTREAM_TIMEOUT_SECONDS)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            continue
        finally:
            writer.close()
    return dns.error_reply(message, dns.RCODE_SERVFAIL) or b""


def open_dns_sockets() -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets on 127.0.0.11:53, in the calling thread's network namespace."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        udp.bind(("127.0.0.11", DNS_PORT))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.11", DNS_PORT))
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return udp, tcp
