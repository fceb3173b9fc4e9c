"""Overlay networks: one layer-2 network spanning several hosts, over VXLAN, agreed on through etcd.

A bridge network lives on one host: its containers are veth pairs on one
Linux bridge.  An *overlay* network (``docker network create -d overlay``)
joins containers on different hosts into one subnet, as if all their veth
pairs were plugged into one switch.  Docker 1.12-20.10 built it with a
cluster store (``--cluster-store etcd://...``) before swarm mode; nbdock does
the same, with the same kernel objects.

**The wire: VXLAN.**  A VXLAN device is a virtual Ethernet port that wraps
every frame it sends in a UDP datagram (port 4789, IANA's) with an 8-byte
header carrying a 24-bit *VNI*, the network's number, and sends it to the
underlay address of the host that has the destination MAC -- the "VTEP"
(VXLAN tunnel end point).  The receiving host's VXLAN device with that VNI
unwraps the frame and hands it to its bridge.  Wrapping costs 50 bytes
(outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8), so a 1500-byte underlay
carries inner frames of at most 1450 bytes: every interface of the overlay
gets MTU 1450, or large packets would be dropped.

**Who is where: the cluster store, not flooding.**  A VXLAN device can
*learn* which VTEP has which MAC by flooding unknown frames to every host
(multicast) and watching the replies.  Docker turns learning off and tells
the kernel instead, and so does nbdock: every container's endpoint (IP,
MAC, its host's VTEP) is a key in etcd, every daemon watches those keys,
and for each remote container it installs, in its own namespace of the
network:

* an FDB entry on the VXLAN device -- "MAC m is behind VTEP v"
  (``bridge fdb add m dev vx dst v``), which says where to send the datagram;
* a permanent neighbour entry -- "IP i has MAC m" (``ip neigh add``).  The
  VXLAN device is created with *proxy* on: it answers a container's ARP
  request itself from those entries, so ARP never crosses the underlay,
  and each host's bridge can hold the same gateway address (.1) without
  the hosts ever seeing each other's.

**Where the bridge lives: a namespace per network, as Docker does.**  The
bridge of an overlay network and its VXLAN device are put in a network
namespace of their own (``/run/netns/nbov-<id>``, so ``ip netns exec`` can
look inside), not on the host.  The reasons are Docker's: an overlay's
subnet is cluster-wide (10.0.x.0/24 by default) and must not become a route
of each host, where it could clash with the hosts' own networks; and two
overlay networks are isolated by construction -- separate namespaces,
separate bridges, separate VNIs -- with no iptables rule needed.  The VXLAN
device is created in the daemon's namespace, then moved into the network's:
a VXLAN device keeps its UDP socket in the namespace it was *created* in,
so it sends and receives on the host's underlay while its Ethernet side is
a port of the bridge inside.  Containers' veth pairs run from the
container's namespace to that bridge.

Overlay containers have no way out of the overlay (Docker adds a second
interface on ``docker_gwbridge`` for that; nbdock does not, yet): no
default route is added, as on an ``--internal`` network.

**Failures.**  Every key a daemon writes for its containers carries its
etcd *lease*, renewed every few seconds.  A daemon that dies stops renewing;
when the lease expires etcd deletes the keys, the watches of the other
daemons see the deletes, and they remove the FDB and neighbour entries and
the DNS names.  A daemon that restarts revokes its previous lease (its id is
kept in the data root), so its dead containers go at once.  If etcd cannot
be reached, overlay operations fail with a message saying so, and bridge,
host and none networks work as before.

Keys (under ``/nbdock/``)::

    networks/<network id>               the network: name, subnet, gateway, VNI (no lease: it is global)
    endpoints/<network id>/<ip>         a container's address: created only if absent (compare-and-swap),
                                        with its host's lease; value: name, aliases, MAC, VTEP, node
    nodes/<advertise address>           a live daemon (with its lease): for ``%dock net map``
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from ipaddress import IPv4Address, IPv4Network, ip_address
from typing import Any, Callable, Iterable, Mapping

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import ndmsg

from nbdock.errors import InvalidArgument
from nbdock.network import ipam, netlink
from nbdock.network.clusterstore import (
    ClusterStoreError,
    EtcdClient,
    Event,
    Watch,
    absent,
    delete_op,
    parse_store_url,
    prefix_empty,
    prefix_unchanged_since,
    present,
    put_op,
)
from nbdock.network.errors import InvalidNetworkArgument, NetworkConflict, NetworkForbidden, NetworkHostError, NetworkNotFound
from nbdock.network.instance import HostNames
from nbdock.kernel import libc
from nbdock.runtime.trace import NO_TRACE, Trace

log = logging.getLogger("nbdock.network.overlay")

OVERLAY = "overlay"

VXLAN_PORT = 4789  # IANA's port for VXLAN
#: Outer Ethernet (14) + IPv4 (20) + UDP (8) + VXLAN (8) = 50 bytes of every 1500.
VXLAN_OVERHEAD = 50
OVERLAY_MTU = 1500 - VXLAN_OVERHEAD
#: Docker's first VXLAN id for overlay networks (VNIs below are left to others).
FIRST_VNI = 4097
MAX_VNI = 2**24 - 1
VNI_OPTION = "com.docker.network.driver.overlay.vxlanid_list"

#: Docker's default pool for global networks: 10.0.0.0/8 in /24s.
GLOBAL_POOL_BASE = IPv4Network("10.0.0.0/8")
GLOBAL_POOL_PREFIX = 24

#: How long a dead daemon's containers linger in the others' view (Docker's --cluster-store-opt discovery.ttl).
DEFAULT_TTL_SECONDS = 20

ROOT = "/nbdock/"
NETWORKS = ROOT + "networks/"
ENDPOINTS = ROOT + "endpoints/"
NODES = ROOT + "nodes/"

NETNS_DIR = "/run/netns"  # where `ip netns` looks: students can `ip netns exec nbov-... ip link`
NETNS_KIND = "nbov-"
VXLAN_KIND = "nbx"
BRIDGE_IN_SANDBOX = "br0"

#: How many times a compare-and-swap is retried when another daemon got there first.
CAS_ATTEMPTS = 64


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------
# Configuration: --cluster-store, --cluster-advertise, --cluster-store-opt


@dataclass(frozen=True)
class ClusterConfig:
    store: str  # as given: etcd://HOST:PORT[,HOST:PORT...]
    members: tuple[tuple[str, int], ...]
    advertise: str  # as shown by `docker info`: ADDR or ADDR:PORT, the interface name resolved
    vtep: IPv4Address  # the address other hosts send this host's VXLAN datagrams to
    ttl: int = DEFAULT_TTL_SECONDS

    @property
    def node(self) -> str:
        """This daemon's name in the store: its advertised address."""
        return self.advertise

    @classmethod
    def parse(cls, store: str | None, advertise: str | None, options: Iterable[str] = ()) -> ClusterConfig | None:
        """The daemon's cluster flags; None without them (nothing changes then).  Bad flags: InvalidArgument."""
        options = list(options)
        if store is None:
            if advertise or options:
                raise InvalidArgument("--cluster-advertise and --cluster-store-opt must be accompanied by "
                                      "--cluster-store configuration")
            return None
        members = tuple(parse_store_url(store))
        if not advertise:
            raise InvalidArgument("--cluster-store needs --cluster-advertise ADDR[:PORT]: the address of this host "
                                  "that the other hosts' VXLAN traffic is sent to")
        ttl = DEFAULT_TTL_SECONDS
        for option in options:
            key, eq, value = option.partition("=")
            if key != "discovery.ttl" or not eq:
                raise InvalidArgument(f"invalid --cluster-store-opt {option!r}: nbdock knows discovery.ttl=SECONDS")
            if not value.isdigit() or not 2 <= int(value) <= 3600:
                raise InvalidArgument(f"invalid --cluster-store-opt {option!r}: the TTL is 2 to 3600 seconds")
            ttl = int(value)
        address, port = _split_advertise(advertise)
        vtep = _resolve_advertise(address)
        shown = f"{vtep}:{port}" if port else str(vtep)
        return cls(store=store, members=members, advertise=shown, vtep=vtep, ttl=ttl)


def _split_advertise(text: str) -> tuple[str, str]:
    address, colon, port = text.rpartition(":")
    if not colon:
        return text, ""
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgument(f"invalid --cluster-advertise {text!r}: expected ADDR[:PORT] or INTERFACE[:PORT]")
    return address, port


def _resolve_advertise(address: str) -> IPv4Address:
    """An IPv4 address as it is, or an interface's first IPv4 address (Docker accepts ``eth0:2376``)."""
    try:
        parsed = ip_address(address)
    except ValueError:
        parsed = None
    if parsed is not None:
        if parsed.version != 4:
            raise InvalidArgument(f"invalid --cluster-advertise {address!r}: nbdock's VXLAN underlay is IPv4 only")
        return parsed
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=address)
        if not found:
            raise InvalidArgument(f"invalid --cluster-advertise {address!r}: not an IPv4 address nor an interface")
        for entry in ipr.get_addr(family=2, index=found[0]):
            return IPv4Address(entry.get_attr("IFA_ADDRESS"))
    raise InvalidArgument(f"invalid --cluster-advertise {address!r}: the interface has no IPv4 address")


# ---------------------------------------------------------------------------
# The store's side: networks and addresses, with compare-and-swap


class OverlayStore:
    """Overlay networks and their addresses in etcd.  Stateless: every call reads what it needs."""

    def __init__(self, client: EtcdClient):
        self.client = client

    def networks(self) -> list[dict[str, Any]]:
        kvs, _ = self.client.get_prefix(NETWORKS)
        return [kv.json() for kv in kvs]

    def create_network(self, name: str, *, subnet: str | None, gateway: str | None, internal: bool,
                       labels: Mapping[str, str], options: Mapping[str, str], local_names: Iterable[str],
                       node: str) -> dict[str, Any]:
        """Define a cluster-wide network: a name, a subnet and a VNI no other network has.

        The checks read every network at one revision, and the write is
        made only if no network key changed since (``prefix_unchanged_since``):
        two daemons creating networks at the same moment are serialised, the
        loser re-reads and chooses again (or finds the name taken).
        """
        local_names = set(local_names)
        wanted = ipam.parse_subnet(subnet) if subnet else None
        for _ in range(CAS_ATTEMPTS):
            kvs, revision = self.client.get_prefix(NETWORKS)
            existing = [kv.json() for kv in kvs]
            if name in local_names or any(doc["name"] == name for doc in existing):
                raise NetworkConflict(f"network with name {name} already exists")
            taken = [IPv4Network(doc["subnet"]) for doc in existing]
            if wanted is not None:
                ipam.check_subnet_free(wanted, taken)
                chosen = wanted
            else:
                if gateway is not None:
                    raise InvalidNetworkArgument("a gateway can only be given with a subnet")
                chosen = _choose_global_subnet(taken)
            gateway_address = ipam.parse_address(gateway, "gateway") if gateway else ipam.default_gateway(chosen)
            ipam.check_gateway(gateway_address, chosen)
            vnis = {doc["vni"] for doc in existing}
            vni = next((v for v in range(FIRST_VNI, MAX_VNI) if v not in vnis), None)
            if vni is None:
                raise NetworkForbidden("no VXLAN id left for a new overlay network")
            doc = {
                "id": secrets.token_hex(32), "name": name, "subnet": str(chosen), "gateway": str(gateway_address),
                "vni": vni, "created": _now(), "internal": internal, "labels": dict(labels),
                "options": {VNI_OPTION: str(vni), **dict(options)}, "user_subnet": wanted is not None,
                "created_by": node,
            }
            ok, _ = self.client.txn([prefix_unchanged_since(NETWORKS, revision)],
                                    [put_op(NETWORKS + doc["id"], json.dumps(doc))])
            if ok:
                return doc
        raise ClusterStoreError(f"creating network {name}: the cluster store kept changing (tried {CAS_ATTEMPTS} times)")

    def remove_network(self, network_id: str, name: str) -> None:
        """Delete the network's key, only if no endpoint of any host is on it (one transaction)."""
        key = NETWORKS + network_id
        current = self.client.get(key)
        if current is None:
            raise NetworkNotFound(f"network {name} not found")
        ok, _ = self.client.txn([present(key, current.create_revision), prefix_empty(f"{ENDPOINTS}{network_id}/")],
                                [delete_op(key)])
        if not ok:
            if self.client.get(key) is None:
                raise NetworkNotFound(f"network {name} not found")
            raise NetworkForbidden(
                f"error while removing network: network {name} id {network_id} has active endpoints")

    def allocate(self, network_id: str, entry: dict[str, Any], requested: IPv4Address | None,
                 lease: int) -> tuple[IPv4Address, int]:
        """Take an address for ``entry`` (the endpoint's description): (address, revision of its key).

        The lowest free address is chosen from a fresh read, and its key is
        created only if it is still absent *and* the network is still the
        one read (not removed meanwhile): if another daemon took the address
        in between, the transaction fails and the next free one is tried.
        """
        network_key = NETWORKS + network_id
        for _ in range(CAS_ATTEMPTS):
            network = self.client.get(network_key)
            if network is None:
                raise NetworkNotFound(f"network {network_id} not found")
            doc = network.json()
            kvs, _ = self.client.get_prefix(f"{ENDPOINTS}{network_id}/")
            taken = [IPv4Address(kv.key.rsplit("/", 1)[1]) for kv in kvs]
            address = ipam.allocate_address(IPv4Network(doc["subnet"]), IPv4Address(doc["gateway"]), taken, requested)
            key = f"{ENDPOINTS}{network_id}/{address}"
            value = json.dumps({**entry, "ip": str(address), "mac": ipam.mac_address(address)})
            ok, answer = self.client.txn([present(network_key, network.create_revision), absent(key)],
                                         [put_op(key, value, lease)])
            if ok:
                return address, int(answer["header"]["revision"])
        raise ClusterStoreError(f"no address could be taken on network {network_id[:12]}: the cluster store kept "
                                f"changing (tried {CAS_ATTEMPTS} times)")

    def release(self, network_id: str, address: str, revision: int) -> None:
        """Free an address -- only the key this endpoint created (not one another daemon took since)."""
        key = f"{ENDPOINTS}{network_id}/{address}"
        self.client.txn([present(key, revision)], [delete_op(key)])


def _choose_global_subnet(taken: list[IPv4Network]) -> IPv4Network:
    for candidate in GLOBAL_POOL_BASE.subnets(new_prefix=GLOBAL_POOL_PREFIX):
        if not any(candidate.overlaps(other) for other in taken):
            return candidate
    raise NetworkForbidden("could not find an available, non-overlapping IPv4 address pool for the overlay network")


# ---------------------------------------------------------------------------
# The kernel's side: one namespace per network per host


def _create_netns(path: str) -> None:
    """A new, empty network namespace kept alive by a bind mount at ``path`` (what ``ip netns add`` does).

    unshare(CLONE_NEWNET) moves only the calling thread, so a throw-away
    thread makes the namespace, binds its /proc/thread-self/ns/net onto
    ``path`` -- a namespace lives as long as a process, an open file or a
    mount refers to it -- and ends.  (Forking ``ip netns add`` from a
    multi-threaded daemon is what nbdock avoids; see the spawner.)
    """
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "x"):
        pass
    outcome: dict[str, BaseException] = {}

    def thread_main() -> None:
        try:
            libc.unshare(libc.CLONE_NEWNET)
            libc.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path, None, libc.MS_BIND)
        except BaseException as err:  # handed to the caller below
            outcome["error"] = err

    thread = threading.Thread(target=thread_main, name=f"nbdock-netns-create {path}")
    thread.start()
    thread.join()
    if "error" in outcome:
        os.unlink(path)
        raise NetworkHostError(f"creating network namespace {path}: {outcome['error']}")


def _remove_netns(path: str) -> None:
    """Unmount and remove; the namespace, and every interface still in it, dies with its last reference."""
    try:
        libc.umount2(path, libc.MNT_DETACH)
    except OSError:
        pass
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@dataclass(frozen=True)
class Peer:
    """A container on another host, as this host's VXLAN device must know it."""

    ip: str
    mac: str
    vtep: str


class Sandbox:
    """An overlay network's namespace on this host: the bridge br0, the VXLAN device, remote peers."""

    def __init__(self, network: dict[str, Any], path: str, vxlan: str, vtep: IPv4Address):
        self.network = network
        self.path = path
        self.vxlan = vxlan
        self.vtep = vtep
        self.peers: set[Peer] = set()
        self.ports: set[str] = set()  # the host ends of local containers' veth pairs

    def create(self, trace: Trace) -> None:
        subnet = IPv4Network(self.network["subnet"])
        trace.emit("network", "netns_add", path=self.path)
        _create_netns(self.path)
        try:
            def bridge_inside() -> None:
                with IPRoute() as ipr:
                    ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
                    trace.emit("network", "link_add", netns=self.path, ifname=BRIDGE_IN_SANDBOX, type="bridge",
                               mtu=OVERLAY_MTU)
                    ipr.link("add", ifname=BRIDGE_IN_SANDBOX, kind="bridge", mtu=OVERLAY_MTU)
                    index = ipr.link_lookup(ifname=BRIDGE_IN_SANDBOX)[0]
                    trace.emit("network", "addr_add", netns=self.path, ifname=BRIDGE_IN_SANDBOX,
                               address=self.network["gateway"], prefixlen=subnet.prefixlen)
                    ipr.addr("add", index=index, address=self.network["gateway"], prefixlen=subnet.prefixlen)
                    ipr.link("set", index=index, state="up")

            _netlink_in(self.path, bridge_inside, f"creating the bridge of overlay {self.network['name']}")
            # Made here, in the daemon's namespace, so its UDP socket is on the underlay; then moved.
            with _netlink_here(f"creating VXLAN device {self.vxlan}") as ipr:
                trace.emit("network", "link_add", ifname=self.vxlan, type="vxlan", vni=self.network["vni"],
                           port=VXLAN_PORT, local=str(self.vtep), learning=False, proxy=True, mtu=OVERLAY_MTU)
                self._add_vxlan(ipr)
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    trace.emit("network", "link_set", ifname=self.vxlan, net_ns_fd=self.path)
                    ipr.link("set", index=ipr.link_lookup(ifname=self.vxlan)[0], net_ns_fd=fd)
                finally:
                    os.close(fd)

            def vxlan_on_bridge() -> None:
                with IPRoute() as ipr:
                    trace.emit("network", "link_set", netns=self.path, ifname=self.vxlan, master=BRIDGE_IN_SANDBOX,
                               state="up")
                    ipr.link("set", index=ipr.link_lookup(ifname=self.vxlan)[0],
                             master=ipr.link_lookup(ifname=BRIDGE_IN_SANDBOX)[0], state="up")

            _netlink_in(self.path, vxlan_on_bridge, f"attaching {self.vxlan}")
        except BaseException:
            self.destroy(NO_TRACE)
            raise

    def _add_vxlan(self, ipr: IPRoute) -> None:
        """Create the VXLAN device, waiting up to 5 s for a dying namespace's device with the same VNI.

        EEXIST here means the kernel still holds a device with this VNI and
        port for the daemon's namespace -- one whose namespace (another
        daemon's crash, or a sandbox removed while a process still held it)
        is being cleaned up.  It goes by itself; anything longer is an error.
        """
        deadline = time.monotonic() + 5.0
        while True:
            try:
                ipr.link("add", ifname=self.vxlan, kind="vxlan", vxlan_id=self.network["vni"],
                         vxlan_port=VXLAN_PORT, vxlan_local=str(self.vtep), vxlan_learning=0, vxlan_proxy=1,
                         mtu=OVERLAY_MTU)
                return
            except NetlinkError as err:
                if err.code != errno.EEXIST or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def destroy(self, trace: Trace) -> None:
        """The VXLAN device first, then the namespace with br0; a half-made VXLAN too.

        Why the VXLAN device is deleted by name, not left to die with the
        namespace: a namespace's devices are torn down by the kernel's
        cleanup_net work *after* its last reference goes, asynchronously, and
        until then the old device still holds its VNI on UDP 4789 in the
        daemon's namespace (where its socket was made).  A container started
        right after the last one left would then get EEXIST creating the new
        device.  An explicit delete inside the namespace is synchronous.
        """
        if os.path.exists(self.path):
            try:
                _netlink_in(self.path, lambda: netlink.delete_link(self.vxlan, trace), f"deleting {self.vxlan}")
            except NetworkHostError:
                pass  # the namespace is going anyway; the retry in _create_vxlan covers the rest
        trace.emit("network", "netns_del", path=self.path)
        _remove_netns(self.path)
        netlink.delete_link(self.vxlan, NO_TRACE)  # only if the move into the namespace never happened

    def attach(self, host_ifname: str, ifname: str, mac: str, container_netns: str, trace: Trace) -> None:
        """A veth pair from the container's namespace (as ``ifname``) to br0 here, MTU 1450 on both ends."""
        def inside() -> None:
            with IPRoute() as ipr:
                fd = os.open(container_netns, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    trace.emit("network", "link_add", netns=self.path, ifname=host_ifname, type="veth",
                               master=BRIDGE_IN_SANDBOX, mtu=OVERLAY_MTU, state="up",
                               peer={"ifname": ifname, "address": mac, "net_ns_fd": container_netns})
                    ipr.link("add", ifname=host_ifname, kind="veth", mtu=OVERLAY_MTU, state="up",
                             master=ipr.link_lookup(ifname=BRIDGE_IN_SANDBOX)[0],
                             peer={"ifname": ifname, "address": mac, "net_ns_fd": fd, "mtu": OVERLAY_MTU})
                finally:
                    os.close(fd)

        _netlink_in(self.path, inside, f"connecting to overlay {self.network['name']}")
        self.ports.add(host_ifname)

    def detach(self, host_ifname: str, trace: Trace) -> None:
        def inside() -> None:
            netlink.delete_link(host_ifname, trace)

        self.ports.discard(host_ifname)
        if os.path.exists(self.path):
            _netlink_in(self.path, inside, f"disconnecting from overlay {self.network['name']}")

    def set_peers(self, wanted: set[Peer], trace: Trace) -> None:
        """Make the VXLAN device's FDB and neighbour entries exactly ``wanted`` (the remote containers)."""
        adding, removing = wanted - self.peers, self.peers - wanted
        if not adding and not removing:
            return

        def inside() -> None:
            with IPRoute() as ipr:
                index = ipr.link_lookup(ifname=self.vxlan)[0]
                for peer in removing:
                    trace.emit("network", "fdb_del", netns=self.path, ifname=self.vxlan, lladdr=peer.mac, dst=peer.vtep)
                    _ignore_missing(ipr.fdb, "del", ifindex=index, lladdr=peer.mac, dst=peer.vtep)
                    trace.emit("network", "neigh_del", netns=self.path, ifname=self.vxlan, dst=peer.ip)
                    _ignore_missing(ipr.neigh, "del", ifindex=index, dst=peer.ip, lladdr=peer.mac)
                for peer in adding:
                    # "MAC m is behind VTEP v": where the VXLAN datagram goes.
                    trace.emit("network", "fdb_add", netns=self.path, ifname=self.vxlan, lladdr=peer.mac, dst=peer.vtep)
                    # NTF_SELF: an entry of the VXLAN device's own table (NTF_MASTER would be the bridge's).
                    ipr.fdb("replace", ifindex=index, lladdr=peer.mac, dst=peer.vtep, flags=ndmsg.NTF_SELF,
                            state=ndmsg.states["permanent"] | ndmsg.states["noarp"])
                    # "IP i has MAC m": what the proxying VXLAN device answers ARP requests with.
                    trace.emit("network", "neigh_add", netns=self.path, ifname=self.vxlan, dst=peer.ip, lladdr=peer.mac)
                    ipr.neigh("replace", ifindex=index, dst=peer.ip, lladdr=peer.mac, state=ndmsg.states["permanent"])

        _netlink_in(self.path, inside, f"updating the peers of overlay {self.network['name']}")
        self.peers = set(wanted)


def _ignore_missing(call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except NetlinkError as err:
        if err.code not in (2, 19):  # ENOENT, ENODEV: already gone
            raise


def _netlink_in(netns_path: str, work: Callable[[], Any], step: str) -> Any:
    try:
        return netlink.run_in_netns(netns_path, work)
    except NetlinkError as err:
        raise NetworkHostError(f"{step} failed: [Errno {err.code}] {os.strerror(err.code)}") from None


class _netlink_here:
    """An rtnetlink socket in the daemon's own namespace, kernel refusals as NetworkHostError."""

    def __init__(self, step: str):
        self.step = step
        self.ipr: IPRoute | None = None

    def __enter__(self) -> IPRoute:
        self.ipr = IPRoute()
        return self.ipr

    def __exit__(self, kind, error, tb) -> bool:
        self.ipr.close()
        if isinstance(error, NetlinkError):
            raise NetworkHostError(f"{self.step} failed: [Errno {error.code}] {os.strerror(error.code)}") from None
        return False


# ---------------------------------------------------------------------------
# The driver: the store, the lease, the watch and the sandboxes of one daemon


@dataclass
class LocalEndpoint:
    """An address this daemon holds on an overlay network (its key in the store is under our lease)."""

    network_id: str
    entry: dict[str, Any]  # what the key holds
    revision: int  # the key's create revision, to delete only our own key


class OverlayDriver:
    """Everything overlay for one daemon.  ``on_change`` is called (with no lock held) after the store changed."""

    def __init__(self, config: ClusterConfig, host_names: HostNames, state_dir: str, on_change: Callable[[], None]):
        self.config = config
        self.host_names = host_names
        self.client = EtcdClient(list(config.members))
        self.store = OverlayStore(self.client)
        self._lease_file = os.path.join(state_dir, "cluster-lease")
        self._on_change = on_change
        self._lock = threading.RLock()  # the caches and the lease
        self._datapath = threading.RLock()  # the sandboxes: one netlink conversation at a time
        self._networks: dict[str, dict[str, Any]] = {}
        self._endpoints: dict[str, dict[str, dict[str, Any]]] = {}  # network id -> ip -> entry
        self._local: dict[tuple[str, str], LocalEndpoint] = {}  # (network id, ip) -> ours
        self._unreleased: list[LocalEndpoint] = []  # freed while the store was away: deleted when it is back
        self._sandboxes: dict[str, Sandbox] = {}
        self._lease = 0
        self._watch: Watch | None = None
        self._stopping = threading.Event()
        self._keeper: threading.Thread | None = None
        self.last_error: str | None = None

    # -- start, stop, the lease ------------------------------------------

    def start(self) -> None:
        """Clean a crashed run's namespaces, then join the cluster (or keep trying in the background)."""
        self._remove_leftovers()
        try:
            self._join_cluster()
        except ClusterStoreError as err:
            self.last_error = str(err)
            log.warning("overlay networks unavailable until the cluster store answers: %s", err)
        self._keeper = threading.Thread(target=self._keep, name="nbdock-overlay-lease", daemon=True)
        self._keeper.start()

    def stop(self) -> None:
        """Leave the cluster: the lease is revoked, so our entries vanish from every other host at once."""
        self._stopping.set()
        if self._keeper is not None:
            self._keeper.join(timeout=10)
        if self._watch is not None:
            self._watch.cancel()
        with self._datapath:
            for sandbox in self._sandboxes.values():
                sandbox.destroy(NO_TRACE)
            self._sandboxes.clear()
        with self._lock:
            lease, self._lease = self._lease, 0
            self._local.clear()
        if lease:
            try:
                self.client.revoke(lease)
                os.unlink(self._lease_file)
            except (ClusterStoreError, OSError):
                pass

    def _remove_leftovers(self) -> None:
        """Namespaces and VXLAN devices of this instance left by a crash (recognised by name, as in instance.py)."""
        names = re.compile(rf"{NETNS_KIND}[0-9a-f]{{12}}{re.escape(self.host_names.suffix)}")
        if os.path.isdir(NETNS_DIR):
            for entry in os.listdir(NETNS_DIR):
                if names.fullmatch(entry):
                    _remove_netns(os.path.join(NETNS_DIR, entry))
        vxlans = re.compile(rf"{VXLAN_KIND}[0-9a-f]{{{self.host_names.id_digits}}}{re.escape(self.host_names.suffix)}")
        for name in netlink.link_names():
            if vxlans.fullmatch(name):
                netlink.delete_link(name, NO_TRACE)

    def _join_cluster(self) -> None:
        """A fresh lease, our stale entries gone, the caches read and a watch on every change after."""
        try:
            with open(self._lease_file) as f:
                previous = int(f.read().strip() or 0)
        except (OSError, ValueError):
            previous = 0
        if previous:
            # The previous run's containers are dead: revoking its lease deletes their keys now,
            # rather than when the lease would have expired.
            self.client.revoke(previous)
        lease = self.client.grant(self.config.ttl)
        with open(self._lease_file + ".tmp", "w") as f:
            f.write(str(lease))
        os.replace(self._lease_file + ".tmp", self._lease_file)
        self.client.put(NODES + self.config.node, json.dumps(
            {"node": self.config.node, "vtep": str(self.config.vtep), "since": _now()}), lease)
        with self._lock:
            self._lease = lease
            mine = list(self._local.values())
        # Addresses we hold but whose keys died with an expired lease (etcd was away too long): taken again.
        for local in mine:
            key = f"{ENDPOINTS}{local.network_id}/{local.entry['ip']}"
            ok, answer = self.client.txn([absent(key)], [put_op(key, json.dumps(local.entry), lease)])
            if ok:
                local.revision = int(answer["header"]["revision"])
        self._resync()
        self.last_error = None

    def _keep(self) -> None:
        """Renew the lease every third of its TTL; re-join after losing the store; re-watch when a watch ends."""
        interval = max(1.0, self.config.ttl / 3)
        next_renewal = time.monotonic() + interval
        while not self._stopping.wait(0.5):
            try:
                if not self._lease:
                    self._join_cluster()
                    next_renewal = time.monotonic() + interval
                    continue
                if time.monotonic() >= next_renewal:
                    if self.client.keepalive(self._lease) == 0:
                        log.warning("the cluster store lease expired: joining again")
                        with self._lock:
                            self._lease = 0
                        continue
                    next_renewal = time.monotonic() + interval
                    if self.last_error is not None:
                        log.info("cluster store %s answers again", self.config.store)
                        self.last_error = None
                if self._unreleased:
                    self._release_pending()
                if self._watch is None or self._watch.ended.is_set():
                    self._resync()
            except ClusterStoreError as err:
                if self.last_error is None:
                    log.warning("cluster store: %s", err)
                self.last_error = str(err)
            except Exception:  # noqa: BLE001 - the keeper must keep going
                log.exception("overlay keeper")

    # -- the caches ------------------------------------------------------

    def _resync(self) -> None:
        """Read everything under /nbdock/ at one revision, then watch from the next."""
        # Called only from the keeper thread (and at start, before it runs): one watch at a time.
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        kvs, revision = self.client.get_prefix(ROOT)
        networks: dict[str, dict[str, Any]] = {}
        endpoints: dict[str, dict[str, dict[str, Any]]] = {}
        for kv in kvs:
            self._file(kv.key, kv.value, networks, endpoints)
        with self._lock:
            self._networks, self._endpoints = networks, endpoints
        self._watch = self.client.watch(ROOT, revision + 1, self._on_events)
        self._changed()

    def refresh(self) -> None:
        """Read the networks now (one just created on another host, that the watch has not brought yet).

        Only the cache is updated (the watch, still running, brings the rest
        in order); the caller, the manager, syncs itself afterwards.
        """
        self._require_store()
        kvs, _ = self.client.get_prefix(NETWORKS)
        with self._lock:
            for kv in kvs:
                self._networks[kv.key[len(NETWORKS):]] = kv.json()

    @staticmethod
    def _file(key: str, value: bytes | None, networks: dict, endpoints: dict) -> None:
        if key.startswith(NETWORKS):
            network_id = key[len(NETWORKS):]
            if value is None:
                networks.pop(network_id, None)
            else:
                networks[network_id] = json.loads(value)
        elif key.startswith(ENDPOINTS):
            network_id, _, ip = key[len(ENDPOINTS):].partition("/")
            if value is None:
                endpoints.get(network_id, {}).pop(ip, None)
            else:
                endpoints.setdefault(network_id, {})[ip] = json.loads(value)

    def _on_events(self, events: list[Event]) -> None:
        with self._lock:
            for event in events:
                self._file(event.key, event.value, self._networks, self._endpoints)
        self._changed()

    def _changed(self) -> None:
        self._apply_peers()
        if not self._stopping.is_set():  # a stopping manager holds its lock: do not wait for it
            self._on_change()

    def _apply_peers(self) -> None:
        with self._datapath:
            for network_id, sandbox in list(self._sandboxes.items()):
                try:
                    sandbox.set_peers(self._remote_peers(network_id), NO_TRACE)
                except NetworkHostError as err:
                    log.warning("%s", err)

    def _remote_peers(self, network_id: str) -> set[Peer]:
        with self._lock:
            entries = list(self._endpoints.get(network_id, {}).values())
        return {Peer(e["ip"], e["mac"], e["vtep"]) for e in entries if e.get("node") != self.config.node}

    # -- what the manager asks -------------------------------------------

    def _require_store(self) -> None:
        if not self._lease:
            reason = self.last_error or "not connected yet"
            raise ClusterStoreError(f"overlay networks need the cluster store {self.config.store}: {reason}")

    def networks(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._networks.values())

    def remote_endpoints(self, network_id: str) -> list[dict[str, Any]]:
        """The endpoints other hosts registered on a network (for the embedded DNS)."""
        with self._lock:
            return [e for e in self._endpoints.get(network_id, {}).values() if e.get("node") != self.config.node]

    def all_endpoints(self, network_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._endpoints.get(network_id, {}).values())

    def create_network(self, name: str, **kwargs: Any) -> dict[str, Any]:
        self._require_store()
        doc = self.store.create_network(name, node=self.config.node, **kwargs)
        with self._lock:
            self._networks[doc["id"]] = doc
        return doc

    def remove_network(self, network_id: str, name: str) -> None:
        self._require_store()
        self.store.remove_network(network_id, name)
        with self._lock:
            self._networks.pop(network_id, None)

    def allocate(self, network_id: str, entry: dict[str, Any], requested: IPv4Address | None) -> IPv4Address:
        """An address on the network, registered in the store under our lease with ``entry``."""
        self._require_store()
        entry = {**entry, "vtep": str(self.config.vtep), "node": self.config.node}
        address, revision = self.store.allocate(network_id, entry, requested, self._lease)
        entry.update(ip=str(address), mac=ipam.mac_address(address))
        with self._lock:
            self._local[(network_id, str(address))] = LocalEndpoint(network_id, entry, revision)
            self._endpoints.setdefault(network_id, {})[str(address)] = entry
        return address

    def release(self, network_id: str, address: str) -> None:
        """Free our address.  If the store is away the key still goes: with our lease, or at our next join."""
        with self._lock:
            local = self._local.pop((network_id, address), None)
            self._endpoints.get(network_id, {}).pop(address, None)
        if local is None:
            return
        try:
            self.store.release(network_id, address, local.revision)
        except ClusterStoreError as err:
            # Our lease is still alive, so the key would stay: the keeper deletes it when etcd is back.
            log.warning("freeing %s on overlay %s: %s (retried when the store answers)", address, network_id[:12], err)
            with self._lock:
                self._unreleased.append(local)

    def _release_pending(self) -> None:
        with self._lock:
            pending, self._unreleased = self._unreleased, []
        for index, local in enumerate(pending):
            try:
                self.store.release(local.network_id, local.entry["ip"], local.revision)
            except ClusterStoreError:
                with self._lock:
                    self._unreleased.extend(pending[index:])
                raise

    def attach(self, network: dict[str, Any], host_ifname: str, ifname: str, mac: str, container_netns: str,
               trace: Trace) -> None:
        """Plug a local container in: the network's namespace, bridge and VXLAN first if it is the first here."""
        with self._datapath:
            sandbox = self._sandboxes.get(network["id"])
            if sandbox is None:
                sandbox = Sandbox(network, self.netns_path(network["id"]), self.vxlan_name(network["id"]),
                                  self.config.vtep)
                sandbox.create(trace)
                self._sandboxes[network["id"]] = sandbox
                try:
                    sandbox.set_peers(self._remote_peers(network["id"]), trace)
                except BaseException:
                    self._drop_sandbox(network["id"], trace)
                    raise
            try:
                sandbox.attach(host_ifname, ifname, mac, container_netns, trace)
            except BaseException:
                if not sandbox.ports:
                    self._drop_sandbox(network["id"], trace)
                raise

    def detach(self, network_id: str, host_ifname: str, trace: Trace) -> None:
        """Unplug a local container; the last one out takes the network's namespace with it."""
        with self._datapath:
            sandbox = self._sandboxes.get(network_id)
            if sandbox is None:
                return
            try:
                sandbox.detach(host_ifname, trace)
            finally:
                if not sandbox.ports:
                    self._drop_sandbox(network_id, trace)

    def _drop_sandbox(self, network_id: str, trace: Trace) -> None:
        sandbox = self._sandboxes.pop(network_id, None)
        if sandbox is not None:
            sandbox.destroy(trace)

    def netns_path(self, network_id: str) -> str:
        return os.path.join(NETNS_DIR, f"{NETNS_KIND}{network_id[:12]}{self.host_names.suffix}")

    def vxlan_name(self, network_id: str) -> str:
        return VXLAN_KIND + network_id[: self.host_names.id_digits] + self.host_names.suffix

    def map(self) -> dict[str, Any]:
        """Who is where, for ``%dock net map``: the nodes, the overlay networks, their endpoints per node."""
        nodes: list[dict[str, Any]] = []
        try:
            kvs, _ = self.client.get_prefix(NODES)
            nodes = [kv.json() for kv in kvs]
        except ClusterStoreError as err:
            self.last_error = str(err)
        with self._lock:
            networks = [
                {**doc, "endpoints": list(self._endpoints.get(doc["id"], {}).values()),
                 "vxlan_here": self.vxlan_name(doc["id"]) if doc["id"] in self._sandboxes else None,
                 "netns_here": self.netns_path(doc["id"]) if doc["id"] in self._sandboxes else None}
                for doc in self._networks.values()
            ]
        return {"node": self.config.node, "store": self.config.store, "nodes": nodes, "networks": networks,
                "error": self.last_error}
