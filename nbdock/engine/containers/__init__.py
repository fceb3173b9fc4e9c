"""Containers as the engine manages them, in parts.

- :mod:`.registry`: who exists (by id, name, prefix) and what each holds while it runs;
- :mod:`.spec`: the pure translation of a container's Config and HostConfig into the runtime's spec;
- :mod:`.networking`: endpoints, NetworkSettings, /etc/hosts and resolv.conf, ``network connect``;
- :mod:`.listing`: inspect, ``ps`` and its filters, logs;
- :mod:`.lifecycle`: the service: create, start, supervise, restart, stop, kill, pause, update, remove.
"""

from .lifecycle import ContainerService
from .registry import Container, Run

__all__ = ["Container", "ContainerService", "Run"]
