"""A container's networks: its NetworkSettings, its endpoints, its /etc/hosts and resolv.conf, links.

At start, :meth:`ContainerNetworking.join` reserves an address on each of
the container's networks (an :class:`~nbdock.network.Endpoint`); the veth
pairs are plugged into the new network namespace later, once the process
exists (the runtime's ``before_go`` hook).  ``docker network connect`` and
``disconnect`` do the same for a running container at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from ipaddress import IPv4Address
from typing import Any, Callable

from ... import errors
from ...errors import Conflict, InvalidArgument, NotFound
from ...network import Endpoint, NetworkManager, ipam
from ...runtime.trace import Trace
from .. import links
from ..errorcontext import warn_and_go_on
from ..events import EventBus
from ..records import ContainerRecord
from .registry import ContainerRegistry

log = logging.getLogger("nbdock.engine")


def initial_network_settings(host_config: dict[str, Any], networking: dict[str, Any]) -> dict[str, Any]:
    """A new container's NetworkSettings: one blank endpoint for each network it will join."""
    mode = host_config.get("NetworkMode") or "default"
    networks: dict[str, Any] = {}
    if not mode.startswith("container:"):
        primary = "bridge" if mode == "default" else mode
        requested = (networking.get("EndpointsConfig") or {})
        for name in [primary, *[n for n in requested if n not in (primary, "default")]]:
            settings = requested.get(name) or requested.get("default") or {}
            networks[name] = blank_endpoint(settings)
    return {
        "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "Ports": {}, "SandboxKey": "", "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
        "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "", "Networks": networks,
    }


def blank_endpoint(settings: dict[str, Any]) -> dict[str, Any]:
    """An endpoint's settings before it is joined: what the client asked for, no address yet."""
    return {
        "IPAMConfig": settings.get("IPAMConfig"), "Links": settings.get("Links"), "Aliases": settings.get("Aliases"),
        "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": settings.get("MacAddress") or "",
        "DriverOpts": settings.get("DriverOpts"),
    }


def clear_network_settings(record: ContainerRecord) -> None:
    """A stopped container's NetworkSettings: no addresses, what the client asked for kept."""
    settings = record.NetworkSettings
    for key in ("Bridge", "SandboxID", "SandboxKey", "EndpointID", "Gateway", "IPAddress", "MacAddress"):
        settings[key] = ""
    settings["IPPrefixLen"] = 0
    settings["Ports"] = {}
    for name, endpoint in (settings.get("Networks") or {}).items():
        # A MAC made from the address goes with the interface; one the client asked for stays,
        # for the next start (the address, and the MAC made from it, may then differ).
        made = endpoint.get("IPAddress") and ipam.mac_address(IPv4Address(endpoint["IPAddress"]))
        kept = endpoint.get("MacAddress") if endpoint.get("MacAddress") != made else ""
        settings["Networks"][name] = blank_endpoint({**endpoint, "MacAddress": kept})


def fill_network_settings(record: ContainerRecord, endpoints: list[Endpoint]) -> None:
    """A running container's NetworkSettings: each endpoint's address, the first one's at the top level."""
    settings = record.NetworkSettings
    networks = settings.setdefault("Networks", {})
    for endpoint in endpoints:
        view = endpoint.to_api()
        previous = networks.get(endpoint.network_name) or {}
        # What the client asked for stays as it asked (driver options are the driver's business).
        for key in ("IPAMConfig", "Links", "DriverOpts"):
            view[key] = previous.get(key)
        networks[endpoint.network_name] = view
    if endpoints and endpoints[0].ip_address:
        first = endpoints[0]
        settings.update({
            "Bridge": "", "SandboxKey": f"/proc/{record.State.Pid}/ns/net", "EndpointID": first.endpoint_id,
            "Gateway": first.gateway or "", "IPAddress": first.ip_address, "IPPrefixLen": first.prefix_len,
            "MacAddress": first.mac_address or "",
        })


def links_on_user_network(host_config: dict[str, Any], networking: dict[str, Any]) -> dict[str, Any]:
    """``--link`` with a user-defined ``--network``: moved to that network's endpoint, as Docker does.

    There a link is no /etc/hosts line and no variables, only a DNS alias
    that the embedded resolver answers for this container alone.  Docker
    keeps it as given (``NAME[:ALIAS]``, the target need not exist yet) in
    ``NetworkSettings.Networks[NET].Links``, and ``HostConfig.Links`` is null.
    """
    mode = host_config.get("NetworkMode") or "default"
    links_ = host_config.get("Links")
    if not links_ or mode in ("default", "bridge", "host", "none") or mode.startswith("container:"):
        return networking
    endpoints = dict(networking.get("EndpointsConfig") or {})
    endpoint = dict(endpoints.get(mode) or {})
    # The docker CLI sends them in both places; compose only in HostConfig.
    endpoint["Links"] = list(dict.fromkeys([*(endpoint.get("Links") or []), *links_]))
    endpoints[mode] = endpoint
    host_config["Links"] = None
    return {**networking, "EndpointsConfig": endpoints}


def write_in_place(path: str, content: str) -> None:
    """Rewrite a file *in place*: it may be bind-mounted into a container, and a rename would
    swap the inode out from under that mount."""
    with open(path, "w") as f:
        f.write(content)


class ContainerNetworking:
    """Joins containers to networks and leaves them, through the host's :class:`NetworkManager`."""

    def __init__(self, networks: NetworkManager, registry: ContainerRegistry, events: EventBus,
                 directory_of: Callable[[ContainerRecord], str]):
        self.networks = networks
        self.registry = registry
        self.events = events
        self.directory_of = directory_of

    # ------------------------------------------------------------------
    # links

    def normalize_links(self, links_: list[str] | None, name: str) -> list[str] | None:
        """``--link NAME[:ALIAS]`` kept as Docker keeps it: ``/NAME:/THIS/ALIAS``.

        The linked container must exist now (it must be running at start).
        An unknown one is a 400, as in Docker, not a 404 that would make the
        CLI try to pull an image.
        """
        if not links_:
            return None
        normalized = []
        for link in links_:
            target, _, alias = link.partition(":")
            try:
                child = self.registry.get(target)
            except NotFound as e:
                raise InvalidArgument(f"could not get container for {target}: {e.message}") from None
            normalized.append(f"/{child.record.name}:/{name}/{(alias or target).lstrip('/')}")
        return normalized

    def linked(self, record: ContainerRecord) -> list[tuple[str, ContainerRecord]]:
        """(alias, linked container's record) of each ``--link``; each must be running."""
        linked = []
        for link in record.HostConfig.get("Links") or []:
            child_name, _, link_name = link.partition(":")
            alias = link_name.rpartition("/")[2]
            child = self.registry.get(child_name)
            if not child.running:
                raise Conflict(f"Cannot link to a non running container: {child_name} AS {link_name}")
            linked.append((alias, child.record))
        return linked

    # ------------------------------------------------------------------
    # at start and at exit

    def join(self, record: ContainerRecord, trace: Trace) -> list[Endpoint]:
        """Reserve the container's endpoints (addresses) on its networks; none in another's namespace.

        On failure the networks joined before the one that failed are left again.
        """
        mode = record.HostConfig.get("NetworkMode") or "default"
        if mode == "host":
            return [self.networks.connect("host", record.Id, name=record.name, trace=trace)]
        if mode.startswith("container:"):
            return []
        endpoints: list[Endpoint] = []
        requested = record.NetworkSettings.get("Networks") or {}
        try:
            # The NetworkMode's network first, then those added by ``network connect``.
            for index, network_name in enumerate(requested):
                settings = requested.get(network_name) or {}
                ipam_config = settings.get("IPAMConfig") or {}
                # --mac-address (Config.MacAddress) is the first network's; an endpoint may ask for its own.
                mac = settings.get("MacAddress") or (record.Config.get("MacAddress") if index == 0 else None)
                endpoints.append(self.networks.connect(
                    network_name, record.Id, name=record.name, aliases=settings.get("Aliases") or (),
                    links=settings.get("Links") or (), ip=ipam_config.get("IPv4Address") or None,
                    ip6=ipam_config.get("IPv6Address") or None, mac=mac or None, trace=trace,
                ))
        except BaseException:
            self.teardown(record, endpoints, trace)
            raise
        return endpoints

    def write_etc_files(self, record: ContainerRecord, endpoints: list[Endpoint],
                        linked: list[tuple[str, ContainerRecord]], donor: ContainerRecord | None) -> None:
        """The container's /etc/hosts, /etc/resolv.conf and /etc/hostname (bind-mounted at start).

        A container in another's network namespace (``donor``) gets copies of that one's.
        """
        config, host = record.Config, record.HostConfig
        directory = self.directory_of(record)
        hostname = config.get("Hostname") or record.short_id
        if donor is not None:
            donor_directory = self.directory_of(donor)
            shutil.copyfile(os.path.join(donor_directory, "hosts"), os.path.join(directory, "hosts"))
            shutil.copyfile(os.path.join(donor_directory, "resolv.conf"), os.path.join(directory, "resolv.conf"))
        else:
            write_in_place(os.path.join(directory, "hosts"), self.networks.hosts_file(
                hostname, endpoints, host.get("ExtraHosts") or (), domainname=config.get("Domainname") or "",
                links=[links.hosts_entry(alias, child) for alias, child in linked]))
            write_in_place(os.path.join(directory, "resolv.conf"), self.networks.resolv_conf(
                endpoints, dns=host.get("Dns") or (), dns_search=host.get("DnsSearch") or (),
                dns_options=host.get("DnsOptions") or ()))
        write_in_place(os.path.join(directory, "hostname"), hostname + "\n")

    def plug(self, record: ContainerRecord, endpoints: list[Endpoint], netns: str, trace: Trace) -> None:
        """Into a new network namespace (``/proc/PID/ns/net``): loopback up, each endpoint's veth, published ports."""
        self.networks.setup_loopback(netns, trace=trace)
        for endpoint in endpoints:
            self.networks.plug(endpoint, netns, trace=trace)
        if endpoints:
            record.NetworkSettings["Ports"] = self.networks.publish(
                record.Id, endpoints[0], record.HostConfig.get("PortBindings"),
                (record.Config.get("ExposedPorts") or {}).keys(), bool(record.HostConfig.get("PublishAllPorts")),
                trace=trace,
            )

    def teardown(self, record: ContainerRecord, endpoints: list[Endpoint], trace: Trace) -> None:
        """Leave every network (its port rules too); cleanup goes on past a failing step."""
        try:
            self.networks.unpublish(record.Id, trace=trace)
        except Exception as e:  # noqa: BLE001 - cleanup must go on
            warn_and_go_on(log, f"unpublishing the ports of {record.short_id}", e)
        for endpoint in endpoints:
            try:
                self.networks.disconnect(endpoint.network_name, record.Id, trace=trace)
            except Exception as e:  # noqa: BLE001 - cleanup must go on
                warn_and_go_on(log, f"disconnecting {record.short_id} from {endpoint.network_name}", e)

    # ------------------------------------------------------------------
    # docker network connect / disconnect

    async def connect(self, network_ref: str, container_ref: str, endpoint_config: dict[str, Any],
                      save: Callable[[ContainerRecord], None]) -> None:
        """Attach a container to one more network: now if it runs, at its next start otherwise."""
        container = self.registry.get(container_ref)
        network = await asyncio.to_thread(self.networks.get, network_ref)
        name = network["Name"]
        record = container.record
        mode = record.HostConfig.get("NetworkMode") or "default"
        if mode in ("host", "none") or mode.startswith("container:") or name in ("host", "none"):
            raise errors.Forbidden("container cannot be disconnected from host network or connected to host network"
                                   if "host" in (mode, name) else "container sharing network namespace with another "
                                   "container or host cannot be connected to any other network")
        async with container.lock:
            networks = record.NetworkSettings.setdefault("Networks", {})
            if name in networks:
                raise errors.Forbidden(f"endpoint with name {record.name} already exists in network {name}")
            networks[name] = blank_endpoint(endpoint_config)
            if container.running:
                run = container.run
                ipam_config = endpoint_config.get("IPAMConfig") or {}

                def plug() -> Endpoint:
                    endpoint = self.networks.connect(
                        name, record.Id, name=record.name, aliases=endpoint_config.get("Aliases") or (),
                        links=endpoint_config.get("Links") or (), ip=ipam_config.get("IPv4Address") or None,
                        ip6=ipam_config.get("IPv6Address") or None, mac=endpoint_config.get("MacAddress") or None,
                        trace=run.trace)
                    try:
                        self.networks.plug(endpoint, f"/proc/{run.started.pid}/ns/net", trace=run.trace)
                    except BaseException:
                        self.networks.disconnect(name, record.Id, trace=run.trace)
                        raise
                    return endpoint

                try:
                    endpoint = await asyncio.to_thread(plug)
                except BaseException:
                    del networks[name]
                    raise
                run.endpoints.append(endpoint)
                fill_network_settings(record, [endpoint])
            save(record)
        self.events.publish("network", "connect", network["Id"], {"container": record.Id, "name": name, "type": "bridge"})

    async def disconnect(self, network_ref: str, container_ref: str, save: Callable[[ContainerRecord], None]) -> None:
        container = self.registry.get(container_ref)
        network = await asyncio.to_thread(self.networks.get, network_ref)
        name = network["Name"]
        record = container.record
        async with container.lock:
            networks = record.NetworkSettings.get("Networks") or {}
            if name not in networks:
                raise errors.Forbidden(f"container {record.Id} is not connected to network {name}")
            if container.running:
                run = container.run
                endpoint = next((e for e in run.endpoints if e.network_name == name), None)
                if endpoint is not None:
                    if endpoint is run.endpoints[0]:
                        await asyncio.to_thread(self.networks.unpublish, record.Id, trace=run.trace)
                    await asyncio.to_thread(self.networks.disconnect, name, record.Id, trace=run.trace)
                    run.endpoints.remove(endpoint)
            del networks[name]
            save(record)
        self.events.publish("network", "disconnect", network["Id"], {"container": record.Id, "name": name, "type": "bridge"})
