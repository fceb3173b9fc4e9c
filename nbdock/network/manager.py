"""NetworkManager: the one object the engine uses for everything network.

It owns the networks (bridge, host, none and the user-defined bridges), the
endpoints that attach containers to them, the published ports, and the
embedded DNS servers, and it keeps the host's kernel state (bridges, veth
pairs, iptables rules) in step with them.

Life of a container's networking, as the engine drives it::

    ep = nm.connect("mynet", cid, name="web", aliases=["www"], trace=t)   # address, MAC: bookkeeping only
    ... engine writes /etc/hosts and /etc/resolv.conf from nm.hosts_file() / nm.resolv_conf() ...
    nm.setup_loopback(f"/proc/{pid}/ns/net", trace=t)                      # lo up
    nm.plug(ep, f"/proc/{pid}/ns/net", trace=t)                            # veth pair, eth0, route, DNS
    ports = nm.publish(cid, ep, port_bindings, exposed_ports, publish_all, trace=t)
    ... container runs ...
    nm.unpublish(cid, trace=t); nm.unplug(ep, trace=t); nm.disconnect("mynet", cid)

Endpoints live as long as their container runs.  Every container dies with
the daemon (the spawner kills them), so after a restart no endpoint is
valid, and :meth:`start` forgets them all.

Several managers, one per data root, can share a host (a test suite's
daemon beside a notebook's): every bridge, veth pair and iptables chain a
manager creates carries its instance's tag (instance.py), and it removes
only names bearing its own tag.  With the default data root the names are
the plain ``nbdock0`` and ``NBDOCK*``, as dockerd's are ``docker0`` and
``DOCKER*``.  Subnets are chosen under a host-wide lock, so two instances
never take the same one.

With a cluster store (``cluster=``, the daemon's ``--cluster-store``),
overlay networks join the others: defined in etcd rather than on disk,
visible to every daemon of the cluster, their addresses handed out there
and their containers plugged into a per-network namespace with a VXLAN
device; overlay.py does all of that, the manager only routes to it.

All public methods are thread-safe (one lock; the DNS servers read an
immutable snapshot of the names instead, so they never wait for it).
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, Callable, Iterable, Mapping

from nbdock.network import files, instance, ipam, iptables, netlink, ports, records
from nbdock.network.overlay import ClusterConfig, OverlayDriver
from nbdock.network.errors import (
    InvalidNetworkArgument,
    NetworkConflict,
    NetworkError,
    NetworkForbidden,
    NetworkHostError,
    NetworkNotFound,
)
from nbdock.network.records import BRIDGE, HOST, NULL, OVERLAY, Endpoint, NetworkRecord
from nbdock.network.services import DnsServer, NameTable, ServiceThread, TcpProxy, UdpProxy, open_dns_sockets
from nbdock.runtime.trace import NO_TRACE, Trace

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"

#: Options Docker reports for its default bridge (plus the bridge's name, which is the instance's).
DEFAULT_BRIDGE_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.driver.mtu": "1500",
}
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"


@dataclass
class _Published:
    """The ports one container publishes, and what carries them."""

    endpoint_id: str
    reservations: list[ports.Reservation]
    rules: list[iptables.Rule] = field(default_factory=list)
    proxies: list[TcpProxy | UdpProxy] = field(default_factory=list)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NetworkManager:
    def __init__(self, data_root: str, *, host_resolv_conf: str = "/etc/resolv.conf", host_hosts: str = "/etc/hosts",
                 cluster: ClusterConfig | None = None):
        """``host_resolv_conf`` names the host's resolver configuration: what containers
        inherit, and where the embedded DNS forwards the names it does not own.
        ``cluster`` (--cluster-store and --cluster-advertise) enables overlay networks."""
        self.cluster = cluster
        self._overlay: OverlayDriver | None = None
        self.state_dir = os.path.join(data_root, "networks")
        #: The names this instance gives the host's interfaces and iptables chains.
        self.host_names = instance.HostNames.for_data_root(data_root)
        self.host_resolv_conf = host_resolv_conf
        self.host_hosts = host_hosts
        self._lock = threading.RLock()
        self._networks: dict[str, NetworkRecord] = {}
        self._endpoints: dict[str, dict[str, Endpoint]] = {}  # network id -> container id -> endpoint
        self._published: dict[str, _Published] = {}  # container id -> its ports
        self._dns: dict[str, DnsServer] = {}  # container id -> its resolver
        self._names = NameTable()
        self._services = ServiceThread()
        self._ports = ports.PortAllocator()
        self._started = False

    # ------------------------------------------------------------------
    # Start and stop

    def start(self) -> None:
        """Restore the networks, clean a crashed run's leftovers, and bring everything up."""
        with self._lock:
            if self._started:
                return
            os.makedirs(self.state_dir, exist_ok=True)
            stored = records.load_all(self.state_dir)
            self._remove_leftovers()
            try:
                for network, _stale_endpoints in stored:
                    self._networks[network.id] = network
                    self._endpoints[network.id] = {}
                self._ensure_predefined()
                self._name_bridges()
                _enable_ip_forward()
                iptables.install_chains(self.host_names.chains)
                with instance.subnet_lock():
                    self._settle_subnets()
                    for network in self._bridge_networks():
                        self._bring_up(network)
                for network in self._networks.values():
                    records.save(self.state_dir, network, [])
                self._services.start()
                if self.cluster is not None:
                    self._overlay = OverlayDriver(self.cluster, self.host_names, self.state_dir, self._overlay_changed)
                    self._overlay.start()  # etcd unreachable is not fatal: overlay calls say so until it answers
            except BaseException:
                # Leave the host as we found it: a half-started manager is of no use.
                self._remove_leftovers()
                if self._overlay is not None:
                    self._overlay.stop()
                    self._overlay = None
                self._services.stop()
                self._networks.clear()
                self._endpoints.clear()
                raise
            self._refresh_names()
            self._started = True

    def shutdown(self) -> None:
        """Remove everything this instance made on the host; the network definitions stay on disk."""
        with self._lock:
            if not self._started:
                return
            for container_id in list(self._published):
                self.unpublish(container_id)
            for network_id, endpoints in self._endpoints.items():
                for endpoint in endpoints.values():
                    self.unplug(endpoint)
                endpoints.clear()
                records.save(self.state_dir, self._networks[network_id], [])
            for network in self._bridge_networks():
                self._tear_down(network)
            if self._overlay is not None:
                self._overlay.stop()
                self._overlay = None
                for network_id in [n.id for n in self._networks.values() if n.driver == OVERLAY]:
                    del self._networks[network_id]
                    del self._endpoints[network_id]
            iptables.remove_chains(self.host_names.chains)
            self._services.stop()
            self._refresh_names()
            self._started = False

    def _remove_leftovers(self) -> None:
        """What a crashed run on this data root left on the host: its links and iptables chains.

        Recognised by name only -- this instance's names (see instance.py):
        nothing of another nbdock instance, of dockerd or of anyone else is
        touched.  Containers do not survive the daemon, so none of these can
        be in use.
        """
        for name in netlink.link_names():
            if self.host_names.owns_link(name):
                netlink.delete_link(name, NO_TRACE)
        iptables.remove_chains(self.host_names.chains)

    def _ensure_predefined(self) -> None:
        """The networks every engine has: bridge (its subnet is chosen later), host and none."""
        present = {network.name for network in self._networks.values() if network.predefined}
        for name, driver in (("bridge", BRIDGE), ("host", HOST), ("none", NULL)):
            if name not in present:
                network = NetworkRecord(
                    id=secrets.token_hex(32), name=name, driver=driver, created=_now(), predefined=True
                )
                if driver == BRIDGE:
                    network.options = dict(DEFAULT_BRIDGE_OPTIONS)
                self._networks[network.id] = network
                self._endpoints[network.id] = {}

    def _name_bridges(self) -> None:
        """Give each stored bridge network this instance's name for its bridge.

        The name is derived, not trusted from disk: a data root that was
        moved (so its tag changed) or written by an older nbdock must not
        bring up a bridge under a name another instance owns.
        """
        for network in self._bridge_networks():
            if network.predefined:
                network.bridge = self.host_names.default_bridge
                # In Docker's order: Go writes a map's keys sorted.
                network.options = dict(sorted({**network.options, BRIDGE_NAME_OPTION: network.bridge}.items()))
            else:
                network.bridge = self.host_names.user_bridge(network.id)

    def _settle_subnets(self) -> None:
        """Give every bridge network a subnet that overlaps no route of the host (under the subnet lock).

        While this instance was down, another one (or dockerd, or a VPN) may
        have taken a subnet it had: one nbdock chose moves to a free one
        (no endpoint survives a restart, so no address has to be kept); one
        the user chose stays what the user asked for, as in Docker.
        """
        routes = netlink.host_routes()
        placed = [IPv4Network(n.subnet) for n in self._bridge_networks() if n.user_subnet]
        for network in self._bridge_networks():
            if network.user_subnet:
                continue
            in_use = routes + placed
            if network.subnet is not None:
                subnet = IPv4Network(network.subnet)
                if not any(subnet.overlaps(other) for other in in_use):
                    placed.append(subnet)
                    continue
            subnet = ipam.choose_subnet(in_use)
            network.subnet = str(subnet)
            network.gateway = str(ipam.default_gateway(subnet))
            placed.append(subnet)

    def _find_predefined(self, name: str) -> NetworkRecord | None:
        return next((n for n in self._networks.values() if n.predefined and n.name == name), None)

    # ------------------------------------------------------------------
    # Networks

    def create(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        internal: bool = False,
        labels: Mapping[str, str] | None = None,
        options: Mapping[str, str] | None = None,
        check_duplicate: bool = True,
        ip_range: str | None = None,
        aux_addresses: Mapping[str, str] | None = None,
        ipam_options: Mapping[str, str] | None = None,
        enable_ipv6: bool = False,
        subnet6: str | None = None,
        gateway6: str | None = None,
        ip_range6: str | None = None,
    ) -> dict[str, Any]:
        """Create a user-defined bridge network; returns its Docker Network JSON.

        ``ipam_options`` is kept as given (None is shown as null, as Docker shows what the request had).
        """
        if not name:
            raise InvalidNetworkArgument("a network needs a name")
        if driver in (HOST, NULL):
            raise NetworkForbidden(f'only one instance of "{driver}" network is allowed')
        if driver == OVERLAY:
            if ip_range or aux_addresses or enable_ipv6 or subnet6:
                raise InvalidNetworkArgument("nbdock's overlay networks take no --ip-range, --aux-address or IPv6")
            return self._create_overlay(name, subnet=subnet, gateway=gateway, internal=internal, labels=labels,
                                        options=options)
        if driver != BRIDGE:
            raise NetworkNotFound(f'plugin "{driver}" not found')
        with self._lock:
            self._require_started()
            same_name = [n for n in self._networks.values() if n.name == name]
            if same_name and (check_duplicate or any(n.predefined for n in same_name)):
                raise NetworkConflict(f"network with name {name} already exists")
            network_id = self._new_id(self.host_names.user_bridge, {n.bridge for n in self._bridge_networks()})
            # From reading the routes until the new bridge's route exists, no other instance may choose.
            with instance.subnet_lock():
                if subnet is None:
                    if gateway is not None or ip_range or aux_addresses:
                        raise InvalidNetworkArgument("a gateway, an IP range or an auxiliary address can only be given with a subnet")
                    chosen = ipam.choose_subnet(self._subnets_in_use())
                else:
                    # A subnet the user names: only our own networks count, as in Docker (not the host's routes).
                    chosen = ipam.parse_subnet(subnet)
                    ipam.check_subnet_free(chosen, [IPv4Network(n.subnet) for n in self._bridge_networks() if n.subnet])
                gateway_address = ipam.parse_address(gateway, "gateway") if gateway else ipam.default_gateway(chosen)
                ipam.check_gateway(gateway_address, chosen)
                block = ipam.parse_ip_range(ip_range, chosen) if ip_range else None
                reserved = ipam.parse_aux_addresses(dict(aux_addresses or {}), chosen)
                pool6 = self._ipv6_pool(enable_ipv6, subnet6, gateway6, ip_range6)
                network = NetworkRecord(
                    id=network_id, name=name, driver=BRIDGE, created=_now(), subnet=str(chosen),
                    gateway=str(gateway_address), bridge=self.host_names.user_bridge(network_id), internal=internal,
                    user_subnet=subnet is not None, labels=dict(labels or {}), options=dict(options or {}),
                    ipam_options=None if ipam_options is None else dict(ipam_options),
                    ip_range=str(block) if block else None,
                    aux_addresses={name: str(address) for name, address in reserved.items()},
                    enable_ipv6=enable_ipv6, **pool6,
                )
                self._bring_up(network)
            try:
                records.save(self.state_dir, network, [])
            except BaseException:
                self._tear_down(network)
                raise
            self._networks[network.id] = network
            self._endpoints[network.id] = {}
            return self._network_json(network)

    def _ipv6_pool(self, enable_ipv6: bool, subnet6: str | None, gateway6: str | None,
                   ip_range6: str | None) -> dict[str, str | None]:
        """The IPv6 pool's record fields, checked as Docker 20.10 checks them (it has no default IPv6 pool)."""
        if subnet6 is None:
            if enable_ipv6:
                raise NetworkForbidden("could not find an available, non-overlapping IPv6 address pool among "
                                       "the defaults to assign to the network")
            if gateway6 or ip_range6:
                raise InvalidNetworkArgument("an IPv6 gateway or IP range can only be given with an IPv6 subnet")
            return {"subnet6": None, "gateway6": None, "ip_range6": None}
        subnet = ipam.parse_subnet6(subnet6)
        ipam.check_subnet_free(subnet, [IPv6Network(n.subnet6) for n in self._bridge_networks() if n.subnet6])
        gateway = ipam.parse_address(gateway6, "IPv6 gateway", version=6) if gateway6 else None
        if gateway is not None:
            ipam.check_gateway(gateway, subnet)
        elif enable_ipv6:
            gateway = ipam.default_gateway(subnet)
        block = ipam.parse_ip_range(ip_range6, subnet) if ip_range6 else None
        return {"subnet6": str(subnet), "gateway6": str(gateway) if gateway else None,
                "user_gateway6": gateway6 is not None, "ip_range6": str(block) if block else None}

    def _create_overlay(self, name: str, **settings: Any) -> dict[str, Any]:
        """A network of the whole cluster: defined in etcd (overlay.py), seen by every daemon's watch."""
        with self._lock:
            self._require_started()
            overlay = self._require_overlay()
            local_names = [n.name for n in self._networks.values() if n.driver != OVERLAY]
            doc = overlay.create_network(name, local_names=local_names, **{
                key: value for key, value in settings.items() if key != "labels" and key != "options"},
                labels=settings["labels"] or {}, options=settings["options"] or {})
            self._sync_overlay_networks()
            return self._network_json(self._networks[doc["id"]])

    def cluster_map(self) -> dict[str, Any]:
        """Who is where in the cluster (``%dock net map``); no nodes without a cluster store."""
        with self._lock:
            overlay = self._overlay
        if overlay is None:
            return {"node": None, "store": None, "nodes": [], "networks": [], "error": None}
        return overlay.map()

    def _require_overlay(self) -> OverlayDriver:
        if self._overlay is None:
            raise NetworkNotFound(
                'plugin "overlay" not found: overlay networks need a cluster store (start the daemon with '
                "--cluster-store etcd://HOST:PORT --cluster-advertise ADDR)")
        return self._overlay

    def _overlay_changed(self) -> None:
        """The store changed (another host's network or container): follow it, names included."""
        with self._lock:
            if self._overlay is None:
                return
            self._sync_overlay_networks()
            self._refresh_names()

    def _sync_overlay_networks(self) -> None:
        """Make the overlay networks of ``_networks`` those of the store (kept while local containers use one)."""
        docs = {doc["id"]: doc for doc in self._overlay.networks()}
        for network_id in [n.id for n in self._networks.values() if n.driver == OVERLAY]:
            if network_id not in docs and not self._endpoints[network_id]:
                del self._networks[network_id]
                del self._endpoints[network_id]
        for network_id, doc in docs.items():
            if network_id not in self._networks:
                self._networks[network_id] = NetworkRecord(
                    id=network_id, name=doc["name"], driver=OVERLAY, created=doc["created"], subnet=doc["subnet"],
                    gateway=doc["gateway"], internal=doc["internal"], user_subnet=doc["user_subnet"],
                    labels=dict(doc["labels"]), options=dict(doc["options"]), ipam_options={},
                )
                self._endpoints[network_id] = {}

    def remove(self, name_or_id: str) -> None:
        with self._lock:
            network = self._find(name_or_id)
            if network.predefined:
                raise NetworkForbidden(f"{network.name} is a pre-defined network and cannot be removed")
            if self._endpoints[network.id]:
                raise NetworkForbidden(
                    f"error while removing network: network {network.name} id {network.id} has active endpoints"
                )
            if network.driver == OVERLAY:
                # The store refuses if any host still has a container on it.
                self._require_overlay().remove_network(network.id, network.name)
                del self._networks[network.id]
                del self._endpoints[network.id]
                return
            self._tear_down(network)
            records.delete(self.state_dir, network.id)
            del self._networks[network.id]
            del self._endpoints[network.id]

    def get(self, name_or_id: str) -> dict[str, Any]:
        with self._lock:
            return self._network_json(self._find(name_or_id))

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._network_json(network) for network in self._networks.values()]

    def _find(self, name_or_id: str) -> NetworkRecord:
        """Docker's lookup order: full id, then exact name, then a unique id prefix.

        An overlay network created on another host a moment ago may not have
        come through the watch yet: on a miss, the store is read once more.
        """
        try:
            return self._find_known(name_or_id)
        except NetworkNotFound:
            if self._overlay is None or not self._started:
                raise
            try:
                self._overlay.refresh()
            except NetworkError:
                raise NetworkNotFound(f"network {name_or_id} not found") from None
            self._sync_overlay_networks()
            return self._find_known(name_or_id)

    def _find_known(self, name_or_id: str) -> NetworkRecord:
        if name_or_id in self._networks:
            return self._networks[name_or_id]
        named = [n for n in self._networks.values() if n.name == name_or_id]
        if len(named) > 1:
            raise InvalidNetworkArgument(
                f"network {name_or_id} is ambiguous ({len(named)} matches found based on name)"
            )
        if named:
            return named[0]
        prefixed = [n for n in self._networks.values() if name_or_id and n.id.startswith(name_or_id)]
        if len(prefixed) > 1:
            raise InvalidNetworkArgument(
                f"network {name_or_id} is ambiguous ({len(prefixed)} matches found based on ID prefix)"
            )
        if prefixed:
            return prefixed[0]
        raise NetworkNotFound(f"network {name_or_id} not found")

    def _network_json(self, network: NetworkRecord) -> dict[str, Any]:
        """Docker's Network object (``docker network inspect``)."""
        if network.driver not in (BRIDGE, OVERLAY):
            config = []
        elif network.predefined:
            config = [{"Subnet": network.subnet}]  # Docker shows no Gateway for its default bridge
        else:
            config = [{"Subnet": network.subnet, **({"IPRange": network.ip_range} if network.ip_range else {}),
                       "Gateway": network.gateway,
                       **({"AuxiliaryAddresses": dict(network.aux_addresses)} if network.aux_addresses else {})}]
        if network.subnet6:
            config.append({"Subnet": network.subnet6, **({"IPRange": network.ip_range6} if network.ip_range6 else {}),
                           **({"Gateway": network.gateway6} if network.user_gateway6 else {})})
        return {
            "Name": network.name,
            "Id": network.id,
            "Created": network.created,
            "Scope": "global" if network.driver == OVERLAY else "local",
            "Driver": network.driver,
            "EnableIPv6": network.enable_ipv6,
            "IPAM": {"Driver": "default", "Options": network.ipam_options, "Config": config},
            "Internal": network.internal,
            "Attachable": False,
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": {cid: ep.to_container_entry() for cid, ep in self._endpoints[network.id].items()},
            "Options": dict(network.options),
            "Labels": dict(network.labels),
        }

    def _bridge_networks(self) -> list[NetworkRecord]:
        return [n for n in self._networks.values() if n.driver == BRIDGE]

    def _subnets_in_use(self) -> list[IPv4Network]:
        """Host routes plus every subnet of ours: a new subnet must overlap none of them.

        The routes include every other nbdock instance's bridges (and
        dockerd's): a bridge with an address has a route to its subnet.  Call
        this under the subnet lock, and keep holding it until the new bridge
        is up, or another instance may choose the same subnet meanwhile.
        """
        ours = [IPv4Network(n.subnet) for n in self._bridge_networks() if n.subnet]
        return netlink.host_routes() + ours

    def _new_id(self, short_name: Callable[[str], str], taken: set[str]) -> str:
        """A random 64-hex id for a network or endpoint whose interface name is not already ours.

        Interface names hold only 6 (or 12) hex digits of the id.  Two ids
        sharing them would give two networks one bridge name, or two
        endpoints one veth name -- and undoing a failed step deletes
        interfaces by name.
        """
        while True:
            candidate = secrets.token_hex(32)
            if short_name(candidate) not in taken:
                return candidate

    def _bring_up(self, network: NetworkRecord) -> None:
        """The bridge and its iptables rules; on failure, whatever was made is removed."""
        subnet = IPv4Network(network.subnet)
        try:
            gateway6 = None
            if network.enable_ipv6:
                gateway6 = (IPv6Address(network.gateway6), IPv6Network(network.subnet6).prefixlen)
            netlink.create_bridge(network.bridge, IPv4Address(network.gateway), subnet.prefixlen, NO_TRACE, gateway6)
            for rule in self._rules_of(network):
                iptables.append(rule)
        except BaseException:
            self._tear_down(network)
            raise

    def _tear_down(self, network: NetworkRecord) -> None:
        for rule in self._rules_of(network):
            iptables.delete(rule)
        netlink.delete_link(network.bridge, NO_TRACE)

    def _rules_of(self, network: NetworkRecord) -> list[iptables.Rule]:
        return iptables.network_rules(self.host_names.chains, network.bridge, network.subnet, network.internal)

    def _require_started(self) -> None:
        if not self._started:
            raise NetworkError("the network manager is not started")

    # ------------------------------------------------------------------
    # Endpoints

    def connect(
        self,
        network: str,
        container_id: str,
        *,
        name: str,
        aliases: Iterable[str] = (),
        links: Iterable[str] = (),
        ip: str | None = None,
        ip6: str | None = None,
        mac: str | None = None,
        trace: Trace = NO_TRACE,
    ) -> Endpoint:
        """Reserve the container's place on ``network``: an address, a MAC, an endpoint id.

        ``mac`` is the MAC the client asked for (``--mac-address``); by default
        the MAC is made from the address (``ipam.mac_address``).

        No kernel work yet, so the engine can write /etc/hosts before the
        container's process exists.  ``links`` are ``NAME[:ALIAS]`` legacy
        links, which on a user-defined network are DNS names only this
        container resolves (see ``NameTable``).
        """
        aliases = [a for a in aliases if a]
        with self._lock:
            self._require_started()
            record = self._find(network)
            if container_id in self._endpoints[record.id]:
                raise NetworkForbidden(f"endpoint with name {name} already exists in network {record.name}")
            endpoint = Endpoint(
                network_id=record.id, network_name=record.name, driver=record.driver, container_id=container_id,
                name=name.lstrip("/"), endpoint_id=self._new_endpoint_id(), embedded_dns=record.embedded_dns,
            )
            if record.driver == OVERLAY:
                if ip6:
                    raise InvalidNetworkArgument("nbdock's overlay networks are IPv4 only")
                self._assign_overlay_address(record, endpoint, aliases, ip)
            elif record.driver == BRIDGE:
                self._assign_address(record, endpoint, aliases, ip)
                self._assign_ipv6_address(record, endpoint, ip6)
                if record.embedded_dns:
                    endpoint.links = list(dict.fromkeys(link for link in links if link))
            elif aliases or ip or ip6:
                raise InvalidNetworkArgument(
                    "network-scoped aliases and addresses are only supported for user-defined networks, "
                    f"not {record.name}"
                )
            if mac and record.driver == OVERLAY:
                # Every host derives the MACs of the others' containers from their addresses.
                raise InvalidNetworkArgument("nbdock sets a MAC address of one's own on bridge networks only")
            if mac and record.driver == BRIDGE:
                endpoint.mac_address = ipam.parse_mac(mac)
            trace.emit("network", "ipam", network=record.name, address=endpoint.ip_address, mac=endpoint.mac_address)
            self._endpoints[record.id][container_id] = endpoint
            self._save(record)
            self._refresh_names()
            return endpoint

    def _new_endpoint_id(self) -> str:
        def host_end(endpoint_id: str) -> str:
            return self.host_names.veth_pair(endpoint_id)[0]

        taken = {host_end(ep.endpoint_id) for endpoints in self._endpoints.values() for ep in endpoints.values()}
        return self._new_id(host_end, taken)

    def _assign_address(self, record: NetworkRecord, endpoint: Endpoint, aliases: list[str], ip: str | None) -> None:
        if record.predefined:
            if aliases:
                raise InvalidNetworkArgument("network-scoped aliases are only supported for user-defined networks")
            if ip:
                raise InvalidNetworkArgument("user specified IP address is supported on user defined networks only")
        elif ip and not record.user_subnet:
            raise InvalidNetworkArgument(
                "user specified IP address is supported only when connecting to networks with user configured subnets"
            )
        subnet = IPv4Network(record.subnet)
        taken = [IPv4Address(ep.ip_address) for ep in self._endpoints[record.id].values()]
        requested = ipam.parse_address(ip) if ip else None
        address = ipam.allocate_address(
            subnet, IPv4Address(record.gateway), taken, requested,
            ip_range=IPv4Network(record.ip_range) if record.ip_range else None,
            reserved=[IPv4Address(a) for a in record.aux_addresses.values()])
        endpoint.ip_address = str(address)
        endpoint.prefix_len = subnet.prefixlen
        endpoint.gateway = record.gateway
        endpoint.mac_address = ipam.mac_address(address)
        endpoint.requested_ip = ip or None
        if record.embedded_dns:
            # Docker adds the short container id, so containers can also be reached by it.
            # Once: a restarted container's saved aliases already hold it.
            endpoint.aliases = list(dict.fromkeys([*aliases, endpoint.container_id[:12]]))

    def _assign_ipv6_address(self, record: NetworkRecord, endpoint: Endpoint, ip6: str | None) -> None:
        """On a network made with --ipv6: an address from its IPv6 pool, ``ip6`` if asked for."""
        if ip6 and record.predefined:
            raise InvalidNetworkArgument("user specified IP address is supported on user defined networks only")
        if ip6 and not (record.enable_ipv6 and record.subnet6):
            raise InvalidNetworkArgument(
                "user specified IP address is supported only when connecting to networks with user configured subnets"
            )
        if not record.enable_ipv6:
            return
        if ip6:
            try:
                requested = IPv6Address(ip6)
            except ValueError:
                raise InvalidNetworkArgument(f"invalid IPv6 address: {ip6}") from None
        subnet = IPv6Network(record.subnet6)  # always the user's: Docker 20.10 has no default IPv6 pool
        taken = [IPv6Address(ep.ipv6_address) for ep in self._endpoints[record.id].values() if ep.ipv6_address]
        address = ipam.allocate_address(
            subnet, IPv6Address(record.gateway6), taken, requested if ip6 else None,
            ip_range=IPv6Network(record.ip_range6) if record.ip_range6 else None)
        endpoint.ipv6_address = str(address)
        endpoint.ipv6_prefix_len = subnet.prefixlen
        endpoint.ipv6_gateway = record.gateway6
        endpoint.requested_ipv6 = ip6 or None

    def _assign_overlay_address(self, record: NetworkRecord, endpoint: Endpoint, aliases: list[str],
                                ip: str | None) -> None:
        """An address taken in the cluster store (compare-and-swap, overlay.py), registered with our names."""
        if ip and not record.user_subnet:
            raise InvalidNetworkArgument(
                "user specified IP address is supported only when connecting to networks with user configured subnets"
            )
        aliases = aliases + [endpoint.container_id[:12]]
        entry = {"network_id": record.id, "endpoint_id": endpoint.endpoint_id, "container_id": endpoint.container_id,
                 "name": endpoint.name, "aliases": aliases}
        address = self._require_overlay().allocate(record.id, entry, ipam.parse_address(ip) if ip else None)
        endpoint.ip_address = str(address)
        endpoint.prefix_len = IPv4Network(record.subnet).prefixlen
        endpoint.gateway = record.gateway
        endpoint.mac_address = ipam.mac_address(address)
        endpoint.requested_ip = ip or None
        endpoint.aliases = aliases

    def endpoints(self, container_id: str) -> list[Endpoint]:
        """The container's endpoints, in the order its networks were created (for container:<id> mode too)."""
        with self._lock:
            return [eps[container_id] for eps in self._endpoints.values() if container_id in eps]

    def setup_loopback(self, netns_path: str, *, trace: Trace = NO_TRACE) -> None:
        """Bring ``lo`` up in a container's namespace (every container with its own, even --network none)."""
        netlink.run_in_netns(netns_path, lambda: netlink.bring_up_loopback(trace))

    def plug(self, endpoint: Endpoint, netns_path: str, *, trace: Trace = NO_TRACE) -> None:
        """Give the container its interface on the endpoint's network.

        The kernel steps: a veth pair, its host end on the bridge and up, its
        other end created inside the container's namespace as eth<N> with its
        MAC; there, lo up, the address, eth<N> up, and a default route through
        the gateway if the namespace has none yet (so the first network gives
        the default route).
        On a user-defined network, the container also gets its DNS server.
        Host and none endpoints need no kernel work.
        """
        with self._lock:
            record = self._networks.get(endpoint.network_id)
            if record is None or self._endpoints[record.id].get(endpoint.container_id) is not endpoint:
                raise NetworkNotFound(
                    f"endpoint of {endpoint.name} on network {endpoint.network_name} is not connected "
                    "(it was disconnected, or the network manager restarted since)"
                )
            if endpoint.driver not in (BRIDGE, OVERLAY):
                return
            if endpoint.plugged:
                raise NetworkConflict(f"endpoint {endpoint.endpoint_id[:12]} is already plugged")
            host_ifname, _ = self.host_names.veth_pair(endpoint.endpoint_id)
            # Only nbdock adds interfaces to a container's namespace (its processes lack
            # CAP_NET_ADMIN), so its plugged endpoints say which ethN comes next and
            # whether a default route is there already.
            siblings = [ep for ep in self.endpoints(endpoint.container_id) if ep.plugged]
            ifname = f"eth{len(siblings)}"
            has_route = any(not self._networks[ep.network_id].internal and ep.driver == BRIDGE
                            for ep in siblings if ep.network_id in self._networks)
            # An overlay leads nowhere beyond its subnet (overlay.py): no default route through it.
            overlay = record.driver == OVERLAY
            route_via = None if record.internal or has_route or overlay else IPv4Address(record.gateway)
            has_route6 = any(not self._networks[ep.network_id].internal and ep.ipv6_address
                             for ep in siblings if ep.network_id in self._networks)
            ipv6 = (IPv6Address(endpoint.ipv6_address), endpoint.ipv6_prefix_len) if endpoint.ipv6_address else None
            route6_via = None if ipv6 is None or record.internal or has_route6 else IPv6Address(endpoint.ipv6_gateway)
            wants_dns = endpoint.embedded_dns and endpoint.container_id not in self._dns
            dns_sockets = None
            try:
                if overlay:
                    doc = next(d for d in self._require_overlay().networks() if d["id"] == record.id)
                    self._overlay.attach(doc, host_ifname, ifname, endpoint.mac_address, netns_path, trace)
                else:
                    netlink.create_veth(host_ifname, ifname, endpoint.mac_address, record.bridge, netns_path, trace)

                def inside_container() -> Any:
                    netlink.configure_container_end(
                        ifname, IPv4Address(endpoint.ip_address), endpoint.prefix_len, route_via, trace,
                        ipv6=ipv6, gateway6=route6_via)
                    if not wants_dns:
                        return None
                    trace.emit("network", "socket_bind", address="127.0.0.11:53", protocols=["udp", "tcp"])
                    return open_dns_sockets()  # lo is up: the resolver's address lives on it

                dns_sockets = netlink.run_in_netns(netns_path, inside_container)
                if dns_sockets is not None:
                    self._start_dns(endpoint.container_id, *dns_sockets)
            except OSError as err:
                self._undo_plug(record, host_ifname, dns_sockets, trace)
                raise NetworkHostError(f"connecting {endpoint.name} to {record.name}: {err}") from None
            except BaseException:
                self._undo_plug(record, host_ifname, dns_sockets, trace)
                raise
            endpoint.ifname = ifname
            endpoint.host_ifname = host_ifname
            endpoint.netns_path = netns_path
            self._save(record)

    def _undo_plug(self, record: NetworkRecord, host_ifname: str, dns_sockets: tuple | None, trace: Trace) -> None:
        if dns_sockets is not None:
            for sock in dns_sockets:
                sock.close()
        self._delete_host_end(record.id, record.driver, host_ifname, trace)

    def _delete_host_end(self, network_id: str, driver: str, host_ifname: str, trace: Trace) -> None:
        """Delete the host end of a veth pair: on the host, or in an overlay network's namespace."""
        if driver == OVERLAY:
            if self._overlay is not None:
                self._overlay.detach(network_id, host_ifname, trace)
        else:
            netlink.delete_link(host_ifname, trace)

    def _start_dns(self, container_id: str, udp, tcp) -> None:
        server = DnsServer(container_id, udp, tcp, names=lambda: self._names, upstreams=self._upstream_resolvers)
        self._services.call(server.start)
        self._dns[container_id] = server

    def _upstream_resolvers(self) -> list[str]:
        """Where the embedded DNS sends the names it does not own: the host's resolvers.

        The query leaves from the daemon, in the host's namespace, so a
        resolver on the host's loopback (systemd-resolved) works too.
        """
        try:
            with open(self.host_resolv_conf) as f:
                return files.nameservers(f.read())
        except OSError:
            return []

    def unplug(self, endpoint: Endpoint, *, trace: Trace = NO_TRACE) -> None:
        """Remove the container's interface (and its DNS server, with its last user-defined network)."""
        with self._lock:
            if not endpoint.plugged:
                return
            self._delete_host_end(endpoint.network_id, endpoint.driver, endpoint.host_ifname, trace)
            endpoint.host_ifname = None
            endpoint.ifname = None
            endpoint.netns_path = None
            server = self._dns.get(endpoint.container_id)
            still_needed = any(ep.plugged and ep.embedded_dns for ep in self.endpoints(endpoint.container_id))
            if server is not None and not still_needed:
                trace.emit("network", "socket_close", address="127.0.0.11:53")
                self._services.call(server.close)
                del self._dns[endpoint.container_id]
            record = self._networks.get(endpoint.network_id)
            if record is not None:
                self._save(record)

    def disconnect(self, network: str, container_id: str, *, trace: Trace = NO_TRACE) -> None:
        """Forget the endpoint (and free its address), unpublishing and unplugging it first if needed."""
        with self._lock:
            record = self._find(network)
            endpoint = self._endpoints[record.id].get(container_id)
            if endpoint is None:
                raise NetworkError(f"container {container_id} is not connected to the network {record.name}")
            published = self._published.get(container_id)
            if published is not None and published.endpoint_id == endpoint.endpoint_id:
                self.unpublish(container_id, trace=trace)
            self.unplug(endpoint, trace=trace)
            del self._endpoints[record.id][container_id]
            if record.driver == OVERLAY and self._overlay is not None:
                self._overlay.release(record.id, endpoint.ip_address)
            self._save(record)
            self._refresh_names()

    def _save(self, record: NetworkRecord) -> None:
        if record.driver == OVERLAY:
            return  # the cluster store holds overlay networks and their endpoints
        records.save(self.state_dir, record, list(self._endpoints[record.id].values()))

    def _refresh_names(self) -> None:
        """Rebuild the DNS servers' snapshot of who is called what, on which network."""
        networks_of: dict[str, list[str]] = {}
        members: dict[str, tuple[str, list]] = {}
        link_aliases: dict[tuple[str, str], dict[str, str]] = {}
        for network_id, endpoints in self._endpoints.items():
            record = self._networks[network_id]
            if not record.embedded_dns:
                continue
            entries = []
            for container_id, ep in endpoints.items():
                networks_of.setdefault(container_id, []).append(network_id)
                names = {n.lower() for n in [ep.name, *ep.aliases]}
                names |= {f"{n}.{record.name.lower()}" for n in names}
                entries.append((frozenset(names), IPv4Address(ep.ip_address)))
                if ep.ipv6_address:
                    entries.append((frozenset(names), IPv6Address(ep.ipv6_address)))
                for link in ep.links:
                    target, _, alias = link.partition(":")
                    target = target.lstrip("/").lower()
                    link_aliases.setdefault((container_id, network_id), {})[(alias or target).lower()] = target
            if record.driver == OVERLAY and self._overlay is not None:
                # Containers of the other hosts, as they registered in the store.
                for remote in self._overlay.remote_endpoints(network_id):
                    names = {n.lower() for n in [remote["name"], *remote.get("aliases", [])]}
                    names |= {f"{n}.{record.name.lower()}" for n in names}
                    entries.append((frozenset(names), IPv4Address(remote["ip"])))
            members[network_id] = (record.name, entries)
        self._names = NameTable({cid: tuple(ids) for cid, ids in networks_of.items()}, members, link_aliases)

    # ------------------------------------------------------------------
    # Published ports

    def publish(
        self,
        container_id: str,
        endpoint: Endpoint,
        port_bindings: Mapping[str, Any] | None,
        exposed_ports: Iterable[str] | None,
        publish_all: bool,
        *,
        trace: Trace = NO_TRACE,
    ) -> dict[str, list[dict[str, str]] | None]:
        """Publish the container's ports on the host; returns NetworkSettings.Ports.

        Each binding is carried two ways, as Docker does: an iptables DNAT
        rule rewrites packets sent to the host's own (non-loopback) addresses,
        and a userland proxy listening on the port carries what DNAT cannot:
        connections to 127.0.0.1, and from containers on the same bridge.
        A binding on 127.0.0.1 or :: gets the proxy only.
        """
        exposed = list(exposed_ports or ())
        requests = ports.plan(port_bindings, exposed, publish_all)
        if endpoint.driver != BRIDGE:
            return {}  # Docker discards published ports on the host network
        with self._lock:
            if container_id in self._published:
                raise NetworkConflict(f"the ports of container {container_id[:12]} are already published")
            published = _Published(endpoint.endpoint_id, [])
            try:
                for request in requests:
                    published.reservations += self._ports.reserve(request)
                for reservation in published.reservations:
                    self._carry(published, reservation, endpoint, trace)
            except BaseException as err:
                self._release(published, trace)
                if isinstance(err, NetworkHostError):
                    raise NetworkHostError(
                        f"driver failed programming external connectivity on endpoint {endpoint.name} "
                        f"({endpoint.endpoint_id}): {err.message}"
                    ) from None
                raise
            self._published[container_id] = published
            return ports.ports_report(published.reservations, exposed)

    def _carry(self, published: _Published, reservation: ports.Reservation, endpoint: Endpoint, trace: Trace) -> None:
        """Set up the DNAT rules (where they can work) and the proxy for one reserved port."""
        record = self._networks[endpoint.network_id]
        target = (endpoint.ip_address, reservation.container_port)
        carried_by = {"userland proxy": "connections to 127.0.0.1 and from containers on the same bridge"}
        if reservation.host_ip == ports.ANY_IPV6:
            carried_by = {"userland proxy": "IPv6 connections (nbdock makes no ip6tables rules)"}
        elif not IPv4Address(reservation.host_ip).is_loopback:
            carried_by["iptables DNAT"] = "packets to the host's own addresses"
            rules = iptables.port_rules(
                self.host_names.chains, record.bridge,
                reservation.host_ip, reservation.host_port, reservation.proto, *target,
            )
            for rule in rules:
                iptables.append(rule, trace)
                published.rules.append(rule)
        proxy_class = TcpProxy if reservation.proto == "tcp" else UdpProxy
        proxy = proxy_class(reservation.sock, target)
        self._services.call(proxy.start)
        published.proxies.append(proxy)
        host = f"[{reservation.host_ip}]" if ":" in reservation.host_ip else reservation.host_ip
        trace.emit(
            "network", "publish", host=f"{host}:{reservation.host_port}", proto=reservation.proto,
            container=f"{target[0]}:{target[1]}", carried_by=carried_by,
        )

    def unpublish(self, container_id: str, *, trace: Trace = NO_TRACE) -> None:
        """Stop publishing the container's ports (nothing to do if it published none)."""
        with self._lock:
            published = self._published.pop(container_id, None)
            if published is not None:
                self._release(published, trace)

    def _release(self, published: _Published, trace: Trace) -> None:
        for rule in published.rules:
            iptables.delete(rule, trace)
        for proxy in published.proxies:
            self._services.call(proxy.close)
        for reservation in published.reservations:
            reservation.sock.close()  # closed already if a proxy owned it; closing twice is harmless

    # ------------------------------------------------------------------
    # /etc/resolv.conf and /etc/hosts

    def resolv_conf(self, endpoints: Iterable[Endpoint], *, dns: Iterable[str] = (), dns_search: Iterable[str] = (),
                    dns_options: Iterable[str] = ()) -> str:
        """The container's /etc/resolv.conf: 127.0.0.11 on user-defined networks, the host's otherwise,
        with ``--dns``/``--dns-search``/``--dns-option`` replacing the lines of their kind.

        Behind the embedded resolver the file keeps 127.0.0.11 (and ndots:0
        unless an option sets ndots); ``--dns`` servers are not used there.
        """
        endpoints = list(endpoints)
        host_file = _read(self.host_resolv_conf)
        if any(ep.driver == HOST for ep in endpoints):
            # The host's namespace: its resolvers are reachable as they are.
            return files.with_dns_settings(host_file, servers=dns, search=dns_search, options=dns_options)
        embedded = any(ep.embedded_dns for ep in endpoints)
        base = files.container_resolv_conf(host_file, embedded_dns=embedded)
        if embedded:
            dns_options = list(dns_options)
            if dns_options and not any(option.startswith("ndots:") for option in dns_options):
                dns_options.append("ndots:0")
            return files.with_dns_settings(base, search=dns_search, options=dns_options)
        return files.with_dns_settings(base, servers=dns, search=dns_search, options=dns_options)

    def hosts_file(
        self, hostname: str, endpoints: Iterable[Endpoint], extra_hosts: Iterable[str] = (), *, domainname: str = "",
        links: Iterable[tuple[str, str]] = (),
    ) -> str:
        """The container's /etc/hosts (``extra_hosts`` are ``--add-host`` entries, "name:ip";
        ``links`` the (names, ip) entries of ``--link``, after them as in Docker)."""
        endpoints = list(endpoints)
        with self._lock:
            default = self._find_predefined("bridge")
            host_gateway = default.gateway if default else None
        extras = [files.parse_extra_host(entry, host_gateway) for entry in extra_hosts] + list(links)
        if any(ep.driver == HOST for ep in endpoints):
            return _read(self.host_hosts) + "".join(f"{address}\t{name}\n" for name, address in extras)
        own = list(dict.fromkeys(ep.ip_address for ep in endpoints if ep.ip_address))
        return files.container_hosts_file(hostname, domainname, own, extras)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _enable_ip_forward() -> None:
    """Routing between the bridges and the outside needs IPv4 forwarding on, as Docker sets it.

    Like dockerd, nbdock never turns it back off: it is one switch for the
    whole host, and other engines -- dockerd, other nbdock instances -- rely
    on it as soon as it is on.
    """
    with open(IP_FORWARD) as f:
        if f.read().strip() == "1":
            return
    with open(IP_FORWARD, "w") as f:
        f.write("1")
