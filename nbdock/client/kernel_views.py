"""nbdock's kernel views as rows: what the kernel did for a container, from the daemon's ``/nbdock/v1`` answers.

``nbdock ns``, ``cgroup``, ``trace``, ``layers`` and ``net map`` print these rows as a
terminal table, in docker's column layout (:func:`table`); the notebook's
views (:mod:`nbdock.views`) show the same rows richer.  Plain dicts and
strings: the CLI's path imports no pandas (it would cost the CLI half a
second on every command).
"""

from __future__ import annotations

import os

from nbdock.runtime.trace import describe

from .connection import Connection
from .formatting import ellipsis, human_size, tabwrite

#: ``CREATED BY`` is cut to this many characters in a terminal, as ``docker history`` cuts it.
CREATED_BY_WIDTH = 45


def namespace_rows(connection: Connection, container: str) -> list[dict]:
    """One row per namespace type: the container's inode beside the host PID 1's.

    Different inodes are what "isolated" means; the same inode means the
    container shares the host's namespace.  The user namespace's row also
    shows its uid and gid maps: "0 -> 100000 (65536 ids)" is a container
    whose root is uid 100000 on the host (``--userns-remap``).
    """
    return [{
        "type": entry["namespace"],
        "container_inode": entry["container_inode"],
        "host_inode": entry["host_inode"],
        "isolation": "isolated" if entry["isolated"] else "shared with host",
        "uid_map": id_map_text(entry.get("uid_map")),
        "gid_map": id_map_text(entry.get("gid_map")),
    } for entry in connection.container_namespaces(container)]


def id_map_text(rows) -> str:
    """[[0, 100000, 65536]] -> "0 -> 100000 (65536 ids)"; "" for a namespace that is not a user namespace."""
    return "; ".join(f"{inside} -> {outside} ({count} ids)" for inside, outside, count in rows or [])


def cgroup_rows(connection: Connection, container: str) -> tuple[dict, list[dict]]:
    """The cgroup's version and path, and one row per file that limits the container (its name in full)."""
    answer = connection.container_cgroup(container)
    rows = [{"file": name, "value": str(value).strip()} for name, value in sorted(answer.get("files", {}).items())]
    return {"version": answer.get("version"), "path": answer.get("path", "")}, rows


def trace_rows(connection: Connection, container: str) -> list[dict]:
    """The kernel operations performed for the container, in order, each as a readable call."""
    events = connection.container_trace(container)
    start = events[0]["time"] if events else 0.0
    return [{
        "t_ms": round((event["time"] - start) * 1000, 3),
        "pid": event.get("pid"),
        "kind": event.get("kind", ""),
        "call": describe(event),
    } for event in events]


def layer_rows(connection: Connection, image: str) -> list[dict]:
    """One row per layer, base first: its instruction, size, and how many files it adds, changes, deletes."""
    rows = []
    for index, layer in enumerate(connection.image_layers(image)):
        kinds = [change.get("kind") for change in layer.get("changes") or []]
        rows.append({
            "layer": index,
            "diff_id": short_digest(layer.get("diff_id")),
            "size": layer.get("size", 0),
            "created_by": layer.get("created_by", ""),
            "empty": bool(layer.get("empty_layer")),
            "added": kinds.count("A"),
            "changed": kinds.count("C"),
            "deleted": kinds.count("D"),
            "shared_with": ", ".join(layer.get("shared_with") or []),
        })
    return rows


def short_digest(digest: str | None) -> str:
    """``sha256:3f2a9c...`` -> ``3f2a9c1d0e4b`` (12 hex digits, as Docker shortens ids); "" for no digest.

    A step that made no layer (``CMD``, ``ENV``...) has ``diff_id`` null in the daemon's answer.
    """
    return (digest or "").removeprefix("sha256:")[:12]


def network_map(connection: Connection) -> tuple[dict, list[dict]]:
    """The cluster as this daemon knows it from the store: what it knows of the cluster, and one row per container.

    Every daemon knows the whole cluster (nbdock/network/overlay.py): which
    daemons are alive, which overlay networks exist, and which container is
    on which host, with its host's VTEP address.  The first dict holds this
    daemon's node name (None without ``--cluster-store``), the store, the
    nodes alive and the networks; each row one container on an overlay network.
    """
    answer = connection.network_map()
    rows = []
    for network in sorted(answer.get("networks", []), key=lambda n: n["name"]):
        for endpoint in sorted(network["endpoints"], key=lambda e: (e.get("node", ""), e.get("name", ""))):
            here = endpoint.get("node") == answer.get("node")
            rows.append({
                "network": network["name"], "vni": network["vni"], "subnet": network["subnet"],
                "host": endpoint.get("node", ""), "vtep": endpoint.get("vtep", ""), "container": endpoint.get("name", ""),
                "ip": endpoint.get("ip", ""), "mac": endpoint.get("mac", ""),
                # Only this host's own device name is known here (the others' carry their instance's tag).
                "vxlan_device": (network.get("vxlan_here") or "") if here else f"(VNI {network['vni']} there)",
            })
    about = {"node": answer.get("node"), "store": answer.get("store"), "error": answer.get("error"),
             "nodes": [n.get("node") for n in answer.get("nodes", [])],
             "networks": [n["name"] for n in answer.get("networks", [])]}
    return about, rows


# ---------------------------------------------------------------------------
# As a terminal shows them


def table(headers: dict[str, str], rows: list[dict], cells: dict | None = None) -> str:
    """Rows as docker prints a listing: upper-case headers, columns aligned with three spaces.

    ``headers`` maps a row's key to its column header, in order; ``cells``
    maps a key to how its value is written (a size made human...).  A cell
    never holds a newline or a tab (they would break the columns).
    """
    cells = cells or {}

    def cell(key: str, row: dict) -> str:
        value = cells[key](row[key]) if key in cells else row[key]
        return " ".join(("" if value is None else str(value)).split())

    lines = ["\t".join(headers.values())]
    lines += ["\t".join(cell(key, row) for key in headers) for row in rows]
    return tabwrite(lines)


NAMESPACE_HEADERS = {"type": "TYPE", "container_inode": "CONTAINER INODE", "host_inode": "HOST INODE",
                     "isolation": "ISOLATION", "uid_map": "UID MAP", "gid_map": "GID MAP"}
CGROUP_HEADERS = {"file": "FILE", "value": "VALUE"}
TRACE_HEADERS = {"t_ms": "T (MS)", "pid": "PID", "kind": "KIND", "call": "CALL"}
NETWORK_MAP_HEADERS = {"network": "NETWORK", "vni": "VNI", "subnet": "SUBNET", "host": "HOST", "vtep": "VTEP",
                       "container": "CONTAINER", "ip": "IP", "mac": "MAC", "vxlan_device": "VXLAN DEVICE"}
LAYER_HEADERS = {"layer": "LAYER", "diff_id": "DIFF ID", "size": "SIZE", "created_by": "CREATED BY",
                 "added": "ADDED", "changed": "CHANGED", "deleted": "DELETED", "shared_with": "SHARED WITH"}


def namespaces_text(connection: Connection, container: str) -> str:
    return table(NAMESPACE_HEADERS, namespace_rows(connection, container))


def cgroup_text(connection: Connection, container: str) -> str:
    """The cgroup's directory first, then each file by its name in full: the limits *are* these files.

    On cgroup v2 the files share one directory.  On v1 each controller has its own hierarchy, so
    the directories differ in one component, written as the shell's braces:
    ``/sys/fs/cgroup/{cpu,memory,pids}/nbdock/ID`` (``ls`` that, and there are the files).
    """
    where, rows = cgroup_rows(connection, container)
    directory, named = files_in_directory(rows, where["path"])
    return f"cgroup v{where['version']} in {directory}\n" + table(CGROUP_HEADERS, named)


def files_in_directory(rows: list[dict], main_path: str) -> tuple[str, list[dict]]:
    """The directory the cgroup files are in, and the rows with each file named relative to it.

    A file's whole path is some 90 characters (a 64-digit container id in
    it), and every one repeats the same directory: written once, the
    names that matter -- ``memory.max``, ``cpu.cfs_quota_us`` -- stand out
    (and no table cuts them off).  Without one pattern (``{a,b}``), the
    files' longest common directory; with no files, the cgroup's own path.
    """
    paths = [row["file"] for row in rows]
    if not paths:
        return main_path, rows
    directory = common_directory(paths)
    if directory is not None:
        return directory, [{**row, "file": os.path.basename(row["file"])} for row in rows]
    directory = os.path.commonpath(paths)
    return directory, [{**row, "file": os.path.relpath(row["file"], directory)} for row in rows]


def common_directory(paths: list[str]) -> str | None:
    """The directory the files are in, with at most one component differing (as ``{a,b}``); else None."""
    directories = sorted({os.path.dirname(path) for path in paths})
    if len(directories) <= 1:
        return directories[0] if directories else None
    split = [directory.split("/") for directory in directories]
    if len({len(parts) for parts in split}) != 1:
        return None
    differing = [index for index in range(len(split[0])) if len({parts[index] for parts in split}) > 1]
    if len(differing) != 1:
        return None
    parts, index = list(split[0]), differing[0]
    parts[index] = "{" + ",".join(sorted({parts[index] for parts in split})) + "}"
    return "/".join(parts)


def trace_text(connection: Connection, container: str) -> str:
    return table(TRACE_HEADERS, trace_rows(connection, container), {"t_ms": lambda ms: f"{ms:.3f}"})


def layers_text(connection: Connection, image: str) -> str:
    """A layer per line, as ``docker history`` shows them (base first here); an empty layer's size is 0B."""
    return table(LAYER_HEADERS, layer_rows(connection, image), {
        "size": lambda size: human_size(size),
        "created_by": lambda text: ellipsis(" ".join(text.split()), CREATED_BY_WIDTH),
    })


def network_map_text(connection: Connection) -> str:
    """This host and the cluster's live hosts, then a container per line; one sentence without a cluster store."""
    about, rows = network_map(connection)
    if about["node"] is None:
        return "this daemon has no cluster store (--cluster-store): no overlay networks\n"
    return (f"this host: {about['node']}, cluster store {about['store']}, hosts alive: {', '.join(about['nodes'])}\n"
            + table(NETWORK_MAP_HEADERS, rows))
