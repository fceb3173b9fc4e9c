"""Helpers of the network tests: network namespaces standing in for containers,
a fake upstream resolver on the host's loopback (so that no DNS query ever
leaves this machine), and readers of the host's state."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from ipaddress import IPv4Address

from nbdock.network import dns

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


def host_state() -> tuple[list[str], list[str]]:
    """nbdock's links and iptables lines on the host right now."""
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    own_links = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()
                 if line.split(":")[1].strip().startswith(("nbdock0", "nb-", "nbv", "nbp"))]
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    own_rules = [line for line in rules.splitlines() if "NBDOCK" in line or "nbdock0" in line or " nb-" in line]
    return own_links, own_rules


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


