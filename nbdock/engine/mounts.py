"""Where a container's volumes, bind mounts and tmpfs mounts come from.

``docker run`` has four ways to ask for mounts, and Docker resolves them in
this order, a later one winning for the same destination:

1. ``--volumes-from other[:ro]`` -- the same mounts as another container;
2. ``-v SRC:DST[:OPTS]`` (HostConfig.Binds) -- SRC is a host path if it is
   absolute (a *bind mount*), otherwise the name of a volume;
3. ``--mount type=bind|volume|tmpfs,...`` (HostConfig.Mounts);
4. ``-v DST`` and the image's VOLUME (Config.Volumes) -- a new *anonymous*
   volume for each destination nothing else covers.

Each becomes a "mount point" dict in the shape of ``docker inspect``'s
``Mounts``, plus a few keys of nbdock's own (capitalised like Docker's):
``Anonymous`` (removed with the container under ``--rm``/``rm -v``),
``CopyData`` (fill an empty volume with the image's content at that path)
and ``Listed`` (shown in ``Mounts``; ``--tmpfs`` mounts are not, as in Docker).
"""

from __future__ import annotations

import os
import posixpath
from typing import Any, Callable

from ..errors import InvalidArgument
from .volumes import VolumeStore

INSPECT_KEYS = ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")


def inspect_view(mount_points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``Mounts`` array of ``docker inspect``."""
    return [{k: m[k] for k in INSPECT_KEYS if k in m} for m in mount_points if m.get("Listed", True)]


def _check_destination(destination: str, kind: str) -> str:
    if not destination.startswith("/"):
        raise InvalidArgument(f"invalid mount config for type \"{kind}\": invalid mount path: '{destination}' mount path must be absolute")
    cleaned = posixpath.normpath(destination)
    if cleaned == "/":
        raise InvalidArgument(f"invalid mount config for type \"{kind}\": invalid specification: destination can't be '/'")
    return cleaned


def _bind(source: str, destination: str, readonly: bool, mode: str, propagation: str) -> dict[str, Any]:
    return {"Type": "bind", "Source": source, "Destination": destination, "Mode": mode, "RW": not readonly,
            "Propagation": propagation or "rprivate"}


def _volume(volumes: VolumeStore, name: str, destination: str, readonly: bool, mode: str, *, copy: bool = True,
            labels: dict | None = None) -> dict[str, Any]:
    info = volumes.create(name, labels=labels, anonymous=not name)
    return {"Type": "volume", "Name": info["Name"], "Source": info["Mountpoint"], "Destination": destination,
            "Driver": "local", "Mode": mode, "RW": not readonly, "Propagation": "", "Anonymous": not name,
            "CopyData": copy}


def parse_bind(spec: str, volumes: VolumeStore) -> dict[str, Any]:
    """One ``-v`` value: "/host:/ctr[:ro]", "name:/ctr[:ro,nocopy]" or "/ctr" (anonymous)."""
    parts = spec.split(":")
    if len(parts) == 1:
        return _volume(volumes, "", _check_destination(parts[0], "volume"), False, "")
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    source, destination = parts[0], parts[1]
    options = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    unknown = [o for o in options if o not in ("ro", "rw", "z", "Z", "nocopy", *PROPAGATIONS)]
    if unknown:
        raise InvalidArgument(f"invalid mode: {parts[2]}")
    readonly = "ro" in options
    propagation = next((o for o in options if o in PROPAGATIONS), "")
    if source.startswith("/"):
        destination = _check_destination(destination, "bind")
        if not os.path.exists(source):
            os.makedirs(source, 0o755)  # -v (unlike --mount) creates a missing host directory, as Docker does
        return _bind(source, destination, readonly, parts[2] if len(parts) == 3 else "", propagation)
    destination = _check_destination(destination, "volume")
    mode = ",".join(o for o in options if o not in ("nocopy",))
    return _volume(volumes, source, destination, readonly, mode, copy="nocopy" not in options)


def parse_mount(mount: dict[str, Any], volumes: VolumeStore) -> dict[str, Any]:
    """One ``--mount`` (HostConfig.Mounts entry)."""
    kind = mount.get("Type") or "volume"
    target = mount.get("Target") or ""
    if not target:
        raise InvalidArgument(f"invalid mount config for type \"{kind}\": field Target must not be empty")
    destination = _check_destination(target, kind)
    readonly = bool(mount.get("ReadOnly"))
    source = mount.get("Source") or ""
    if kind == "bind":
        if not source:
            raise InvalidArgument('invalid mount config for type "bind": field Source must not be empty')
        if not os.path.exists(source):
            raise InvalidArgument(f'invalid mount config for type "bind": bind source path does not exist: {source}')
        propagation = (mount.get("BindOptions") or {}).get("Propagation") or ""
        return _bind(source, destination, readonly, "", propagation)
    if kind == "volume":
        options = mount.get("VolumeOptions") or {}
        return _volume(volumes, source, destination, readonly, "z", copy=not options.get("NoCopy"),
                       labels=options.get("Labels"))
    if kind == "tmpfs":
        if source:
            raise InvalidArgument('invalid mount config for type "tmpfs": field Source must not be specified')
        options = mount.get("TmpfsOptions") or {}
        data = []
        if options.get("SizeBytes"):
            data.append(f"size={options['SizeBytes']}")
        if options.get("Mode"):
            data.append(f"mode={options['Mode']:o}")
        return {"Type": "tmpfs", "Source": "", "Destination": destination, "Mode": "", "RW": not readonly,
                "Propagation": "", "TmpfsOptions": ",".join(data)}
    raise InvalidArgument(f"invalid mount config for type \"{kind}\": mount type unknown")


def plan(config: dict[str, Any], host_config: dict[str, Any], volumes: VolumeStore,
         mounts_of: Callable[[str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every mount point of a new container, in Docker's order of precedence.

    ``mounts_of(name)`` returns another container's mount points (for
    --volumes-from), raising NotFound for an unknown container.
    """
    by_destination: dict[str, dict[str, Any]] = {}
    for entry in host_config.get("VolumesFrom") or []:
        name, _, mode = entry.partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidArgument(f"invalid mode for volumes-from: {mode}")
        for point in mounts_of(name):
            copied = dict(point, Anonymous=False, CopyData=False)
            if mode:
                copied["RW"] = mode == "rw"
                copied["Mode"] = mode
            by_destination[copied["Destination"]] = copied

    explicit: dict[str, dict[str, Any]] = {}
    for spec in host_config.get("Binds") or []:
        point = parse_bind(spec, volumes)
        if point["Destination"] in explicit:
            raise InvalidArgument(f"Duplicate mount point: {point['Destination']}")
        explicit[point["Destination"]] = point
    for mount in host_config.get("Mounts") or []:
        point = parse_mount(mount, volumes)
        if point["Destination"] in explicit:
            raise InvalidArgument(f"Duplicate mount point: {point['Destination']}")
        explicit[point["Destination"]] = point
    by_destination.update(explicit)

    for destination in (config.get("Volumes") or {}):
        cleaned = _check_destination(destination, "volume")
        if cleaned not in by_destination and cleaned not in (host_config.get("Tmpfs") or {}):
            by_destination[cleaned] = _volume(volumes, "", cleaned, False, "")

    for destination, options in (host_config.get("Tmpfs") or {}).items():
        cleaned = _check_destination(destination, "tmpfs")
        by_destination[cleaned] = {"Type": "tmpfs", "Source": "", "Destination": cleaned, "Mode": "", "RW": True,
                                   "Propagation": "", "TmpfsOptions": options or "", "Listed": False}
    return sorted(by_destination.values(), key=lambda m: m["Destination"])
