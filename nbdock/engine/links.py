"""Legacy container links (``docker run --link NAME:ALIAS``), as Docker still provides them.

Before user-defined networks had DNS, a link was how one container found
another on the default bridge: Docker writes the linked container's address
into the new container's /etc/hosts under the alias, and describes it in
environment variables (``DB_PORT_5432_TCP_ADDR=172.17.0.2`` ...), read once
at start -- which is why links break when the linked container gets a new
address, and why user-defined networks replaced them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import ContainerRecord


def address(child: ContainerRecord) -> str:
    """The linked container's IPv4 address (on the default bridge, else its first network)."""
    networks = child.NetworkSettings.get("Networks") or {}
    settings = networks.get("bridge") or next(iter(networks.values()), {})
    return settings.get("IPAddress") or ""


def hosts_entry(alias: str, child: ContainerRecord) -> tuple[str, str]:
    """(names, address) of the /etc/hosts line: the alias, the container's hostname, and its name."""
    names = [alias, child.Config.get("Hostname") or child.short_id]
    if child.name != alias:
        names.append(child.name)
    return " ".join(names), address(child)


def environment(name: str, linked: list[tuple[str, ContainerRecord]], network_mode: str) -> list[str]:
    """The variables Docker sets for links on the default bridge (none on other networks).

    For ``--link db:db`` into ``web``: ``DB_NAME=/web/db``; for each exposed
    port ``DB_PORT_5432_TCP=tcp://IP:5432`` and its ``_ADDR``, ``_PORT`` and
    ``_PROTO`` parts; ``DB_PORT`` for the lowest port; and ``DB_ENV_X`` for each
    of the linked container's own variables but HOME and PATH.
    """
    if network_mode not in ("default", "bridge"):
        return []
    env: list[str] = []
    for alias, child in linked:
        prefix = alias.upper().replace("-", "_")
        ip = address(child)
        # Lowest port first; at the same number tcp before udp, as Docker sorts them.
        ports = sorted(((int(port), proto) for port, _, proto in
                        (key.partition("/") for key in child.Config.get("ExposedPorts") or {})),
                       key=lambda p: (p[0], p[1] != "tcp"))
        if ports:
            env.append(f"{prefix}_PORT={ports[0][1]}://{ip}:{ports[0][0]}")
        for port, proto in ports:
            key = f"{prefix}_PORT_{port}_{proto.upper()}"
            env += [f"{key}={proto}://{ip}:{port}", f"{key}_ADDR={ip}", f"{key}_PORT={port}", f"{key}_PROTO={proto}"]
        env.append(f"{prefix}_NAME=/{name}/{alias}")
        for entry in child.Config.get("Env") or []:
            key, sep, value = entry.partition("=")
            if sep and key not in ("HOME", "PATH"):
                env.append(f"{prefix}_ENV_{key}={value}")
    return env
