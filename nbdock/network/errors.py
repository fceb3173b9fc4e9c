"""The errors of nbdock.network.

Each class is both a :class:`NetworkError` (so the engine can catch "anything
the network library refused") and one of the typed errors of
:mod:`nbdock.errors` (so the daemon answers with the right HTTP status: 404
for an unknown network, 403 for removing a predefined one, and so on).
``NetworkError`` itself sets no status: it comes from the second base class.
"""

from __future__ import annotations

from nbdock.errors import Conflict, Forbidden, HostError, InvalidArgument, NbdockError, NotFound


class NetworkError(NbdockError):
    """Base class of every error this package raises."""


class NetworkNotFound(NetworkError, NotFound):
    """No network (or endpoint) by that name or id."""


class NetworkConflict(NetworkError, Conflict):
    """A name already taken, a container already connected..."""


class NetworkForbidden(NetworkError, Forbidden):
    """Docker answers 403 here: removing a predefined network, a subnet overlapping another."""


class InvalidNetworkArgument(NetworkError, InvalidArgument):
    """A malformed subnet, address, port specification or name."""


class NetworkHostError(NetworkError, HostError):
    """The kernel or iptables refused a step, or a host port is already taken."""
