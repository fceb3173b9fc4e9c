"""IP address management: which subnet a network gets, which address a container gets.

This module is pure arithmetic on :mod:`ipaddress` objects; the caller
supplies what the kernel already uses (the host's routes) and what nbdock
already handed out, so every rule here can be tested without root.

Docker's rules, which nbdock follows:

* A subnet nbdock chooses must not overlap any route of the host: if it
  did, packets meant for the containers would go out of the wrong interface
  (or packets meant for the LAN would go to the containers).  Docker
  therefore walks a pool of private ranges -- 172.17-31.0.0/16, then
  192.168.x.0/20 -- and takes the first one that overlaps no route.  nbdock
  starts at 172.18 because dockerd, running beside it, usually holds 172.17.
  A subnet the *user* names is checked only against the engine's own
  networks, as Docker does: the user is trusted to know their routes.
* The gateway is the subnet's first address; it lives on the bridge.
* Containers get the lowest free address after it -- or, when the network
  has an *IP range* (``--ip-range``, a smaller block inside the subnet), the
  lowest free one in that range.  A requested address (``--ip``) may be
  anywhere in the subnet: the range only bounds what the engine picks.
* IPv6 (``--ipv6`` with an IPv6 ``--subnet``): the same rules in a second
  pool beside the IPv4 one.  Docker 20.10 has no default IPv6 pool, so a
  network with ``--ipv6`` and no IPv6 subnet is refused with its words.
* *Auxiliary addresses* (``--aux-address name=ip``) are reserved for
  devices outside nbdock (a router, a printer on the bridge): never handed
  out, and refused as "in use" when asked for.
* A container's MAC address is 02:42 followed by its IPv4 address: 02 sets
  the "locally administered" bit, so it can never clash with a real card's
  vendor-assigned address, and deriving it from the IP keeps it unique on
  the bridge without any bookkeeping.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Iterable

from nbdock.network.errors import InvalidNetworkArgument, NetworkConflict, NetworkForbidden

#: The ranges networks are carved from when no subnet is given, in order.
DEFAULT_POOL: tuple[IPv4Network, ...] = tuple(
    [IPv4Network(f"172.{second}.0.0/16") for second in range(18, 32)]
    + [IPv4Network(f"192.168.{third}.0/20") for third in range(0, 256, 16)]
)

#: A /30 holds a gateway and one container; anything smaller holds no container.
LONGEST_PREFIX = 30


def parse_subnet(text: str) -> IPv4Network:
    """``"10.1.0.0/16"`` -> IPv4Network; host bits are cleared as Docker does."""
    try:
        subnet = ip_network(text, strict=False)
    except ValueError:
        raise InvalidNetworkArgument(f"invalid subnet {text!r}: expected an IPv4 CIDR such as 10.1.0.0/16") from None
    if subnet.version != 4:
        raise InvalidNetworkArgument(f"invalid subnet {text!r}: not an IPv4 subnet (an IPv6 one goes with --ipv6)")
    if subnet.prefixlen > LONGEST_PREFIX:
        raise InvalidNetworkArgument(f"invalid subnet {text!r}: a /{subnet.prefixlen} has no room for containers")
    return subnet


def family_of(text: str) -> int:
    """4 or 6: which pool a ``--subnet`` belongs to (0 when it is neither, for parse_subnet to word the error)."""
    try:
        return ip_network(text, strict=False).version
    except ValueError:
        return 0


def pools_by_family(pools: list[dict]) -> tuple[dict, dict]:
    """A request's IPAM.Config split into its IPv4 pool and its IPv6 pool ({} where there is none).

    nbdock networks hold one subnet of each family at most (Docker may hold several IPv4 pools).
    """
    by_family: dict[int, dict] = {}
    for pool in pools:
        pool = pool or {}
        family = family_of(pool.get("Subnet") or "")
        if family == 0:
            if pool.get("Subnet"):
                parse_subnet(pool["Subnet"])  # words the error
            raise InvalidNetworkArgument("an IPAM pool needs a subnet (a gateway, IP range or aux-address goes with one)")
        if family in by_family:
            raise InvalidNetworkArgument(f"nbdock networks take one IPv{family} subnet each")
        by_family[family] = pool
    return by_family.get(4, {}), by_family.get(6, {})


def parse_subnet6(text: str) -> IPv6Network:
    """``"2001:db8:1::/64"`` -> IPv6Network, host bits cleared."""
    try:
        subnet = ip_network(text, strict=False)
    except ValueError:
        raise InvalidNetworkArgument(f"invalid subnet {text!r}: expected an IPv6 CIDR such as 2001:db8:1::/64") from None
    if subnet.version != 6 or subnet.prefixlen > 126:
        raise InvalidNetworkArgument(f"invalid IPv6 subnet {text!r}")
    return subnet


def parse_address(text: str, what: str = "IP address", version: int = 4) -> IPv4Address | IPv6Address:
    """An address of the pool's family (``version`` 4 or 6), its text named in the error."""
    try:
        address = ip_address(text)
    except ValueError:
        raise InvalidNetworkArgument(f"invalid {what} {text!r}") from None
    if address.version != version:
        raise InvalidNetworkArgument(f"invalid {what} {text!r}: not an IPv{version} address")
    return address


def choose_subnet(in_use: Iterable[IPv4Network]) -> IPv4Network:
    """The first subnet of the default pool that overlaps nothing in ``in_use``."""
    taken = list(in_use)
    for candidate in DEFAULT_POOL:
        if not any(candidate.overlaps(other) for other in taken):
            return candidate
    raise NetworkForbidden(
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
    )


def check_subnet_free(subnet: IPv4Network, in_use: Iterable[IPv4Network]) -> None:
    """Refuse a user-chosen subnet that overlaps a route or another network (Docker's words)."""
    if any(subnet.overlaps(other) for other in in_use):
        raise NetworkForbidden("Pool overlaps with other one on this address space")


def parse_ip_range(text: str, subnet: IPv4Network | IPv6Network) -> IPv4Network | IPv6Network:
    """``--ip-range``: a block inside the subnet that the engine allocates from (Docker's words if outside)."""
    try:
        block = ip_network(text, strict=False)
    except ValueError:
        raise InvalidNetworkArgument(f"invalid IP range {text!r}: expected a CIDR such as 10.1.5.0/24") from None
    if block.version != subnet.version or not block.subnet_of(subnet):
        raise InvalidNetworkArgument(f"no matching subnet for range {text}")
    return block


def parse_aux_addresses(named: dict[str, str], subnet: IPv4Network) -> dict[str, IPv4Address]:
    """``--aux-address name=ip``: addresses reserved inside the subnet (Docker's words if outside)."""
    reserved = {}
    for name, text in named.items():
        address = parse_address(text, f"auxiliary address {name}")
        if address not in subnet:
            raise InvalidNetworkArgument(f"no matching subnet for aux-address {text}")
        reserved[name] = address
    return reserved


def default_gateway(subnet: IPv4Network) -> IPv4Address:
    return subnet.network_address + 1


def check_gateway(gateway: IPv4Address, subnet: IPv4Network) -> None:
    if gateway not in subnet or gateway in (subnet.network_address, subnet.broadcast_address):
        raise InvalidNetworkArgument(f"no matching subnet for gateway {gateway}")


def allocate_address(
    subnet: IPv4Network,
    gateway: IPv4Address,
    taken: Iterable[IPv4Address],
    requested: IPv4Address | None = None,
    *,
    ip_range: IPv4Network | None = None,
    reserved: Iterable[IPv4Address] = (),
) -> IPv4Address:
    """An address for a new endpoint: ``requested`` if it is free, else the lowest free one.

    The network and broadcast addresses of the subnet are never handed out,
    nor is the gateway (the bridge's own address), nor a reserved
    (auxiliary) address.  Without a request, the search walks ``ip_range``
    when the network has one -- all of it, its own first and last address
    included, as Docker's allocator does: only the subnet's are special.
    """
    used = set(taken) | set(reserved) | {gateway}
    unusable = (subnet.network_address, subnet.broadcast_address)
    if requested is not None:
        if requested not in subnet or requested in unusable:
            raise InvalidNetworkArgument(
                f"Invalid address {requested}: It does not belong to any of this network's subnets"
            )
        if requested in used:
            raise NetworkConflict("Address already in use")
        return requested
    candidates = iter(ip_range) if ip_range is not None else subnet.hosts()
    for candidate in candidates:
        if candidate not in used and candidate not in unusable:
            return candidate
    raise NetworkConflict(f"no available IPv4 addresses on this network's address pools: {subnet}")


def mac_address(address: IPv4Address) -> str:
    """Docker's MAC for a container address: 02:42 then the four bytes of the IPv4 address."""
    return ":".join(f"{byte:02x}" for byte in b"\x02\x42" + address.packed)


def parse_mac(text: str) -> str:
    """A MAC a client asks for (``--mac-address``), as six lowercase hex bytes joined by colons.

    It must be a unicast address: the lowest bit of the first byte marks a
    multicast group, which no interface can have as its own (the kernel
    refuses it with EADDRNOTAVAIL).
    """
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise InvalidNetworkArgument(f"invalid MAC address: {text} (expected six hex bytes, 02:42:ac:11:00:02)")
    if int(parts[0], 16) & 1:
        raise InvalidNetworkArgument(f"invalid MAC address: {text} is a multicast address")
    return ":".join(parts).lower()
