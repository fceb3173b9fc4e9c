"""The kernel side of container networking, spoken over netlink (pyroute2's IPRoute).

``ip link add``, ``ip addr add`` and ``ip route add`` are thin front ends to
rtnetlink: a socket (AF_NETLINK, NETLINK_ROUTE) on which the kernel accepts
"new link", "new address", "new route" messages.  pyroute2 builds those
messages in Python; every call below is one message to the kernel, and is
recorded in the container's trace just before it is sent.

**Which namespace a message acts on.**  A netlink socket talks to the network
namespace it was *created* in.  To configure a container's interfaces nbdock
therefore starts a short-lived thread that calls setns(CLONE_NEWNET) into the
container's namespace (setns moves only the calling thread), opens its
netlink socket there, does the work and ends.  The thread never returns to
the daemon's pool, so no other code can run by mistake in the container's
namespace.  (pyroute2's own ``netns=`` option forks a helper process, which
a multi-threaded daemon must not do.)
"""

from __future__ import annotations

import os
import threading
from socket import AF_INET6
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from typing import Callable, Iterator, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from nbdock.network.errors import NetworkHostError
from nbdock.kernel import libc
from nbdock.runtime.trace import Trace

T = TypeVar("T")

MAIN_ROUTING_TABLE = 254
ENODEV = 19
IFA_F_NODAD = 0x02  # <linux/if_addr.h>: skip Duplicate Address Detection for this IPv6 address


@contextmanager
def _netlink(step: str) -> Iterator[IPRoute]:
    """An rtnetlink socket in the calling thread's namespace; kernel refusals become NetworkHostError."""
    try:
        with IPRoute() as ipr:
            yield ipr
    except NetlinkError as err:
        raise NetworkHostError(f"{step} failed: [Errno {err.code}] {os.strerror(err.code)}") from None


def _index(ipr: IPRoute, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise NetlinkError(ENODEV, f"no interface {ifname}")
    return found[0]


def run_in_netns(netns_path: str, work: Callable[[], T]) -> T:
    """Run ``work()`` on a fresh thread that has joined the network namespace at ``netns_path``.

    Whatever sockets ``work`` opens belong to that namespace for their whole
    life, even after the thread has gone; that is how the embedded DNS
    server gets its socket inside the container.
    """
    outcome: dict[str, object] = {}

    def thread_main() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            outcome["error"] = NetworkHostError(f"cannot open network namespace {netns_path}: {err.strerror}")
            return
        try:
            libc.setns(fd, libc.CLONE_NEWNET)
        except OSError as err:
            outcome["error"] = NetworkHostError(f"setns into {netns_path} failed: {err}")
            return
        finally:
            os.close(fd)
        try:
            outcome["result"] = work()
        except BaseException as err:  # handed to the caller's thread below
            outcome["error"] = err

    thread = threading.Thread(target=thread_main, name=f"nbdock-netns {netns_path}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# Host side


def host_routes() -> list[IPv4Network]:
    """The destinations of the host's IPv4 routes (main table), without the default route."""
    with _netlink("listing routes") as ipr:
        routes = ipr.route("dump", family=2, table=MAIN_ROUTING_TABLE)
        return [
            IPv4Network(f"{r.get('dst')}/{r['dst_len']}")
            for r in routes
            if r["dst_len"] > 0 and r.get("dst") is not None
        ]


def link_names() -> list[str]:
    """The names of every interface in the host's namespace."""
    with _netlink("listing links") as ipr:
        return [link.get("ifname") for link in ipr.get_links()]


def create_bridge(name: str, gateway: IPv4Address, prefixlen: int, trace: Trace,
                  gateway6: tuple[IPv6Address, int] | None = None) -> None:
    """A Linux bridge holding the network's gateway address (and its IPv6 gateway, if any), up.

    A bridge is a software switch: the host ends of the containers' veth
    pairs are its ports.  Giving the bridge an address makes the host itself
    a member of the network, which is both how the host reaches containers
    directly and why the bridge's address is the containers' gateway.
    """
    with _netlink(f"creating bridge {name}") as ipr:
        trace.emit("network", "link_add", ifname=name, type="bridge")
        ipr.link("add", ifname=name, kind="bridge")
        index = _index(ipr, name)
        trace.emit("network", "addr_add", ifname=name, address=str(gateway), prefixlen=prefixlen)
        ipr.addr("add", index=index, address=str(gateway), prefixlen=prefixlen)
        if gateway6 is not None:
            _add_ipv6(ipr, index, name, *gateway6, trace)
        trace.emit("network", "link_set", ifname=name, state="up")
        ipr.link("set", index=index, state="up")


def _enable_ipv6_on(ifname: str, trace: Trace) -> None:
    """net.ipv6.conf.<ifname>.disable_ipv6 = 0 in the calling thread's network namespace.

    Every container's namespace starts with IPv6 off (``all`` and ``default``
    set to 1, as Docker sets them), and a device made there inherits
    ``default``: the kernel refuses an IPv6 address on it until this is 0.
    /proc/sys/net is the namespace of the task that opens it -- this thread,
    inside the container's namespace (run_in_netns) -- not the daemon's.
    """
    trace.emit("network", "sysctl", key=f"net.ipv6.conf.{ifname}.disable_ipv6", value="0")
    with open(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6", "w") as setting:
        setting.write("0")


def _add_ipv6(ipr: IPRoute, index: int, ifname: str, address: IPv6Address, prefixlen: int, trace: Trace) -> None:
    """An IPv6 address with IFA_F_NODAD, as Docker adds them.

    Without it the kernel first runs Duplicate Address Detection (RFC 4862):
    the address stays "tentative" for a second or more, unusable as a
    source, so a container's first packets would fail.  On a bridge whose
    addresses nbdock alone hands out, nothing can be duplicated.
    """
    trace.emit("network", "addr_add", ifname=ifname, address=str(address), prefixlen=prefixlen, flags="IFA_F_NODAD")
    ipr.addr("add", index=index, address=str(address), prefixlen=prefixlen, family=AF_INET6, flags=IFA_F_NODAD)


def delete_link(ifname: str, trace: Trace) -> bool:
    """Delete an interface; False if it was already gone.

    Deleting either end of a veth pair deletes both, wherever the other end
    is -- and a container's end vanishes by itself when its namespace dies.
    """
    with _netlink(f"deleting {ifname}") as ipr:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            return False
        trace.emit("network", "link_del", ifname=ifname)
        try:
            ipr.link("del", index=found[0])
        except NetlinkError as err:
            if err.code == ENODEV:  # gone in the meantime (its namespace died)
                return False
            raise
        return True


def create_veth(host_ifname: str, container_ifname: str, mac: str, bridge: str, netns_path: str, trace: Trace) -> None:
    """A veth pair: one end on ``bridge`` and up, the other already inside the container's namespace.

    A veth pair is a virtual cable: what goes in one end comes out of the
    other.  One rtnetlink message makes all of it: the host end with its
    bridge (IFLA_MASTER) and IFF_UP, and the peer -- created straight in the
    container's namespace (IFLA_NET_NS_FD in the peer's attributes) under
    its final name (eth0, eth1...) and MAC -- so nothing needs moving or
    renaming afterwards.
    """
    with _netlink(f"creating veth pair {host_ifname}") as ipr:
        bridge_index = _index(ipr, bridge)
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            trace.emit("network", "link_add", ifname=host_ifname, type="veth", master=bridge, state="up",
                       peer={"ifname": container_ifname, "address": mac, "net_ns_fd": netns_path})
            ipr.link("add", ifname=host_ifname, kind="veth", master=bridge_index, state="up",
                     peer={"ifname": container_ifname, "address": mac, "net_ns_fd": fd})
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------
# Container side (each function runs inside the container's namespace via run_in_netns)


def bring_up_loopback(trace: Trace) -> None:
    """``lo`` up: a new network namespace starts with only ``lo``, and down."""
    with _netlink("setting lo up") as ipr:
        trace.emit("network", "link_set", ifname="lo", state="up")
        ipr.link("set", index=_index(ipr, "lo"), state="up")


def configure_container_end(
    ifname: str,
    address: IPv4Address,
    prefixlen: int,
    gateway: IPv4Address | None,
    trace: Trace,
    *,
    ipv6: tuple[IPv6Address, int] | None = None,
    gateway6: IPv6Address | None = None,
) -> None:
    """Inside the container: ``lo`` up, then ``ifname`` given its address(es), up, and routed via ``gateway``.

    ``gateway`` (``gateway6``) is None when no default route should be
    added: the namespace already has one (from its first network) or the
    network is internal.  ``ipv6`` is the endpoint's IPv6 address on a
    network made with ``--ipv6``.
    """
    with _netlink(f"configuring {ifname}") as ipr:
        indexes = {link.get("ifname"): link["index"] for link in ipr.get_links()}
        if ifname not in indexes:
            raise NetlinkError(ENODEV, f"no interface {ifname}")
        trace.emit("network", "link_set", ifname="lo", state="up")
        ipr.link("set", index=indexes["lo"], state="up")
        index = indexes[ifname]
        trace.emit("network", "addr_add", ifname=ifname, address=str(address), prefixlen=prefixlen)
        ipr.addr("add", index=index, address=str(address), prefixlen=prefixlen)
        if ipv6 is not None:
            for device in ("lo", ifname):
                _enable_ipv6_on(device, trace)
            _add_ipv6(ipr, index, ifname, *ipv6, trace)
        trace.emit("network", "link_set", ifname=ifname, state="up")
        ipr.link("set", index=index, state="up")
        if gateway is not None:
            trace.emit("network", "route_add", dst="default", gateway=str(gateway), oif=ifname)
            ipr.route("add", dst="0.0.0.0/0", gateway=str(gateway), oif=index)
        if ipv6 is not None and gateway6 is not None:
            trace.emit("network", "route_add", dst="default", gateway=str(gateway6), oif=ifname, family="inet6")
            ipr.route("add", dst="::/0", gateway=str(gateway6), oif=index, family=AF_INET6)