"""What nbdock remembers about networks and endpoints, and how it is stored.

Each network is one file, ``<data_root>/networks/<id>.json``, holding the
network's definition and its current endpoints (which is the IPAM state:
an address is taken exactly when an endpoint holds it).  Files are written
to a temporary name and renamed into place, so a crash leaves either the
old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

#: Driver names, as Docker reports them.
BRIDGE = "bridge"
HOST = "host"
NULL = "null"
OVERLAY = "overlay"  # spans hosts (overlay.py); defined in the cluster store, never in this directory


@dataclass
class NetworkRecord:
    id: str
    name: str
    driver: str
    created: str  # RFC 3339, as Docker writes it
    subnet: str | None = None
    gateway: str | None = None
    bridge: str | None = None  # the Linux bridge's name
    internal: bool = False
    predefined: bool = False  # bridge, host, none: cannot be removed
    user_subnet: bool = False  # the subnet was chosen by the user (needed for --ip)
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ipam_options: dict[str, str] | None = None  # as the request sent them: null when it sent none, as Docker
    ip_range: str | None = None  # --ip-range: the block inside the subnet that addresses are picked from
    aux_addresses: dict[str, str] = field(default_factory=dict)  # --aux-address: name -> reserved address
    enable_ipv6: bool = False  # --ipv6: endpoints get an address from the IPv6 pool too
    subnet6: str | None = None  # the IPv6 pool's subnet (kept, as Docker keeps it, even without --ipv6)
    gateway6: str | None = None  # on the bridge, with --ipv6
    user_gateway6: bool = False  # given with --gateway: inspect shows an IPv6 gateway only then, as Docker
    ip_range6: str | None = None

    @property
    def embedded_dns(self) -> bool:
        """Containers on user-defined bridge and overlay networks resolve each other through 127.0.0.11."""
        return self.driver in (BRIDGE, OVERLAY) and not self.predefined


@dataclass
class Endpoint:
    """A container's attachment to one network.

    Created by ``NetworkManager.connect`` (an address, a MAC, an id), made
    real by ``plug`` (the veth pair; ``ifname`` and ``host_ifname`` are set
    then), undone by ``unplug`` and forgotten by ``disconnect``.
    """

    network_id: str
    network_name: str
    driver: str
    container_id: str
    name: str  # the container's name, without Docker's leading "/"
    endpoint_id: str
    aliases: list[str] = field(default_factory=list)
    # ``--link NAME[:ALIAS]`` on a user-defined network: "NAME:ALIAS" names this container alone resolves
    links: list[str] = field(default_factory=list)
    ip_address: str = ""  # empty on the host and none networks
    prefix_len: int = 0
    gateway: str = ""
    mac_address: str = ""
    requested_ip: str | None = None  # --ip, reported as IPAMConfig
    ipv6_address: str = ""  # on a network made with --ipv6
    ipv6_prefix_len: int = 0
    ipv6_gateway: str = ""
    requested_ipv6: str | None = None  # --ip6
    embedded_dns: bool = False
    ifname: str | None = None  # inside the container, once plugged: eth0, eth1...
    host_ifname: str | None = None  # the host end of the veth pair, once plugged
    netns_path: str | None = None

    @property
    def plugged(self) -> bool:
        return self.host_ifname is not None

    # Docker's field names, for inspect

    @property
    def IPAddress(self) -> str:  # noqa: N802 -- the name inspect uses
        return self.ip_address

    @property
    def IPPrefixLen(self) -> int:  # noqa: N802
        return self.prefix_len

    @property
    def Gateway(self) -> str:  # noqa: N802
        return self.gateway

    @property
    def MacAddress(self) -> str:  # noqa: N802
        return self.mac_address

    @property
    def EndpointID(self) -> str:  # noqa: N802
        return self.endpoint_id

    @property
    def Aliases(self) -> list[str] | None:  # noqa: N802
        return list(self.aliases) or None

    def to_api(self) -> dict[str, Any]:
        """The NetworkSettings.Networks[<network name>] object of ``docker inspect``."""
        return {
            "IPAMConfig": {**({"IPv4Address": self.requested_ip} if self.requested_ip else {}),
                           **({"IPv6Address": self.requested_ipv6} if self.requested_ipv6 else {})} or None,
            "Links": list(self.links) or None,
            "Aliases": self.Aliases,
            "NetworkID": self.network_id,
            "EndpointID": self.endpoint_id,
            "Gateway": self.gateway,
            "IPAddress": self.ip_address,
            "IPPrefixLen": self.prefix_len,
            "IPv6Gateway": self.ipv6_gateway,
            "GlobalIPv6Address": self.ipv6_address,
            "GlobalIPv6PrefixLen": self.ipv6_prefix_len,
            "MacAddress": self.mac_address,
            "DriverOpts": None,
        }

    def to_container_entry(self) -> dict[str, str]:
        """This endpoint in the network's ``Containers`` map."""
        return {
            "Name": self.name,
            "EndpointID": self.endpoint_id,
            "MacAddress": self.mac_address,
            "IPv4Address": f"{self.ip_address}/{self.prefix_len}" if self.ip_address else "",
            "IPv6Address": f"{self.ipv6_address}/{self.ipv6_prefix_len}" if self.ipv6_address else "",
        }


def save(directory: str, network: NetworkRecord, endpoints: list[Endpoint]) -> None:
    document = {"network": asdict(network), "endpoints": [asdict(ep) for ep in endpoints]}
    fd, temp_path = tempfile.mkstemp(dir=directory, prefix=f".{network.id[:12]}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(document, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp_path, os.path.join(directory, f"{network.id}.json"))
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise


def load_all(directory: str) -> list[tuple[NetworkRecord, list[Endpoint]]]:
    """Every stored network, oldest first.  Temporary files of an interrupted save are removed."""
    loaded = []
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        if entry.endswith(".tmp"):
            os.unlink(path)
            continue
        if not entry.endswith(".json"):
            continue
        with open(path) as f:
            document = json.load(f)
        network = NetworkRecord(**document["network"])
        loaded.append((network, [Endpoint(**ep) for ep in document["endpoints"]]))
    loaded.sort(key=lambda item: item[0].created)
    return loaded


def delete(directory: str, network_id: str) -> None:
    try:
        os.unlink(os.path.join(directory, f"{network_id}.json"))
    except FileNotFoundError:
        pass
