"""Helpers of the network tests: network namespaces standing in for containers,
a fake upstream resolver on the host's loopback (so that no DNS query ever
leaves this machine), and readers of the host's state."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from ipaddress import IPv4Address

from nbdock.network import dns
from nbdock.network.instance import HostNames

#: What the fake upstream resolver knows: one name, in TEST-NET-2 (never contacted).
UPSTREAM_NAME = "upstream.example"
UPSTREAM_ADDRESS = IPv4Address("198.51.100.7")


class Namespace:
    """A process in a network namespace of its own (``unshare --net sleep``), killed by pid."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(["unshare", "--net", "sleep", "600"])
        self.path = f"/proc/{self.process.pid}/ns/net"
        deadline = time.monotonic() + 5
        while os.readlink(self.path) == os.readlink("/proc/self/ns/net"):
            if time.monotonic() > deadline:
                raise RuntimeError("unshare did not create a network namespace")
            time.sleep(0.01)

    def run(self, *command: str, timeout: float = 20) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", f"--net={self.path}", *command], capture_output=True, text=True, timeout=timeout
        )

    def start(self, *command: str) -> subprocess.Popen:
        """A background program inside the namespace (the caller kills it)."""
        return subprocess.Popen(["nsenter", f"--net={self.path}", *command],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()




class FakeUpstream:
    """A resolver on 127.53.0.x:53 (UDP and TCP) that knows UPSTREAM_NAME and answers NXDOMAIN otherwise."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        for last in range(1, 250):
            self.address = f"127.53.0.{last}"
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.tcp = socket.socket()
            try:
                self.udp.bind((self.address, 53))
                self.tcp.bind((self.address, 53))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        else:
            raise RuntimeError("no free 127.53.0.x:53 for the fake upstream resolver")
        self.tcp.listen()
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=serve, daemon=True) for serve in (self._serve_udp, self._serve_tcp)]
        for thread in self._threads:
            thread.start()

    def _answer(self, message: bytes) -> bytes:
        query = dns.parse_query(message)
        self.queries.append(query.question.name)
        if query.question.name == UPSTREAM_NAME and query.question.qtype == dns.TYPE_A:
            return dns.a_reply(query, [UPSTREAM_ADDRESS])
        return dns.error_reply(message, 3)  # NXDOMAIN

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                message, client = self.udp.recvfrom(4096)
            except socket.timeout:
                continue
            self.udp.sendto(self._answer(message), client)

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.tcp.accept()
            except socket.timeout:
                continue
            with connection:
                connection.settimeout(5)
                length = struct.unpack("!H", connection.recv(2))[0]
                message = b""
                while len(message) < length:
                    message += connection.recv(length - len(message))
                reply = self._answer(message)
                connection.sendall(struct.pack("!H", len(reply)) + reply)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.udp.close()
        self.tcp.close()


def host_state(names: HostNames) -> tuple[list[str], list[str]]:
    """One nbdock instance's links and iptables lines on the host right now (another instance's are not listed)."""
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    all_links = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
    chains = {chain for _table, chain in names.chains.all()}
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    own_rules = [line for line in rules.splitlines()
                 if any(word in chains or names.owns_link(word) for word in line.lstrip(":").split())]
    return [name for name in all_links if names.owns_link(name)], own_rules


def without_counters(rules: list[str]) -> list[str]:
    """iptables-save lines without the chain headers, whose packet counters move."""
    return [line for line in rules if not line.startswith(":")]


CRASHING_DAEMON = textwrap.dedent(
    """
    import os, sys
    from nbdock.network import NetworkManager
    data_root, resolv_conf, netns = sys.argv[1:]
    nm = NetworkManager(data_root, host_resolv_conf=resolv_conf)
    nm.start()
    nm.create("nbtest-crash")
    endpoint = nm.connect("nbtest-crash", "d" * 64, name="victim")
    nm.plug(endpoint, netns)
    bindings = nm.publish("d" * 64, endpoint, {"80/tcp": [{"HostPort": ""}]}, ["80/tcp"], False)
    print(bindings["80/tcp"][0]["HostPort"], endpoint.host_ifname, flush=True)
    os._exit(1)  # a crash: no shutdown
    """
)


def crash_a_daemon(data_root: str, host_resolv_conf: str, ns: Namespace) -> tuple[str, str]:
    """Run a manager in a process that dies without shutting down, with a network, a
    container (``ns``) plugged into it and a published port; returns (host port, host veth)."""
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_DAEMON, data_root, host_resolv_conf, ns.path],
        capture_output=True, text=True, timeout=60,
    )
    assert crashed.returncode == 1, crashed.stderr
    port, host_veth = crashed.stdout.split()
    return port, host_veth


def listening(port: int, proto: str = "tcp") -> bool:
    """Whether a socket on the host listens on (tcp) or is bound to (udp) ``port``, read from /proc/net as ss does."""
    for table in (f"/proc/net/{proto}", f"/proc/net/{proto}6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                # TCP state 0A is LISTEN; a closed connection's TIME_WAIT entry (06) holds no port.
                if local_port == port and (proto == "udp" or fields[3] == "0A"):
                    return True
    return False


def wait_for_port(ns: Namespace, port: int, proto: str = "tcp") -> None:
    """Wait until a program in ``ns`` has bound ``port``."""
    table = "/proc/net/tcp" if proto == "tcp" else "/proc/net/udp"
    for _ in range(100):
        if f":{port:04X} " in ns.run("cat", table).stdout:
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {proto} {port} in the namespace")


def query(ns: Namespace, name: str, qtype: int = dns.TYPE_A, tcp: bool = False) -> dns.Reply:
    """Ask 127.0.0.11 inside ``ns`` with a small Python client run there."""
    message = dns.build_query(0x4242, name, qtype)
    script = (
        "import socket,struct,sys\n"
        f"m=bytes.fromhex('{message.hex()}')\n"
        f"tcp={tcp}\n"
        "s=socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM); s.settimeout(5)\n"
        "s.connect(('127.0.0.11',53))\n"
        "if tcp:\n"
        "    s.sendall(struct.pack('!H',len(m))+m); n=struct.unpack('!H',s.recv(2))[0]; r=b''\n"
        "    while len(r)<n: r+=s.recv(n-len(r))\n"
        "else:\n"
        "    s.send(m); r=s.recv(4096)\n"
        "sys.stdout.write(r.hex())\n"
    )
    done = ns.run(shutil.which("python3") or "python3", "-c", script)
    assert done.returncode == 0, done.stderr
    return dns.parse_reply(bytes.fromhex(done.stdout))


def a_records(reply: dns.Reply) -> list[IPv4Address]:
    return [IPv4Address(rdata) for rtype, rdata in reply.answers if rtype == dns.TYPE_A]


def host_address() -> str | None:
    """A non-loopback IPv4 address of the host (not on an nbdock or docker bridge)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if not fields[1].startswith(("nbdock", "nb-", "docker", "br-")):
            return fields[3].split("/")[0]
    return None


