"""nbdock.network: bridges, veth pairs, IPAM, published ports, embedded DNS and overlay networks.

The engine uses one object, :class:`NetworkManager` (see manager.py for the
life of a container's networking); the other modules are its parts, one per
mechanism:

============ ============================================================
instance     one of several nbdock instances on a host: its names, the subnet lock
ipam         subnets for networks, addresses and MACs for containers
netlink      bridges, veth pairs, addresses, routes (rtnetlink via pyroute2)
iptables     nbdock's chains: forwarding, isolation, masquerade, DNAT
ports        reading -p/-P requests, reserving host ports
services     the thread serving userland proxies and the embedded DNS
dns          the DNS wire format, just enough for the embedded resolver
files        a container's /etc/hosts and /etc/resolv.conf
records      networks and endpoints, and how they are stored on disk
overlay      networks spanning hosts: VXLAN in a namespace per network, kept in step through etcd
clusterstore etcd's v3 JSON gateway: keys, transactions, leases, watches (the cluster store)
============ ============================================================
"""

from nbdock.network.errors import (
    InvalidNetworkArgument,
    NetworkConflict,
    NetworkError,
    NetworkForbidden,
    NetworkHostError,
    NetworkNotFound,
)
from nbdock.network.manager import NetworkManager
from nbdock.network.records import Endpoint

__all__ = [
    "NetworkManager",
    "Endpoint",
    "NetworkError",
    "NetworkNotFound",
    "NetworkConflict",
    "NetworkForbidden",
    "InvalidNetworkArgument",
    "NetworkHostError",
]
