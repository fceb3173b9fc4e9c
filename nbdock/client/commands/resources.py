"""Volumes, networks, and the system: version, info, events, system df; and nbdock's kernel views as text."""

from __future__ import annotations

import ipaddress

import platform
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import docker

import nbdock

from .. import kernel_views
from ..errors import CommandError
from ..flags import Parsed
from ..formatting import Listing, binary_size, human_size, natural_key, render_template
from .containers import parse_filters, print_objects, timestamp_param

if TYPE_CHECKING:
    from . import Session

# ---------------------------------------------------------------------------
# volumes


def volume_create(session: Session, parsed: Parsed) -> int:
    if parsed.name and parsed.args and parsed.name != parsed.args[0]:
        raise CommandError("conflicting options: cannot specify a volume-name through both --name and as a positional arg", exit_code=125)
    answer = session.api.create_volume(
        name=parsed.name or (parsed.args[0] if parsed.args else None), driver=parsed.driver,
        driver_opts=dict(option.partition("=")[::2] for option in parsed.opt),
        labels=dict(label.partition("=")[::2] for label in parsed.label),
    )
    session.console.out(answer["Name"] + "\n")
    return 0


def volume_ls(session: Session, parsed: Parsed) -> int:
    volumes = session.api.volumes(filters=parse_filters(parsed.filter) or None).get("Volumes") or []
    volumes.sort(key=lambda volume: natural_key(volume["Name"]))
    rows = [{"Driver": v.get("Driver", ""), "Name": v["Name"], "Mountpoint": v.get("Mountpoint", ""),
             "Scope": v.get("Scope", ""), "Labels": ",".join(f"{k}={x}" for k, x in sorted((v.get("Labels") or {}).items()))}
            for v in volumes]
    listing = Listing({"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE",
                       "Labels": "LABELS"}, "table {{.Driver}}\t{{.Name}}", rows, quiet_field="Name")
    session.console.listing(listing, parsed.format, parsed.quiet)
    return 0


def volume_inspect(session: Session, parsed: Parsed) -> int:
    return _inspect_each(session, parsed, session.api.inspect_volume)


def volume_rm(session: Session, parsed: Parsed) -> int:
    return _each(session, parsed.args, lambda name: session.api.remove_volume(name, force=parsed.force))


def volume_prune(session: Session, parsed: Parsed) -> int:
    warning = "WARNING! This will remove anonymous local volumes not used by at least one container."
    if not parsed.force and not session.console.confirm(warning):
        return 0
    filters = parse_filters(parsed.filter)
    if parsed.all:
        filters["all"] = ["true"]
    answer = session.api.prune_volumes(filters=filters or None)
    _print_pruned(session, "Deleted Volumes", answer.get("VolumesDeleted") or [], answer.get("SpaceReclaimed") or 0)
    return 0


def _print_pruned(session: Session, title: str, names: list[str], reclaimed: int) -> None:
    if names:
        session.console.out(f"{title}:\n" + "".join(f"{name}\n" for name in names) + "\n")
    session.console.out(f"Total reclaimed space: {human_size(reclaimed)}\n")


# ---------------------------------------------------------------------------
# networks


def network_create(session: Session, parsed: Parsed) -> int:
    if len(parsed.gateway) > len(parsed.subnet) or len(parsed.ip_range) > len(parsed.subnet):
        raise CommandError("every --gateway and --ip-range needs a --subnet to belong to", exit_code=125)
    # Each --aux-address goes with the --subnet that holds it, as the docker CLI sorts them.
    aux_by_pool: list[dict[str, str]] = [{} for _ in parsed.subnet]
    for item in parsed.aux_address:
        name, _, address = item.partition("=")
        pool = _subnet_holding(parsed.subnet, address)
        if pool is None:
            raise CommandError(f"no matching subnet for aux-address {address}", exit_code=125)
        aux_by_pool[pool][name] = address
    pools = []
    for index, subnet in enumerate(parsed.subnet):
        pools.append(docker.types.IPAMPool(
            subnet=subnet,
            gateway=parsed.gateway[index] if index < len(parsed.gateway) else None,
            iprange=parsed.ip_range[index] if index < len(parsed.ip_range) else None,
            aux_addresses=aux_by_pool[index] or None,
        ))
    answer = session.api.create_network(
        parsed.args[0], driver=parsed.driver, options=dict(o.partition("=")[::2] for o in parsed.opt) or None,
        ipam=docker.types.IPAMConfig(pool_configs=pools) if pools else None, internal=parsed.internal,
        enable_ipv6=parsed.ipv6,
        labels=dict(label.partition("=")[::2] for label in parsed.label) or None, attachable=parsed.attachable,
    )
    if answer.get("Warning"):
        session.console.err(f"WARNING: {answer['Warning']}\n")
    session.console.out(answer["Id"] + "\n")
    return 0


def _subnet_holding(subnets: list[str], address: str) -> int | None:
    """The index of the first --subnet that holds ``address`` (None if none does, or either is not an address)."""
    try:
        wanted = ipaddress.ip_address(address)
        return next((i for i, subnet in enumerate(subnets) if wanted in ipaddress.ip_network(subnet, strict=False)), None)
    except ValueError:
        return None


def network_ls(session: Session, parsed: Parsed) -> int:
    networks = sorted(session.api.networks(filters=parse_filters(parsed.filter) or None),
                      key=lambda network: natural_key(network["Name"]))
    rows = [{"ID": n["Id"] if parsed.no_trunc else n["Id"][:12], "Name": n["Name"], "Driver": n.get("Driver", ""),
             "Scope": n.get("Scope", ""), "Internal": str(n.get("Internal", False)).lower(),
             "IPv6": str(n.get("EnableIPv6", False)).lower()} for n in networks]
    listing = Listing({"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Internal": "INTERNAL",
                       "IPv6": "IPV6"}, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", rows)
    session.console.listing(listing, parsed.format, parsed.quiet)
    return 0


def network_inspect(session: Session, parsed: Parsed) -> int:
    return _inspect_each(session, parsed, session.api.inspect_network)


def network_rm(session: Session, parsed: Parsed) -> int:
    def remove(name: str) -> None:
        try:
            session.api.remove_network(name)
        except docker.errors.NotFound:
            if not parsed.force:
                raise

    return _each(session, parsed.args, remove)


def network_connect(session: Session, parsed: Parsed) -> int:
    network, container = parsed.args
    session.api.connect_container_to_network(container, network, aliases=parsed.alias or None, ipv4_address=parsed.ip,
                                             ipv6_address=parsed.ip6)
    return 0


def network_disconnect(session: Session, parsed: Parsed) -> int:
    network, container = parsed.args
    session.api.disconnect_container_from_network(container, network, force=parsed.force)
    return 0


def _each(session: Session, names: list[str], action) -> int:
    failed = False
    for name in names:
        try:
            action(name)
            session.console.out(name + "\n")
        except docker.errors.APIError as error:
            session.console.err(f"Error response from daemon: {error.explanation or error}\n")
            failed = True
    return 1 if failed else 0


def _inspect_each(session: Session, parsed: Parsed, lookup) -> int:
    found, errors = [], []
    for name in parsed.args:
        try:
            found.append(lookup(name))
        except docker.errors.APIError as error:
            errors.append(f"Error response from daemon: {error.explanation or error}")
    print_objects(session, found, parsed.format)
    if errors:
        raise CommandError("\n".join(errors))
    return 0


# ---------------------------------------------------------------------------
# system


def version(session: Session, parsed: Parsed) -> int:
    server = session.api.version()
    client = {
        "Version": nbdock.__version__, "ApiVersion": session.api.api_version, "PythonVersion": platform.python_version(),
        "DockerPyVersion": docker.__version__, "Os": "linux", "Arch": platform.machine(),
    }
    if parsed.format:
        session.console.out(render_template(parsed.format, {"Client": client, "Server": server}) + "\n")
        return 0
    lines = [
        "Client: nbdock",
        f" Version:           {client['Version']}",
        f" API version:       {client['ApiVersion']}",
        f" Python version:    {client['PythonVersion']}",
        f" docker-py version: {client['DockerPyVersion']}",
        f" OS/Arch:           {client['Os']}/{client['Arch']}",
        "",
        f"Server: {(server.get('Platform') or {}).get('Name', '')}".rstrip(),
        " Engine:",
        f"  Version:          {server.get('Version', '')}",
        f"  API version:      {server.get('ApiVersion', '')} (minimum version {server.get('MinAPIVersion', '')})",
        f"  OS/Arch:          {server.get('Os', '')}/{server.get('Arch', '')}",
        f"  Kernel Version:   {server.get('KernelVersion', '')}",
        f"  Experimental:     {str(server.get('Experimental', False)).lower()}",
    ]
    session.console.out("\n".join(lines) + "\n")
    return 0


def info(session: Session, parsed: Parsed) -> int:
    answer = session.api.info()
    if parsed.format:
        session.console.out(render_template(parsed.format, answer) + "\n")
        return 0
    lines = [
        "Server:",
        f" Containers: {answer.get('Containers', 0)}",
        f"  Running: {answer.get('ContainersRunning', 0)}",
        f"  Paused: {answer.get('ContainersPaused', 0)}",
        f"  Stopped: {answer.get('ContainersStopped', 0)}",
        f" Images: {answer.get('Images', 0)}",
        f" Server Version: {answer.get('ServerVersion', '')}",
        f" Storage Driver: {answer.get('Driver', '')}",
        f" Logging Driver: {answer.get('LoggingDriver', '')}",
        f" Cgroup Driver: {answer.get('CgroupDriver', '')}",
        f" Cgroup Version: {answer.get('CgroupVersion', '')}",
        f" Kernel Version: {answer.get('KernelVersion', '')}",
        f" Operating System: {answer.get('OperatingSystem', '')}",
        f" OSType: {answer.get('OSType', '')}",
        f" Architecture: {answer.get('Architecture', '')}",
        f" CPUs: {answer.get('NCPU', 0)}",
        f" Total Memory: {binary_size(answer.get('MemTotal', 0))}",
        f" Name: {answer.get('Name', '')}",
        f" ID: {answer.get('ID', '')}",
        f" Docker Root Dir: {answer.get('DockerRootDir', '')}",
    ]
    lines += [f"WARNING: {warning}" for warning in answer.get("Warnings") or []]
    session.console.out("\n".join(lines) + "\n")
    return 0


def system_df(session: Session, parsed: Parsed) -> int:
    """``docker system df``: what images, containers and volumes take on disk, and what could be freed."""
    usage = session.api.df()
    images = usage.get("Images") or []
    containers = usage.get("Containers") or []
    volumes = usage.get("Volumes") or []
    unused_images = sum(i.get("Size", 0) - max(i.get("SharedSize", 0), 0) for i in images if i.get("Containers", 0) <= 0)
    images_size = usage.get("LayersSize") or 0
    stopped_size = sum(c.get("SizeRw", 0) for c in containers if c.get("State") != "running")
    containers_size = sum(c.get("SizeRw", 0) for c in containers)
    volume_size = lambda v: max((v.get("UsageData") or {}).get("Size", 0), 0)  # noqa: E731
    unused_volumes = [v for v in volumes if (v.get("UsageData") or {}).get("RefCount", 0) == 0]

    def reclaimable(part: int, whole: int) -> str:
        return f"{human_size(part, 4)} ({round(part * 100 / whole) if whole else 0}%)" if whole else human_size(part, 4)

    rows = [
        {"Type": "Images", "TotalCount": str(len(images)), "Active": str(sum(1 for i in images if i.get("Containers", 0) > 0)),
         "Size": human_size(images_size, 4), "Reclaimable": reclaimable(unused_images, images_size)},
        {"Type": "Containers", "TotalCount": str(len(containers)),
         "Active": str(sum(1 for c in containers if c.get("State") == "running")),
         "Size": human_size(containers_size, 4), "Reclaimable": reclaimable(stopped_size, containers_size)},
        {"Type": "Local Volumes", "TotalCount": str(len(volumes)), "Active": str(len(volumes) - len(unused_volumes)),
         "Size": human_size(sum(volume_size(v) for v in volumes), 4),
         "Reclaimable": reclaimable(sum(volume_size(v) for v in unused_volumes), sum(volume_size(v) for v in volumes))},
        {"Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"},
    ]
    listing = Listing({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"},
                      "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", rows)
    session.console.listing(listing, parsed.format)
    return 0


def events(session: Session, parsed: Parsed) -> int:
    """Print events as they happen (until ``--until``, or Ctrl-C), one line each as the CLI does."""
    stream = session.api.events(since=timestamp_param(parsed.since), until=timestamp_param(parsed.until),
                                filters=parse_filters(parsed.filter) or None, decode=True)
    try:
        for event in stream:
            if parsed.format:
                session.console.out(render_template(parsed.format, event) + "\n")
            else:
                session.console.out(event_line(event) + "\n")
    except KeyboardInterrupt:
        stream.close()
    return 0


def event_line(event: dict) -> str:
    """``2026-11-28T12:50:48.123456789Z container start 3f2a... (image=busybox, name=web)``."""
    nanoseconds = event.get("timeNano") or int(event.get("time", time.time()) * 1e9)
    moment = datetime.fromtimestamp(nanoseconds // 1_000_000_000, timezone.utc).astimezone()
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanoseconds % 1_000_000_000:09d}" + moment.strftime("%z")
    stamp = stamp[:-2] + ":" + stamp[-2:]
    actor = event.get("Actor") or {}
    attributes = ", ".join(f"{key}={value}" for key, value in sorted((actor.get("Attributes") or {}).items()))
    line = f"{stamp} {event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}"
    return line + (f" ({attributes})" if attributes else "")


# ---------------------------------------------------------------------------
# nbdock's kernel views, as text tables (the notebook shows them richer)


def _text_printer(render):
    """A handler printing one of the kernel views as a terminal table (no pandas on the CLI's path)."""
    def handler(session: Session, parsed: Parsed) -> int:
        session.console.out(render(session.connection, parsed.args[0]))
        return 0

    return handler


def _net_map(session: Session, parsed: Parsed) -> int:
    """The overlay networks' map as text, from the same rows the notebook draws (no pandas here either)."""
    session.console.out(kernel_views.network_map_text(session.connection))
    return 0


def _views():
    return {
        "ns": _text_printer(kernel_views.namespaces_text),
        "cgroup": _text_printer(kernel_views.cgroup_text),
        "trace": _text_printer(kernel_views.trace_text),
        "layers": _text_printer(kernel_views.layers_text),
        "net map": _net_map,
    }


HANDLERS = {
    "volume create": volume_create, "volume ls": volume_ls, "volume inspect": volume_inspect, "volume rm": volume_rm,
    "volume prune": volume_prune, "network create": network_create, "network ls": network_ls,
    "network inspect": network_inspect, "network rm": network_rm, "network connect": network_connect,
    "network disconnect": network_disconnect, "version": version, "info": info, "system df": system_df,
    "events": events, **_views(),
}
