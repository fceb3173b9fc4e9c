"""Several nbdock instances on one host: whose bridge, veth pair or chain is whose.

Interface names and iptables chain names are *host-global*: the host has one
list of interfaces and one table of chains, shared by every program on it.
Yet one machine often runs several nbdock daemons at once, each with its own
``--data-root`` (a test suite's daemon beside a notebook's, say).  If they
used the same names, one daemon starting up would take the other's
``nbdock0`` for a leftover of its own and delete it, and every container of
the other daemon would lose its network.

So each instance puts a **tag** into every name it gives the host: the
first five hex digits of the SHA-256 of its absolute data-root path.  Why
a hash of the path rather than, say, a random tag kept in the data root:
the tag must be recomputed, never remembered, so that a daemon restarted
after a crash finds exactly what its previous run left, even if that run
died before writing anything; and the path itself would not fit in 15
characters.  The usual single daemon, on the default data root
``/var/lib/nbdock``, keeps the plain names, so that what ``ip link`` and
``iptables-save`` show reads like Docker's ``docker0`` and ``DOCKER``:

=================  =====================  ==========================================
 what               /var/lib/nbdock        any other data root (tag ``3fa9c``)
=================  =====================  ==========================================
 default bridge     ``nbdock0``            ``nbdock0-3fa9c``
 user bridge        ``nb-<id:12>``         ``nb-<id:6>-3fa9c``
 veth host end      ``nbv<id:12>``         ``nbv<id:6>-3fa9c``
 veth peer (*)      ``nbp<id:12>``         ``nbp<id:6>-3fa9c``
 iptables chains    ``NBDOCK-FORWARD``...  ``NBDOCK-FORWARD-3fa9c``...
=================  =====================  ==========================================

(*) the container's end, named so only until it is moved into the
container's namespace and renamed eth0.

The rule: append ``-<tag>``, and keep as much of the network's or
endpoint's id as still fits.  Linux allows 15 characters in an interface
name (IFNAMSIZ is 16, with the terminating NUL), so a tagged name has room
for only six hex digits of the id; iptables allows 28 in a chain name, which
is plenty.  The dash before the tag also keeps the two forms apart: no
tagged name matches the default instance's patterns, and the other way round,
so each instance's clean-up only ever sees its own names.  (Two data roots
share a tag with odds of one in a million; nbdock does not guard against it.)

Every nbdock interface name starts with ``nb``.  That is what lets one
instance drop traffic between its bridges and *another* instance's, whose
names it cannot know: iptables' ``nb+`` matches any interface whose name
starts with ``nb`` (see iptables.py).

Choosing a subnet is the other host-wide step: read the host's routes, take
a subnet no route overlaps, add the bridge (which adds its route).  Two
instances doing that at the same moment could both see the same subnet
free, so they take turns under :func:`subnet_lock`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

# The daemon's default --data-root is the one instance whose names carry no tag.
from nbdock.defaults import DEFAULT_DATA_ROOT

TAG_LENGTH = 5

#: Linux's limit on interface names (IFNAMSIZ, 16, counts the terminating NUL).
MAX_IFNAME = 15
#: iptables' limit on chain names (XT_EXTENSION_MAXNAMELEN, 29, counts the NUL).
MAX_CHAIN_NAME = 28

#: Every interface nbdock creates, in any instance, starts with this.
LINK_PREFIX = "nb"
#: iptables' spelling of "any interface whose name starts with nb".
ANY_NBDOCK_INTERFACE = LINK_PREFIX + "+"

DEFAULT_BRIDGE_BASE = "nbdock0"
USER_BRIDGE_KIND = "nb-"
VETH_HOST_KIND = "nbv"
VETH_PEER_KIND = "nbp"

#: Where nbdock instances keep what they share on a host (tmpfs: gone at reboot, like the routes).
HOST_RUN_DIR = "/run/nbdock"
SUBNET_LOCK_PATH = os.path.join(HOST_RUN_DIR, "subnets.lock")


def instance_tag(data_root: str) -> str:
    """The tag of the instance using ``data_root``: '' for the default data root."""
    path = os.path.abspath(data_root)
    if path == DEFAULT_DATA_ROOT:
        return ""
    return hashlib.sha256(os.fsencode(path)).hexdigest()[:TAG_LENGTH]


@dataclass(frozen=True)
class Chains:
    """The names of one instance's iptables chains (what goes in them: iptables.py)."""

    forward: str
    isolation_1: str
    isolation_2: str
    dnat: str
    postrouting: str

    @classmethod
    def with_suffix(cls, suffix: str) -> Chains:
        return cls(
            forward=f"NBDOCK-FORWARD{suffix}",
            isolation_1=f"NBDOCK-ISOLATION-1{suffix}",
            isolation_2=f"NBDOCK-ISOLATION-2{suffix}",
            dnat=f"NBDOCK{suffix}",
            postrouting=f"NBDOCK-POSTROUTING{suffix}",
        )

    def all(self) -> tuple[tuple[str, str], ...]:
        """(table, chain) of every chain, in the order they are created."""
        return (
            ("filter", self.isolation_2),
            ("filter", self.isolation_1),
            ("filter", self.forward),
            ("nat", self.dnat),
            ("nat", self.postrouting),
        )


@dataclass(frozen=True)
class HostNames:
    """Every name one nbdock instance gives the host."""

    tag: str  # '' for the default data root

    @classmethod
    def for_data_root(cls, data_root: str) -> HostNames:
        return cls(instance_tag(data_root))

    @property
    def suffix(self) -> str:
        return f"-{self.tag}" if self.tag else ""

    @property
    def default_bridge(self) -> str:
        return DEFAULT_BRIDGE_BASE + self.suffix

    @property
    def chains(self) -> Chains:
        return Chains.with_suffix(self.suffix)

    @property
    def id_digits(self) -> int:
        """How many hex digits of an id fit after a three-letter kind: 12, or 6 beside a tag."""
        return MAX_IFNAME - len(USER_BRIDGE_KIND) - len(self.suffix)

    def user_bridge(self, network_id: str) -> str:
        return USER_BRIDGE_KIND + network_id[: self.id_digits] + self.suffix

    def veth_pair(self, endpoint_id: str) -> tuple[str, str]:
        """(host end, container end) of an endpoint's veth pair."""
        short = endpoint_id[: self.id_digits] + self.suffix
        return VETH_HOST_KIND + short, VETH_PEER_KIND + short

    def owns_link(self, ifname: str) -> bool:
        """Whether an interface of the host bears one of this instance's names."""
        kinds = "|".join(map(re.escape, (USER_BRIDGE_KIND, VETH_HOST_KIND, VETH_PEER_KIND)))
        own = f"({re.escape(DEFAULT_BRIDGE_BASE)}|({kinds})[0-9a-f]{{{self.id_digits}}}){re.escape(self.suffix)}"
        return re.fullmatch(own, ifname) is not None


@contextmanager
def subnet_lock() -> Iterator[None]:
    """Hold the host-wide lock under which nbdock instances choose subnets and add bridges.

    Each NetworkManager serialises its own threads with a threading lock,
    but that lock means nothing to another daemon.  flock(2) on a file that
    every instance opens does: the kernel grants the lock to one open() of
    the file at a time, whichever process made it, and releases it when
    that file is closed -- or when its process dies, so a crashed daemon
    never leaves the lock held.  (iptables' ``-w`` waits on /run/xtables.lock the
    same way.)  The file stays; it is only a name to lock on.
    """
    os.makedirs(HOST_RUN_DIR, mode=0o755, exist_ok=True)
    fd = os.open(SUBNET_LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
