"""The teaching views' data, as pandas DataFrames: what the kernel did for a container.

Each function asks the daemon one of nbdock's own endpoints
(``/nbdock/v1/...``) and arranges the answer as a table.  The notebook
shows these tables (and draws from them); the CLI prints them as text.
"""

from __future__ import annotations

import pandas

from nbdock.client import kernel_views
from nbdock.client.connection import Connection
from nbdock.runtime.trace import describe


def namespaces_frame(connection: Connection, container: str) -> pandas.DataFrame:
    """One row per namespace type.

    Every process points at one namespace of each type; ``/proc/PID/ns/net``
    is a link whose inode number names it.  The container's process and the
    host's PID 1 having *different* inodes is what "isolated" means; the
    same inode means the container shares the host's namespace.

    The user namespace's row also shows its uid and gid maps: "0 -> 100000
    (65536 ids)" is a container whose root is uid 100000 on the host
    (``--userns-remap``); "0 -> 0 (4294967295 ids)" is the host's own
    numbering, nothing translated.
    """
    rows = [{
        "type": entry["namespace"],
        "container_inode": entry["container_inode"],
        "host_inode": entry["host_inode"],
        "isolation": "isolated" if entry["isolated"] else "shared with host",
        "uid_map": _id_map_text(entry.get("uid_map")),
        "gid_map": _id_map_text(entry.get("gid_map")),
    } for entry in connection.container_namespaces(container)]
    return pandas.DataFrame(rows, columns=["type", "container_inode", "host_inode", "isolation", "uid_map", "gid_map"])


def _id_map_text(rows) -> str:
    """[[0, 100000, 65536]] -> "0 -> 100000 (65536 ids)"; "" for a namespace that is not a user namespace."""
    return "; ".join(f"{inside} -> {outside} ({count} ids)" for inside, outside, count in rows or [])


def cgroup_frame(connection: Connection, container: str) -> pandas.DataFrame:
    """The cgroup files that limit the container, by name, and their values.

    The files' directory is written once, in ``attrs["directory"]`` (on v1,
    where each controller has its own hierarchy, as the shell's braces:
    ``/sys/fs/cgroup/{cpu,memory}/nbdock/ID``), so that the ``file`` column
    holds the names -- ``memory.limit_in_bytes``, ``memory.max`` -- in full,
    not the first 50 characters of a long path (pandas cuts a cell there).
    ``attrs["paths"]`` maps each name to its whole path, to open the file;
    ``attrs`` also hold the cgroup version and main path.
    """
    where, rows = kernel_views.cgroup_rows(connection, container)
    directory, named = kernel_views.files_in_directory(rows, where["path"])
    frame = pandas.DataFrame(named, columns=["file", "value"])
    frame.attrs.update(version=where["version"], path=where["path"], directory=directory,
                       paths={short["file"]: row["file"] for short, row in zip(named, rows)})
    return frame


def trace_frame(connection: Connection, container: str) -> pandas.DataFrame:
    """The kernel operations performed for the container, in order, each as a readable call."""
    events = connection.container_trace(container)
    start = events[0]["time"] if events else 0.0
    rows = [{
        "t_ms": round((event["time"] - start) * 1000, 3),
        "pid": event.get("pid"),
        "kind": event.get("kind", ""),
        "call": describe(event),
    } for event in events]
    return pandas.DataFrame(rows, columns=["t_ms", "pid", "kind", "call"])


def layers_frame(connection: Connection, image: str) -> pandas.DataFrame:
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
    columns = ["layer", "diff_id", "size", "created_by", "empty", "added", "changed", "deleted", "shared_with"]
    return pandas.DataFrame(rows, columns=columns)


def short_digest(digest: str | None) -> str:
    """``sha256:3f2a9c...`` -> ``3f2a9c1d0e4b`` (12 hex digits, as Docker shortens ids); "" for no digest.

    A step that made no layer (``CMD``, ``ENV``...) has ``diff_id`` null in the daemon's answer.
    """
    return (digest or "").removeprefix("sha256:")[:12]
