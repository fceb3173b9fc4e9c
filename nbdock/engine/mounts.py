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


def _absolute(destination: str) -> str:
    """A mount destination, cleaned; Docker's messages for a relative path or "/"."""
    if not destination.startswith("/"):
        raise InvalidArgument(f"invalid mount path: '{destination}' mount path must be absolute")
    cleaned = posixpath.normpath(destination)
    if cleaned == "/":
        raise InvalidArgument("invalid specification: destination can't be '/'")
    return cleaned


def _check_destination(destination: str, kind: str) -> str:
    try:
        return _absolute(destination)
    except InvalidArgument as e:
        raise InvalidArgument(f'invalid mount config for type "{kind}": {e.message}') from None


def _bind(source: str, destination: str, readonly: bool, mode: str, propagation: str) -> dict[str, Any]:
    return {"Type": "bind", "Source": source, "Destination": destination, "Mode": mode, "RW": not readonly,
            "Propagation": propagation or "rprivate"}


def _volume(name: str, destination: str, readonly: bool, mode: str, *, copy: bool = True,
            labels: dict | None = None) -> dict[str, Any]:
    """A volume mount point; its Source is filled in when the volume is made (see :func:`plan`)."""
    return {"Type": "volume", "Name": name, "Source": "", "Destination": destination, "Driver": "local", "Mode": mode,
            "RW": not readonly, "Propagation": "", "Anonymous": not name, "CopyData": copy, "Labels": labels}


def parse_bind(spec: str) -> dict[str, Any]:
    """One ``-v`` value: "/host:/ctr[:ro]", "name:/ctr[:ro,nocopy]" or "/ctr" (anonymous).

    The rules and messages are moby's (volume/mounts/linux_parser.go): a
    mode alone after one path is no volume ("/data:ro"), and whatever is
    wrong with the paths is reported under "invalid volume specification".
    """
    parts = spec.split(":")
    if len(parts) > 3 or (len(parts) == 2 and _valid_mode(parts[1])):
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    mode = parts[2] if len(parts) == 3 else ""
    if not _valid_mode(mode):
        raise InvalidArgument(f"invalid mode: {mode}")
    options = mode.split(",") if mode else []
    readonly = "ro" in options
    try:
        if len(parts) == 1:
            return _volume("", _check_destination(parts[0], "volume"), False, "")
        source, destination = parts[0], parts[1]
        if source.startswith("/"):
            propagation = next((o for o in options if o in PROPAGATIONS), "")
            return _bind(source, _check_destination(destination, "bind"), readonly, mode, propagation)
        return _volume(source, _check_destination(destination, "volume"), readonly,
                       ",".join(o for o in options if o != "nocopy"), copy="nocopy" not in options)
    except InvalidArgument as e:
        raise InvalidArgument(f"invalid volume specification: '{spec}': {e.message}") from None


def _valid_mode(mode: str) -> bool:
    """Docker's linuxValidMountMode: at most one of rw/ro, one propagation, one of nocopy... ("" is valid)."""
    if not mode:
        return True
    options = mode.split(",")
    groups = (("rw", "ro"), PROPAGATIONS, ("nocopy",), ("z", "Z"))
    known = {o for group in groups for o in group}
    return all(o in known for o in options) and all(sum(o in group for o in options) <= 1 for group in groups)


def parse_mount(mount: dict[str, Any]) -> dict[str, Any]:
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
        return _volume(source, destination, readonly, "z", copy=not options.get("NoCopy"), labels=options.get("Labels"))
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
    --volumes-from), raising InvalidArgument for an unknown container.
    Everything is checked before anything is made on the host, and the
    volumes made are removed again if making one fails: a refused
    ``docker create`` leaves nothing behind.
    """
    by_destination: dict[str, dict[str, Any]] = {}
    for entry in host_config.get("VolumesFrom") or []:
        name, _, mode = entry.partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidArgument(f"invalid mode for volumes-from: {mode}")
        for point in mounts_of(name):
            # The same volume, anonymous if it was (rm -v of the last user removes it, as in Docker).
            copied = dict(point, CopyData=False)
            if mode:
                copied["RW"] = mode == "rw"
                copied["Mode"] = mode
            by_destination[copied["Destination"]] = copied

    explicit: dict[str, dict[str, Any]] = {}
    requested = [parse_bind(spec) for spec in host_config.get("Binds") or []]
    requested += [parse_mount(mount) for mount in host_config.get("Mounts") or []]
    for point in requested:
        if point["Destination"] in explicit:
            raise InvalidArgument(f"Duplicate mount point: {point['Destination']}")
        explicit[point["Destination"]] = point
    by_destination.update(explicit)

    tmpfs = {_absolute(destination): options for destination, options in (host_config.get("Tmpfs") or {}).items()}
    for destination in (config.get("Volumes") or {}):
        cleaned = _check_destination(destination, "volume")
        if cleaned not in by_destination and cleaned not in tmpfs:
            by_destination[cleaned] = _volume("", cleaned, False, "")
    for destination, options in tmpfs.items():
        by_destination[destination] = {"Type": "tmpfs", "Source": "", "Destination": destination, "Mode": "", "RW": True,
                                       "Propagation": "", "TmpfsOptions": options or "", "Listed": False}
    points = sorted(by_destination.values(), key=lambda m: m["Destination"])
    _make_sources(points, volumes)
    return points


def _make_sources(points: list[dict[str, Any]], volumes: VolumeStore) -> None:
    """Make the new volumes (and the missing host directories of ``-v`` binds) the mount points need."""
    made: list[str] = []
    try:
        for point in points:
            if point["Type"] == "volume" and not point["Source"]:
                existed = bool(point["Name"]) and volumes.exists(point["Name"])
                info = volumes.create(point["Name"], labels=point.pop("Labels"), anonymous=point["Anonymous"])
                point["Name"], point["Source"] = info["Name"], info["Mountpoint"]
                if not existed:
                    made.append(info["Name"])
            elif point["Type"] == "bind" and not os.path.exists(point["Source"]):
                os.makedirs(point["Source"], 0o755)  # only -v gets here: --mount refuses a missing source
    except BaseException:
        for name in made:
            volumes.remove(name, users=[])
        raise
