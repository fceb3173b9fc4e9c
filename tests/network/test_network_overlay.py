"""Overlay networks between nbdock daemons on separate "hosts", over a real etcd and real VXLAN.

The hosts are network namespaces made by the test (``ip netns add``), joined
by an underlay: a bridge in a third namespace, where etcd runs, with a veth
pair to each host.  Addresses are 10.213.0.x inside those namespaces only;
nothing is routed anywhere else.  Each host runs its own nbdock daemon
(``nsenter --net``: same mounts and cgroups as the test, its own network
stack), with its own data root and socket, driven by the real docker CLI::

      netns <tag>ul: bridge ul0 10.213.0.254, etcd :2379
        |  veth                     |  veth                   |  veth (the lease test's third host)
      netns <tag>a: eth0 10.213.0.1  netns <tag>b: eth0 10.213.0.2   netns <tag>c: 10.213.0.3
      nbdock daemon A               nbdock daemon B               nbdock daemon C

Every process is ended by its pid, every namespace deleted, etcd's data
directory is the test's own.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from nbdock.network import netlink
from nbdock.network.clusterstore import EtcdClient

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("etcd") is None, reason="needs etcd (Debian's etcd-server)"),
]

UNDERLAY = IPv4Network("10.213.0.0/24")
STORE_ADDRESS = "10.213.0.254"
ETCD_PORT = 2379
TTL = 3  # seconds: how long a killed daemon's containers stay in the store


def run(*command: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}): {result.stdout}{result.stderr}")
    return result


def wait_for(condition, what: str, timeout: float = 20.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


class Underlay:
    """The namespaces and the etcd between them."""

    def __init__(self, base: Path):
        self.base = base
        self.tag = secrets.token_hex(2)
        self.store_ns = f"nbovt{self.tag}ul"
        self.namespaces = [self.store_ns]
        run("ip", "netns", "add", self.store_ns)
        self.ip("link", "add", "ul0", "type", "bridge")
        self.ip("addr", "add", f"{STORE_ADDRESS}/24", "dev", "ul0")
        self.ip("link", "set", "ul0", "up")
        self.ip("link", "set", "lo", "up")
        self.etcd: subprocess.Popen | None = None
        self.etcd_dir = base / "etcd"
        self.start_etcd()

    def ip(self, *args: str) -> str:
        return run("ip", "-n", self.store_ns, *args).stdout

    def add_host(self, letter: str, address: str) -> str:
        ns = f"nbovt{self.tag}{letter}"
        run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        outer = f"ul{letter}"
        self.ip("link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.ip("link", "set", outer, "master", "ul0", "up")
        run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    def start_etcd(self) -> None:
        url = f"http://{STORE_ADDRESS}"
        log = open(self.base / "etcd.log", "a")
        self.etcd = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.store_ns}", "etcd", "--name", "store",
             "--data-dir", str(self.etcd_dir),
             "--listen-client-urls", f"{url}:{ETCD_PORT}", "--advertise-client-urls", f"{url}:{ETCD_PORT}",
             "--listen-peer-urls", f"{url}:2380", "--initial-advertise-peer-urls", f"{url}:2380",
             "--initial-cluster", f"store={url}:2380"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self._store_answers(), "etcd to answer")

    def _store_answers(self) -> bool:
        try:
            self.keys("/")
            return True
        except Exception:  # noqa: BLE001 - not up yet
            if self.etcd.poll() is not None:
                raise AssertionError(f"etcd exited: {(self.base / 'etcd.log').read_text()[-2000:]}")
            return False

    def stop_etcd(self) -> None:
        self.etcd.send_signal(signal.SIGTERM)
        try:
            self.etcd.wait(10)
        except subprocess.TimeoutExpired:
            self.etcd.kill()
            self.etcd.wait()

    def keys(self, prefix: str) -> dict[str, object]:
        """What etcd holds under ``prefix`` (read from inside the store's namespace)."""
        def read():
            kvs, _ = EtcdClient([(STORE_ADDRESS, ETCD_PORT)]).get_prefix(prefix)
            return {kv.key: kv.json() for kv in kvs}

        return netlink.run_in_netns(f"/run/netns/{self.store_ns}", read)

    def close(self) -> None:
        self.stop_etcd()
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns, check=False)


class Daemon:
    """An nbdock daemon inside a host namespace, with its own data root and socket."""

    def __init__(self, base: Path, ns: str, address: str, name: str):
        self.ns = ns
        self.address = address
        self.dir = base / name
        self.dir.mkdir(exist_ok=True)
        self.socket = self.dir / "nbdock.sock"
        self.host = f"unix://{self.socket}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.dir / "daemon.log", "a")
        self.process = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.ns}", sys.executable, "-m", "nbdock", "daemon",
             "--host", self.host, "--data-root", str(self.dir / "root"), "--offline",
             "--cluster-store", f"etcd://{STORE_ADDRESS}:{ETCD_PORT}", "--cluster-advertise", self.address,
             "--cluster-store-opt", f"discovery.ttl={TTL}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self._pings(), f"daemon {self.address} to start", timeout=60)
        self.docker("pull", "-q", "busybox")

    def _pings(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"daemon exited: {(self.dir / 'daemon.log').read_text()[-3000:]}")
        return self.docker("version", check=False).returncode == 0

    def docker(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        return run("docker", "-H", self.host, *args, check=check, timeout=timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no clean-up at all (the spawner then ends the daemon's containers, as it must)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    @property
    def tag(self) -> str:
        from nbdock.network.instance import instance_tag

        return instance_tag(str(self.dir / "root"))

    def sandbox(self, network_id: str) -> str:
        return f"nbov-{network_id[:12]}-{self.tag}"

    def vxlan(self, network_id: str) -> str:
        return f"nbx{network_id[:6]}-{self.tag}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("overlay")
    underlay = Underlay(base)
    daemons: list[Daemon] = []
    try:
        for letter, last in (("a", 1), ("b", 2)):
            address = str(UNDERLAY.network_address + last)
            daemon = Daemon(base, underlay.add_host(letter, address), address, letter)
            daemon.start()
            daemons.append(daemon)
        yield underlay, daemons[0], daemons[1]
    finally:
        for daemon in daemons:
            daemon.stop()
        underlay.close()
        # A daemon that died in a failed test leaves its overlay namespaces (its next start would remove them).
        tags = tuple(f"-{daemon.tag}" for daemon in daemons)
        leftovers = [name for name in os.listdir("/run/netns") if name.startswith("nbov-") and name.endswith(tags)]
        for name in leftovers:
            run("ip", "netns", "del", name, check=False)
        # A daemon stopped cleanly removes every namespace it made.
        assert not (leftovers and all(d.process.returncode == 0 for d in daemons)), leftovers


def network_id(daemon: Daemon, name: str) -> str:
    return daemon.docker("network", "inspect", "-f", "{{.Id}}", name).stdout.strip()


def test_info_shows_the_cluster_store(cluster):
    underlay, a, b = cluster
    # The fields of Docker 1.12-20.10's /info (today's docker CLI no longer prints them; the API shows them).
    import docker

    for daemon in (a, b):
        client = docker.APIClient(base_url=daemon.host, version="auto")
        info = client.info()
        client.close()
        assert (info["ClusterStore"], info["ClusterAdvertise"]) == (f"etcd://{STORE_ADDRESS}:{ETCD_PORT}", daemon.address)


def test_overlay_network_is_seen_by_every_daemon(cluster):
    underlay, a, b = cluster
    a.docker("network", "create", "-d", "overlay", "--subnet", "10.77.0.0/24", "seen")
    try:
        ident = network_id(a, "seen")
        on_b = json.loads(b.docker("network", "inspect", "seen").stdout)[0]
        assert (on_b["Id"], on_b["Driver"], on_b["Scope"]) == (ident, "overlay", "global")
        assert on_b["IPAM"]["Config"] == [{"Subnet": "10.77.0.0/24", "Gateway": "10.77.0.1"}]
        assert "seen" in b.docker("network", "ls", "--filter", "driver=overlay", "--format", "{{.Name}}").stdout.split()
        # One name for the whole cluster.
        taken = b.docker("network", "create", "-d", "overlay", "seen", check=False)
        assert taken.returncode != 0 and "already exists" in taken.stderr
        overlapping = b.docker("network", "create", "-d", "overlay", "--subnet", "10.77.0.128/25", "other", check=False)
        assert overlapping.returncode != 0 and "overlaps" in overlapping.stderr
    finally:
        b.docker("network", "rm", "seen")
    wait_for(lambda: "seen" not in a.docker("network", "ls", "--format", "{{.Name}}").stdout.split(),
             "the removal to reach daemon A")
    assert not underlay.keys(f"/nbdock/networks/{ident}")


ALLOCATOR = textwrap.dedent("""
    import json, sys
    from nbdock.network.clusterstore import EtcdClient
    from nbdock.network.overlay import OverlayStore
    store = OverlayStore(EtcdClient([(sys.argv[1], int(sys.argv[2]))]))
    network, who, count = sys.argv[3], sys.argv[4], int(sys.argv[5])
    sys.stdin.readline()  # the starting gun: both processes allocate at once
    got = [str(store.allocate(network, {"name": f"{who}{i}", "node": who}, None, 0)[0]) for i in range(count)]
    print(json.dumps(got))
""")


def test_two_processes_allocating_at_once_never_share_an_address(cluster, tmp_path):
    underlay, a, b = cluster
    a.docker("network", "create", "-d", "overlay", "--subnet", "10.78.0.0/24", "ipam")
    ident = network_id(a, "ipam")
    script = tmp_path / "allocate.py"
    script.write_text(ALLOCATOR)
    count = 40
    try:
        workers = [
            subprocess.Popen(["nsenter", f"--net=/run/netns/{host.ns}", sys.executable, str(script), STORE_ADDRESS,
                              str(ETCD_PORT), ident, host.address, str(count)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for host in (a, b)
        ]
        time.sleep(1.0)  # both have imported and connected
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            results.append(json.loads(out))
        everything = results[0] + results[1]
        assert len(everything) == 2 * count
        assert len(set(everything)) == 2 * count, "an address was handed out twice"
        assert all(IPv4Address(ip) in IPv4Network("10.78.0.0/24") for ip in everything)
        assert "10.78.0.1" not in everything  # the gateway
        assert len(underlay.keys(f"/nbdock/endpoints/{ident}/")) == 2 * count
        # The store refuses to remove a network that still has endpoints, whichever host asks.
        busy = b.docker("network", "rm", "ipam", check=False)
        assert busy.returncode != 0 and "active endpoints" in busy.stderr
    finally:
        netlink.run_in_netns(f"/run/netns/{underlay.store_ns}", lambda: EtcdClient(
            [(STORE_ADDRESS, ETCD_PORT)]).delete_prefix(f"/nbdock/endpoints/{ident}/"))
        a.docker("network", "rm", "ipam")


def fdb(daemon: Daemon, ident: str) -> str:
    """The VXLAN device's own forwarding table (``self``; the bridge's learnt entries are ``master``)."""
    shown = run("ip", "netns", "exec", daemon.sandbox(ident), "bridge", "fdb", "show", "dev", daemon.vxlan(ident),
                check=False).stdout
    return "".join(line + "\n" for line in shown.splitlines() if " master " not in line)


def resolves(daemon: Daemon, network: str, name: str) -> str:
    """What ``nslookup name`` prints in a fresh container on ``network`` (empty if it does not resolve)."""
    result = daemon.docker("run", "--rm", "--network", network, "busybox", "nslookup", name, check=False)
    return result.stdout if result.returncode == 0 else ""


def test_containers_on_two_hosts_reach_each_other_by_ip_and_name(cluster):
    underlay, a, b = cluster
    a.docker("network", "create", "-d", "overlay", "web")
    ident = network_id(a, "web")
    try:
        a.docker("run", "-d", "--name", "site", "--network", "web", "busybox", "sh", "-c",
                 "mkdir /www && echo hello from host A > /www/index.html && exec httpd -f -p 80 -h /www")
        site = json.loads(a.docker("inspect", "site").stdout)[0]["NetworkSettings"]["Networks"]["web"]
        assert IPv4Address(site["IPAddress"]) in IPv4Network("10.0.0.0/8")
        # Daemon B learns of it through its watch: an FDB entry pointing at A's VTEP once B has a sandbox.
        wait_for(lambda: resolves(b, "web", "site"), "B's DNS to know site")
        out = b.docker("run", "--rm", "--network", "web", "busybox", "sh", "-c",
                       f"cat /sys/class/net/eth0/mtu && ping -c 2 -W 2 {site['IPAddress']} >/dev/null && echo pinged"
                       " && wget -qO- http://site/ && wget -qO- http://site.web/").stdout
        assert out.split("\n")[:4] == ["1450", "pinged", "hello from host A", "hello from host A"]

        # While a container runs on B, B's sandbox has the remote MAC behind A's VTEP.
        b.docker("run", "-d", "--name", "client", "--network", "web", "busybox", "sleep", "600")
        wait_for(lambda: f"{site['MacAddress']} dst {a.address}" in fdb(b, ident), "the FDB entry on B")
        client = json.loads(b.docker("inspect", "client").stdout)[0]["NetworkSettings"]["Networks"]["web"]
        assert client["IPAddress"] != site["IPAddress"]
        # And A can reach B's container by name too.
        assert "1 packets received" in a.docker("exec", "site", "ping", "-c", "1", "-W", "2", "client").stdout
        vxlan = run("ip", "netns", "exec", b.sandbox(ident), "ip", "-d", "link", "show", b.vxlan(ident)).stdout
        assert "mtu 1450" in vxlan and "dstport 4789" in vxlan and "nolearning" in vxlan and "proxy" in vxlan

        # Removed on A: gone from B's DNS and FDB.
        a.docker("rm", "-f", "site")
        wait_for(lambda: f"{site['MacAddress']} dst {a.address}" not in fdb(b, ident), "the FDB entry to go")
        neighbours = run("ip", "netns", "exec", b.sandbox(ident), "ip", "neigh", "show", "dev", b.vxlan(ident)).stdout
        assert site["IPAddress"] not in neighbours
        assert not b.docker("exec", "client", "nslookup", "site", check=False).stdout.count(site["IPAddress"])
    finally:
        a.docker("rm", "-f", "site", check=False)
        b.docker("rm", "-f", "client", check=False)
        a.docker("network", "rm", "web", check=False)


def test_overlay_networks_are_isolated(cluster):
    underlay, a, b = cluster
    a.docker("network", "create", "-d", "overlay", "red")
    a.docker("network", "create", "-d", "overlay", "blue")
    try:
        b.docker("run", "-d", "--name", "redbox", "--network", "red", "busybox", "sleep", "600")
        red_ip = json.loads(b.docker("inspect", "redbox").stdout)[0]["NetworkSettings"]["Networks"]["red"]["IPAddress"]
        wait_for(lambda: resolves(a, "red", "redbox"), "A to know redbox on red")
        assert "1 packets received" in a.docker(
            "run", "--rm", "--network", "red", "busybox", "ping", "-c", "1", "-W", "2", red_ip).stdout
        # From blue: neither the name nor the address.
        assert not resolves(a, "blue", "redbox")
        blocked = a.docker("run", "--rm", "--network", "blue", "busybox", "ping", "-c", "1", "-W", "1", red_ip,
                           check=False)
        assert blocked.returncode != 0
    finally:
        b.docker("rm", "-f", "redbox", check=False)
        a.docker("network", "rm", "red", "blue", check=False)


def test_a_killed_daemon_drops_out_when_its_lease_expires_and_reconciles_on_restart(cluster):
    underlay, a, b = cluster
    c = Daemon(underlay.base, underlay.add_host("c", str(UNDERLAY.network_address + 3)), "10.213.0.3", "c")
    c.start()
    try:
        a.docker("network", "create", "-d", "overlay", "lease")
        ident = network_id(a, "lease")
        b.docker("run", "-d", "--name", "watcher", "--network", "lease", "busybox", "sleep", "600")
        c.docker("run", "-d", "--name", "doomed", "--network", "lease", "busybox", "sleep", "600")
        doomed = json.loads(c.docker("inspect", "doomed").stdout)[0]["NetworkSettings"]["Networks"]["lease"]
        wait_for(lambda: doomed["MacAddress"] in fdb(b, ident), "B to learn of C's container")
        assert doomed["IPAddress"] in b.docker("exec", "watcher", "nslookup", "doomed").stdout

        c.kill()
        killed_at = time.monotonic()
        wait_for(lambda: doomed["MacAddress"] not in fdb(b, ident), "the lease to expire", timeout=TTL + 15)
        # It went with the lease: at most a TTL after the last renewal (renewals come every TTL/3 or so).
        assert time.monotonic() - killed_at >= TTL / 3
        assert doomed["IPAddress"] not in b.docker("exec", "watcher", "nslookup", "doomed", check=False).stdout
        assert f"/nbdock/nodes/{c.address}" not in underlay.keys("/nbdock/nodes/")
        # The kill left C's sandbox behind (nothing cleaned up): the restart removes it and joins again.
        assert c.sandbox(ident) in run("ip", "netns", "list").stdout
        c.start()
        assert c.sandbox(ident) not in run("ip", "netns", "list").stdout
        assert f"/nbdock/nodes/{c.address}" in underlay.keys("/nbdock/nodes/")
        c.docker("run", "-d", "--name", "reborn", "--network", "lease", "busybox", "sleep", "600")
        assert "1 packets received" in c.docker("exec", "reborn", "ping", "-c", "1", "-W", "2", "watcher").stdout
    finally:
        c.docker("rm", "-f", "doomed", "reborn", check=False)
        c.stop()
        b.docker("rm", "-f", "watcher", check=False)
        a.docker("network", "rm", "lease", check=False)


def test_etcd_unreachable_fails_overlay_operations_clearly_and_leaves_bridges_working(cluster):
    underlay, a, b = cluster
    underlay.stop_etcd()
    try:
        refused = a.docker("network", "create", "-d", "overlay", "nostore", check=False, timeout=120)
        assert refused.returncode != 0
        assert f"etcd://{STORE_ADDRESS}:{ETCD_PORT}" in refused.stderr and "unreachable" in refused.stderr
        a.docker("network", "create", "local1")
        try:
            out = a.docker("run", "--rm", "--network", "local1", "busybox", "echo", "still here").stdout
            assert out == "still here\n"
        finally:
            a.docker("network", "rm", "local1")
    finally:
        underlay.start_etcd()
    # The daemon joins again by itself once etcd is back.
    wait_for(lambda: a.docker("network", "create", "-d", "overlay", "back", check=False).returncode == 0,
             "overlay networks to work again", timeout=30, interval=1)
    # B's watch is running again too: `network ls` (which never reads the store itself) shows A's network.
    wait_for(lambda: "back" in b.docker("network", "ls", "--format", "{{.Name}}").stdout.split(),
             "B's watch to bring the network", timeout=30)
    a.docker("network", "rm", "back")


def test_a_removed_network_leaves_nothing_behind(cluster):
    underlay, a, b = cluster
    a.docker("network", "create", "-d", "overlay", "gone")
    ident = network_id(a, "gone")
    a.docker("run", "--rm", "--network", "gone", "busybox", "true")
    b.docker("run", "-d", "--name", "briefly", "--network", "gone", "busybox", "sleep", "600")
    assert b.sandbox(ident) in run("ip", "netns", "list").stdout
    b.docker("rm", "-f", "briefly")
    b.docker("network", "rm", "gone")
    netns = run("ip", "netns", "list").stdout
    for daemon in (a, b):
        assert daemon.sandbox(ident) not in netns
        links = run("ip", "-n", daemon.ns, "-o", "link", "show").stdout
        assert daemon.vxlan(ident) not in links and "vxlan" not in links
    assert not [key for key in underlay.keys("/nbdock/") if ident in key]


@pytest.mark.parametrize("flags, message", [
    (["--cluster-store", "consul://127.0.0.1:8500", "--cluster-advertise", "127.0.0.1"], "nbdock supports etcd only"),
    (["--cluster-store", "etcd://127.0.0.1", "--cluster-advertise", "127.0.0.1"], "is not HOST:PORT"),
    (["--cluster-store", "etcd://127.0.0.1:2379"], "--cluster-store needs --cluster-advertise"),
    (["--cluster-advertise", "127.0.0.1"], "must be accompanied by --cluster-store"),
    (["--cluster-store", "etcd://127.0.0.1:2379", "--cluster-advertise", "nosuchif0"], "not an IPv4 address nor an interface"),
    (["--cluster-store", "etcd://127.0.0.1:2379", "--cluster-advertise", "127.0.0.1",
      "--cluster-store-opt", "discovery.ttl=0"], "the TTL is 2 to 3600 seconds"),
])
def test_bad_cluster_flags_stop_the_daemon_with_a_message(tmp_path, flags, message):
    result = run(sys.executable, "-m", "nbdock", "daemon", "--host", f"unix://{tmp_path}/s.sock",
                 "--data-root", str(tmp_path / "root"), *flags, check=False)
    assert result.returncode == 1 and message in result.stderr
    assert not (tmp_path / "s.sock").exists()


def test_prune_keeps_overlay_networks(cluster):
    underlay, a, b = cluster
    a.docker("network", "create", "-d", "overlay", "kept")
    try:
        assert "kept" not in b.docker("network", "prune", "-f").stdout
        assert network_id(b, "kept")
    finally:
        a.docker("network", "rm", "kept")


def test_net_map_and_the_trace_show_the_cluster(cluster):
    underlay, a, b = cluster
    a.docker("network", "create", "-d", "overlay", "mapped")
    ident = network_id(a, "mapped")
    try:
        a.docker("run", "-d", "--name", "left", "--network", "mapped", "busybox", "sleep", "600")
        # B knows of left before right starts, so right's own trace holds the FDB entry for left.
        wait_for(lambda: " left " in run(sys.executable, "-m", "nbdock", "-H", b.host, "net", "map").stdout,
                 "B to know of left")
        b.docker("run", "-d", "--name", "right", "--network", "mapped", "busybox", "sleep", "600")
        shown = wait_for(lambda: (lambda out: out if "left" in out and "right" in out else "")(
            run(sys.executable, "-m", "nbdock", "-H", b.host, "net", "map").stdout), "B's map to show both")
        assert f"this host: {b.address}" in shown and f"{a.address}, {b.address}" in shown
        rows = {line.split()[5]: line.split() for line in shown.splitlines() if " mapped " in f" {line} "}
        assert rows["left"][3] == a.address and rows["right"][3] == b.address
        assert rows["right"][8] == b.vxlan(ident)  # this host's own device, by name
        # The kernel operations behind B's container: the namespace, br0, the VXLAN device, A's container's entries.
        trace = run(sys.executable, "-m", "nbdock", "-H", b.host, "trace", "right").stdout
        left_mac = json.loads(a.docker("inspect", "left").stdout)[0]["NetworkSettings"]["Networks"]["mapped"]["MacAddress"]
        for step in (f'netns_add(path="/run/netns/{b.sandbox(ident)}")', 'type="vxlan", vni=',
                     f'fdb_add(netns="/run/netns/{b.sandbox(ident)}", ifname="{b.vxlan(ident)}", lladdr="{left_mac}", '
                     f'dst="{a.address}")'):
            assert step in trace
    finally:
        a.docker("rm", "-f", "left", check=False)
        b.docker("rm", "-f", "right", check=False)
        a.docker("network", "rm", "mapped", check=False)


def test_containers_started_at_once_on_both_hosts_get_different_addresses(cluster):
    import threading

    underlay, a, b = cluster
    a.docker("network", "create", "-d", "overlay", "crowd")
    names = [f"crowd-{host.address.rsplit('.', 1)[1]}-{i}" for host in (a, b) for i in range(4)]
    try:
        def start(host: Daemon, name: str) -> None:
            host.docker("run", "-d", "--name", name, "--network", "crowd", "busybox", "sleep", "600")

        threads = [threading.Thread(target=start, args=(a if name.startswith("crowd-1-") else b, name)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        addresses = [json.loads((a if name.startswith("crowd-1-") else b).docker("inspect", name).stdout)[0]
                     ["NetworkSettings"]["Networks"]["crowd"]["IPAddress"] for name in names]
        assert len(set(addresses)) == len(names), addresses
    finally:
        for name in names:
            (a if name.startswith("crowd-1-") else b).docker("rm", "-f", name, check=False)
        a.docker("network", "rm", "crowd", check=False)
